#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Scheduled backups (systemd/qzfs-scheduled-backup, what the timer's service runs) through qzfs on
# the model (QZFS_BACKEND=model:DIR) or real ZFS: a configuration it refuses does nothing; a
# good one backs the VMs up, incrementally the next time, a new chain once FULL_EVERY_DAYS have
# passed, pruned to KEEP_LAST, verified with VERIFY=all; a failed create prunes nothing.
#   tests/cli/scheduled.sh ZPOOL     (qzfs and qzfs-backup-store in PATH)
set -u
Z=${1:?zpool}
. "$(dirname "$0")/../vm/tap.sh"
RUN=$(cd "$(dirname "$0")/../.." && pwd)/systemd/qzfs-scheduled-backup
# where no Qubes runs, a stand-in answers for the Admin API (tests/qubes: the real one)
export QZFS_QUBE_SETTINGS=$(cd "$(dirname "$0")" && pwd)/qube-settings-standin
echo "1..29"
W=$(mktemp -d /tmp/qzfs-scheduled.XXXXXX)
mkdir -p "$W/store" "$W/state"
R=$Z/sched; V=$R/sched-work/private
changed() { # new bytes in the volume, committed as its VM's stop does
    qzfs volume start $V --save-on-stop >/dev/null
    head -c 65536 /dev/urandom | devdd of="$(dev $V)" bs=64k conv=notrunc,fsync
    qzfs volume stop $V --save-on-stop >/dev/null
}
records() { ls "$W"/state/targets/* | grep -c '\.rec$'; }
conf() { printf '%s\n' "$@" >"$W/conf"; }
good=("TARGET=dir:$W/store" "KEY_FILE=$W/key" "STATE=$W/state" 'VMS="sched-work"')
qzfs pool setup $R sched >/dev/null
qzfs volume create $V --save-on-stop --size 1048576
changed
qzfs backup keygen "$W/key" >/dev/null

refused() { # "description" "pattern of the reason" CONF-LINES...
    local what=$1 why=$2; shift 2
    conf "$@"
    check "$what is refused" 2 "$RUN" "$W/conf"
    n=$((n + 1))
    if grep -q -- "$why" "$TAP_ERR" && [ "$(records)" = 0 ]; then echo "ok $n - ... saying so, nothing done"
    else echo "not ok $n - ... saying so, nothing done: $(head -c 300 "$TAP_ERR"), $(records) records"; fi
}
check "no configuration is refused" 2 "$RUN" "$W/none"
refused "a line that is not KEY=VALUE" "line 2 is not KEY=VALUE" "${good[@]:0:1}" "rm -rf /" "${good[@]:1}"
refused "an unknown setting" "no such setting: KEEP" "${good[@]}" "KEEP=3"
refused "a setting given twice" "VMS is set twice" "${good[@]}" "VMS=other"
refused "a sealed backup with no key" "KEY_FILE must be set" "TARGET=dir:$W/store" "VMS=sched-work"
refused "a key for a ZFS target with nowhere to seal dom0's records" "needs SEALED_TARGET" "KIND=zfs" "${good[@]}"
refused "a sealed store for sealed backups" "SEALED_TARGET is for KIND=zfs" "${good[@]}" "SEALED_TARGET=dir:$W/s"
refused "a VM name that is an option" "'--full' is no VM name" "${good[@]:0:3}" 'VMS="sched-work --full"'
refused "a retention that is no number" "KEEP_LAST is a whole number" "${good[@]}" "KEEP_LAST=-1"

conf "# daily" "${good[@]}" "FULL_EVERY_DAYS=7" "KEEP_LAST=1" "VERIFY=all"
check "a good configuration backs the VM up" 0 "$RUN" "$W/conf"
want_out "... verified (VERIFY=all)" "whole, [0-9]* bytes verified"
check "... recorded" 0 test "$(qzfs backup list --state "$W/state" | grep -c " $V full ")" = 1
check "... with the VM's settings" 0 test "$(qzfs backup list --state "$W/state" | grep -c " qube:sched-work settings ")" = 1
changed
check "the next run" 0 "$RUN" "$W/conf"
check "... makes an incremental backup" 0 test "$(qzfs backup list --state "$W/state" | grep -c " $V incremental ")" = 1
first=$(qzfs backup list --state "$W/state" | grep " $V full " | cut -d' ' -f1)
sed -i "s/^created .*/created $(($(date +%s) - 8 * 86400))/" "$W"/state/targets/*/"$first.rec"
changed
check "a run 8 days into the chain (FULL_EVERY_DAYS=7)" 0 "$RUN" "$W/conf"
check "... begins a new chain and prunes the old one (KEEP_LAST=1)" 0 test "$(qzfs backup list --state "$W/state" | grep " $V " | cut -d' ' -f3 | tr '\n' ' ')" = "full "
check "... which restores" 0 qzfs backup restore --target dir:$W/store --state $W/state --key-file $W/key --to $Z/schedr --volume $V
check "... with the bytes written last" 0 test "$(zvolsum $Z/schedr)" = "$(volsum $V)"
# a new chain by hand: KEEP_LAST=1 would let the one before go, but not after a failed backup
qzfs backup create --target dir:$W/store --state $W/state --key-file $W/key --full $V >/dev/null
changed
conf "${good[@]:0:3}" 'VMS="sched-work gone"' "FULL_EVERY_DAYS=7" "KEEP_LAST=1"
before=$(ls "$W"/state/targets/*/*.rec)
check "a run naming a VM that is gone fails" 2 "$RUN" "$W/conf"
check "... and prunes nothing" 0 ls $before
rm -rf "$W"
