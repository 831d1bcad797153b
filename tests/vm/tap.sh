# SPDX-License-Identifier: BSD-2-Clause
# TAP helpers for the shell tests that run in the test VM (sourced).
n=0
# each script its own file for the last command's stderr: the VM runs two lanes of scripts at once
TAP_ERR=$(mktemp /tmp/tap-err.XXXXXX)
trap 'rm -f "$TAP_ERR" "$TAP_ERR.dev"' EXIT
# A zvol's open fails with ERESTARTSYS ("Unknown error 512") when ZFS waited about a second for a
# contended pool lock (OpenZFS 2.1 on Linux 5.13+; the emulated VM is slow enough to hit it). qzfs
# retries such opens itself; the tests' own reads and writes of devices do it with these two.
retry_open() { # COMMAND...: run it again (up to 30 times) while it fails only for that reason
    local i rc
    for i in $(seq 30); do
        "$@" 2>"$TAP_ERR.dev" && return 0
        rc=$?
        grep -q 'Unknown error 512' "$TAP_ERR.dev" || { cat "$TAP_ERR.dev" >&2; return $rc; }
        sleep 0.3
    done
    cat "$TAP_ERR.dev" >&2
    return $rc
}
devread() { # DEVICE [BYTES]: its bytes (the first BYTES) on stdout
    if [ $# -gt 1 ]; then retry_open head -c "$2" "$1"; else retry_open cat "$1"; fi
}
devdd() { retry_open dd status=none "$@"; } # dd ARGS..., of a device
flip_byte() { # FILE OFFSET: inverts that byte's bits, so the file surely changes (setting a
    # byte of ciphertext to a fixed value leaves it as it was once in 256 runs)
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    [ -n "$b" ] || { echo "flip_byte: $1 has no byte $2" >&2; return 1; }
    printf "\\$(printf '%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# The device qzfs gives: udev's link, or the kernel's node when the link is slow to come (udev
# in the emulated VM, behind on another lane's volumes, has taken more than the 10 s qzfs waits).
dev() { qzfs volume device "$1" | cut -d' ' -f2; } # of a Qubes volume
zvoldev() { qzfs device "$1" | cut -d' ' -f2; }    # of a plain zvol
# DEVICE: its bytes' hash; for a read that fails, a word no other call prints (sha256sum of what
# a failed read gave is the empty input's hash, so two failed reads would compare equal)
devsum() {
    local h
    if h=$(set -o pipefail; devread "$1" | sha256sum); then echo "${h%% *}"; else
        echo "unreadable:$1:$BASHPID:$RANDOM$RANDOM"; fi
}
volsum() { devsum "$(dev "$1")"; }      # a Qubes volume's bytes' hash
zvolsum() { devsum "$(zvoldev "$1")"; } # a plain zvol's
check() { # check "description" expected-exit command...
    local what=$1 want=$2; shift 2
    n=$((n + 1))
    out=$("$@" 2>"$TAP_ERR"); rc=$?
    if [ "$rc" = "$want" ]; then echo "ok $n - $what"; else
        echo "not ok $n - $what: exit $rc, wanted $want: $(head -c 300 "$TAP_ERR")"; fi
}
skip() { # skip COUNT REASON: that many checks that do not run here, said so
    local i
    for i in $(seq "$1"); do
        n=$((n + 1))
        echo "ok $n # SKIP $2"
    done
}
want_out() { # want_out "description" pattern (matches the last command's stdout)
    n=$((n + 1))
    if printf '%s' "$out" | grep -q -- "$2"; then echo "ok $n - $1"; else
        echo "not ok $n - $1: output was: $(printf '%s' "$out" | head -c 300)"; fi
}
