#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# qzfs volume batch: a VM's volumes created, verified, started, stopped and removed in one run
# (what the driver sends when qubesd asks for all of them at once); each does what its own
# command does, a failure stops none of the others and is answered in its place, a malformed
# batch changes nothing, and batches over the same volumes never deadlock. TAP.
#   tests/cli/batch.sh ZPOOL     (qzfs in PATH; on the model with QZFS_BACKEND=model:DIR)
set -u
Z=${1:?zpool}
. "$(dirname "$0")/../vm/tap.sh"
echo "1..40"
W=$(mktemp -d /tmp/qzfs-batch.XXXXXX)
export QZFS_LOCK_DIR=$W/locks
R=$Z/batch; T=$R/tpl; A=$R/work
qzfs pool setup $R batch >/dev/null
A1=$(head -c 4096 /dev/urandom | sha256sum | cut -c1-16)
count() { # PATTERN [TEXT]: how many times TEXT (the last command's output) has it
    printf '%s' "${2-$out}" | grep -o -- "$1" | wc -l
}
calls() { # CALL: how many times the profiled runs since the last `profiled` made that ZFS call
    awk -v p="zfs $1" '{ split($0, a, "|"); split(a[2], f, " ") }
        f[1] " " f[2] == p { n += f[3] } END { print n + 0 }' "$W/profile"
}
profiled() { # COMMAND...: runs it with QZFS_PROFILE, the profile emptied first
    : >"$W/profile"
    QZFS_PROFILE=$W/profile "$@"
}

check "a template's volumes made in one run" 0 qzfs --json volume batch \
    create $T/root --size 1M --save-on-stop + create $T/private --size 1M --save-on-stop
check "... both answered" 0 test "$(count '"exists":true')" = 2
check "... and started in one" 0 qzfs --json volume batch \
    start $T/root --save-on-stop + start $T/private --save-on-stop
check "... each with its device" 0 test "$(count '"device":')" = 2
printf '%s' "$A1" | devdd of="$(dev $T/root)" conv=notrunc
check "... stopped in one: the root's new state committed" 0 qzfs volume batch \
    stop $T/root --save-on-stop + stop $T/private --save-on-stop
check "an AppVM made" 0 qzfs volume batch create $A/private --size 1M --save-on-stop + \
    create $A/root --snap-on-start --source $T/root + create $A/volatile --size 1M
start_app=(start $A/root --snap-on-start --source $T/root + start $A/private --save-on-stop +
    start $A/volatile --size 1M)
check "... verified in one run" 0 qzfs volume batch verify $A/root --snap-on-start \
    --source $T/root + verify $A/private --save-on-stop + verify $A/volatile --size 1M
check "... started in one" 0 qzfs --json volume batch "${start_app[@]}"
check "... three answers, in the order asked" 0 sh -c "printf '%s' '$out' |
    grep -q '\"name\":\"$A/root\".*\"name\":\"$A/private\".*\"name\":\"$A/volatile\"'"
check "... its root has the template's committed state" 0 test \
    "$(devread "$(dev $A/root)" 16)" = "$A1"
stop_app=(stop $A/root --snap-on-start --source $T/root + stop $A/private --save-on-stop +
    stop $A/volatile --size 1M)
# one transaction group per kind of change: the commits in one snapshot call, then the marker
# and the thrown-away root and volatile volumes in one destroy_all call
check "the AppVM stopped in one run" 0 profiled qzfs --json volume batch "${stop_app[@]}"
stopped=$out
check "... its commit in one snapshot call" 0 test "$(calls snapshot)" = 1
check "... all it drops in one destroy call" 0 test "$(calls destroy_all)" = 1 \
    -a "$(calls destroy)" = 0 -a "$(calls destroy_snaps)" = 0
# the private volume's new state follows from the listing before and the stop's own changes
check "... listing once, before" 0 test "$(calls list)" = 1
check "... its private's answer is what a listing finds after" 0 test \
    "$(printf '%s' "$stopped" | grep -o "{\"name\":\"$A/private\"[^}]*}[^}]*}" |
        sed 's/"usage":[0-9]*,//')" = \
    "$(qzfs --json volume info $A/private --save-on-stop | sed 's/"usage":[0-9]*,//')"
check "... its root and volatile volumes are gone" 0 sh -c \
    "qzfs --json list $R | grep -c '\"$A/\(root\|volatile\)\"' | grep -qx 0"
check "... started again in one run (as the driver asks)" 0 profiled qzfs --json volume \
    batch "${start_app[@]}"
started=$out
check "... its markers in one snapshot call, with no destroy" 0 test "$(calls snapshot)" = 1 \
    -a "$(calls destroy_all)" = 0 -a "$(calls destroy)" = 0
# listings: the VM's datasets before, its template's once; the states after follow from them,
# the start's own changes and, for the root and volatile volumes it made, their size and usage
check "... listing twice: the VM's volumes and its template's" 0 test "$(calls list)" = 2 \
    -a "$(calls get_prop)" -le 6
for v in root private volatile; do
    cfg=$(printf '%s\n' "${start_app[@]}" | grep -A3 -x "$A/$v" | tail -n +2 | sed '/^[+]$/,$d')
    check "... its $v's answer is what a listing finds after" 0 test \
        "$(printf '%s' "$started" | grep -o "{\"name\":\"$A/$v\"[^}]*}[^}]*}" |
            sed 's/,"device":"[^"]*"//')" = "$(qzfs --json volume info $A/$v $cfg)"
done
check "a malformed batch is refused" 2 qzfs volume batch "${stop_app[@]}" + frob $A/root
check "... before anything is done: the VM's volumes still run" 0 sh -c \
    "qzfs --json volume info $A/private --save-on-stop | grep -q '\"dirty\":true'"
check "a failure in a batch" 3 qzfs --json volume batch "${stop_app[@]}" + \
    start $R/none/private --save-on-stop
failed=$out
check "... is answered in its place, with its exit code" 0 sh -c "printf '%s' '$out' |
    grep -q '\"name\":\"$R/none/private\",\"error\":\"[^\"]*does not exist[^\"]*\",\"exit\":3'"
check "... and stops none of the others" 0 test "$(count '"exists":false' "$failed")" = 2 \
    -a "$(count '"exists":true' "$failed")" = 1
check "... the saved one committed" 0 sh -c \
    "qzfs --json volume info $A/private --save-on-stop | grep -q '\"dirty\":false'"
check "a batch of stops of a halted VM does nothing, and says so" 0 qzfs volume batch \
    "${stop_app[@]}"
check "one volume twice in a batch: its lock taken once" 0 timeout 120 qzfs volume batch \
    verify $A/private --save-on-stop + verify $A/private --save-on-stop
# two batches over the same volumes, named in opposite orders, at once: locks are taken in
# the order of names, so neither waits for the other for ever
timeout 300 qzfs volume batch "${start_app[@]}" >/dev/null 2>"$W/one" &
one=$!
check "batches over the same volumes at once, opposite orders" 0 timeout 300 qzfs volume \
    batch start $A/volatile --size 1M + start $A/private --save-on-stop + \
    start $A/root --snap-on-start --source $T/root
wait $one
check "... both end" 0 test $? = 0
# the template removed while its AppVM runs: the root's state the AppVM's root was cloned from
# is parked, and goes with the AppVM
check "a template removed in one run while its AppVM runs" 0 qzfs volume batch \
    remove $T/root + remove $T/private
check "... the template is gone" 0 sh -c "! qzfs --json list $R | grep -q '\"$T'"
check "... the AppVM's root still reads its state" 0 test "$(devread "$(dev $A/root)" 16)" = "$A1"
qzfs volume batch "${stop_app[@]}" >/dev/null
qzfs volume start $A/private --save-on-stop >/dev/null
check "a removal with one volume started" 5 qzfs --json volume batch remove $A/root + \
    remove $A/private + remove $A/volatile
failed=$out
check "... that one refused, saying why" 0 sh -c "printf '%s' '$out' |
    grep -q '\"name\":\"$A/private\",\"error\":\"[^\"]*is started: stop its VM first\",\"exit\":5'"
check "... the others removed" 0 test "$(count '"exists":false' "$failed")" = 2
qzfs volume stop $A/private --save-on-stop >/dev/null
check "... and it, once stopped" 0 qzfs volume batch remove $A/private
check "nothing of either is left, not even in the trash" 0 sh -c \
    "! qzfs --json list $R | grep -q '\"$R/\(tpl\|work\|.trash/\)'"
rm -rf "$W"
