#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# qzfs parses its command line as Unix tools do (getopt_long): options anywhere, --json too,
# --name=VALUE, `qzfs COMMAND --help`, an unknown option or a missing value named; and the lock
# a volume command takes is its volume's wherever the options are; the state a command that
# leaves its volume gone answers with (without a listing) is what `info` finds. TAP.
#   tests/cli/options.sh ZPOOL     (qzfs in PATH; on the model with QZFS_BACKEND=model:DIR)
set -u
Z=${1:?zpool}
. "$(dirname "$0")/../vm/tap.sh"
echo "1..23"
W=$(mktemp -d /tmp/qzfs-options.XXXXXX)
export QZFS_LOCK_DIR=$W/locks
R=$Z/opts; V=$R/vm/private
qzfs pool setup $R opts >/dev/null
check "options after the volume, --size=VALUE" 0 qzfs volume create $V --size=1M --save-on-stop
check "--json at the end" 0 qzfs volume info $V --save-on-stop --json
want_out "... gives JSON" '^{"name":"'"$V"'"'
check "a command's own help" 0 qzfs volume start --help
want_out "... its usage" "usage: qzfs volume start VOL"
check "... with what CONFIG is" 0 sh -c "qzfs volume start --help | grep -q -- --revisions-to-keep"
check "an unknown option is refused" 2 qzfs volume info $V --bogus
cp "$TAP_ERR" "$W/err"
check "... by name" 0 grep -q "unknown option --bogus" "$W/err"
check "a missing value is named" 2 qzfs volume info $V --size
cp "$TAP_ERR" "$W/err"
check "... by its option" 0 grep -q -- "--size needs a value" "$W/err"
locks=$(ls "$QZFS_LOCK_DIR" | wc -l) # the volume's, and the model's store's on the model
check "options before the volume: the volume is what is locked" 0 qzfs volume start --save-on-stop $V
check "... the lock file create took, no other" 0 test "$(ls "$QZFS_LOCK_DIR" | wc -l)" = "$locks"
qzfs backup keygen "$W/key" >/dev/null
mkdir -p "$W/store"
check "backup options after the volume" 0 qzfs backup create $V --target dir:$W/store --state $W/state --key-file $W/key
check "... and --json anywhere in a group's command" 0 sh -c "qzfs backup list --state $W/state --json | grep -q '\"backups\"'"
qzfs volume stop $V --save-on-stop >/dev/null

# stop of a volume whose data is thrown away, and remove: the answer, made without a listing,
# is the state info finds afterwards
VV=$R/vm/volatile
qzfs volume start $VV --size 1M >/dev/null
check "a volatile volume's stop answers with its state" 0 qzfs --json volume stop $VV --size 1M
stopped=$out
check "... which is what info finds" 0 qzfs --json volume info $VV --size 1M
check "... the same, field for field" 0 test "$stopped" = "$out"
qzfs volume create $R/vm/gone --size 1M --save-on-stop >/dev/null
qzfs volume start $R/vm/gone --size 1M --save-on-stop >/dev/null
qzfs volume stop $R/vm/gone --size 1M --save-on-stop >/dev/null
removed=$(qzfs --json volume remove $R/vm/gone --size 1M --save-on-stop)
check "remove answers with what info finds afterwards" 0 \
    test "$removed" = "$(qzfs --json volume info $R/vm/gone --size 1M --save-on-stop)"

# bash completion, from qzfs's own help
. "$(dirname "$0")/../../completion/qzfs.bash"
completes() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _qzfs; echo "${COMPREPLY[*]}"; }
check "completion: a group" 0 test "$(completes qzfs vol)" = volume
check "... its commands" 0 test "$(completes qzfs volume st)" = "start stop"
check "... a command's options" 0 test "$(completes qzfs volume start $V --sa)" = --save-on-stop
check "... a three-word command" 0 test "$(completes qzfs backup zfs r)" = restore
check "... --json everywhere" 0 test "$(completes qzfs key load --js)" = --json
rm -rf "$W"
