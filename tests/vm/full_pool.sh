#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A full pool on real ZFS (runs in the test VM, on the spare disk): when the VMs' writes have
# filled the zpool, every qzfs operation either still works (ZFS keeps some slop space for
# itself) or fails with exit 8 and a message saying the pool is full; nothing half-made stays
# behind, and committed data survives. TAP.
set -u
DISK=${1:?spare disk}
HERE=$(cd "$(dirname "$0")" && pwd)
export QZFS_LOCK_DIR=/tmp/qzfs-locks
. "$HERE/tap.sh"
echo "1..10"
R=qzf/qubes
SAVE="--save-on-stop --size 1G"
APP="--snap-on-start --source $R/tpl/root"
check "a pool on a small zpool" 0 qzfs pool setup $R full --block-devices $DISK
check "a template root" 0 sh -c "qzfs volume create $R/tpl/root $SAVE && qzfs volume start $R/tpl/root $SAVE"
dev=$(dev $R/tpl/root)
devdd if=/dev/urandom of="$dev" bs=1M count=8 conv=fsync
check "committed" 0 qzfs volume stop $R/tpl/root $SAVE
sum0=$(devread "$(dev $R/tpl/root)" 8M | sha256sum)
check "a private volume" 0 sh -c "qzfs volume create $R/work/private $SAVE && qzfs volume start $R/work/private $SAVE"
dev=$(dev $R/work/private)
check "the VM fills the zpool (its writes fail)" 1 devdd if=/dev/urandom of="$dev" bs=1M conv=fsync
full_ok() { # runs a qzfs command: exit 0, or exit 8 saying the pool is full
    "$@" 2>/tmp/full.err; rc=$?
    [ $rc -eq 0 ] && return 0
    [ $rc -eq 8 ] && grep -qi "space\|full" /tmp/full.err && return 0
    echo "exit $rc: $(cat /tmp/full.err)" >&2; return 1
}
check "stop (commit) on a full pool: done, or a clear error" 0 full_ok qzfs volume stop $R/work/private $SAVE
check "an AppVM start on a full pool: done, or a clear error" 0 full_ok qzfs volume start $R/app/root $APP
check "a new volume on a full pool: done, or a clear error" 0 full_ok qzfs volume create $R/new/private $SAVE
check "nothing half-made: no transient datasets" 1 sh -c "zfs list -H -o name -r -t all $R | grep -E ':(prep|new|import|export)'"
check "the template's committed data survived" 0 test "$(devread "$(dev $R/tpl/root)" 8M | sha256sum)" = "$sum0"
zpool destroy qzf
