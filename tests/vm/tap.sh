# TAP helpers for the shell tests that run in the test VM (sourced).
n=0
# each script its own file for the last command's stderr: the VM runs two lanes of scripts at once
TAP_ERR=$(mktemp /tmp/tap-err.XXXXXX)
trap 'rm -f "$TAP_ERR"' EXIT
check() { # check "description" expected-exit command...
    local what=$1 want=$2; shift 2
    n=$((n + 1))
    out=$("$@" 2>"$TAP_ERR"); rc=$?
    if [ "$rc" = "$want" ]; then echo "ok $n - $what"; else
        echo "not ok $n - $what: exit $rc, wanted $want: $(head -c 300 "$TAP_ERR")"; fi
}
want_out() { # want_out "description" pattern (matches the last command's stdout)
    n=$((n + 1))
    if printf '%s' "$out" | grep -q -- "$2"; then echo "ok $n - $1"; else
        echo "not ok $n - $1: output was: $(printf '%s' "$out" | head -c 300)"; fi
}
