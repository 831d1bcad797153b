#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# qzfs end to end on real ZFS (runs in the test VM): results, JSON, errors and exit codes. TAP.
set -u
POOL=${1:?pool}
. "$(dirname "$0")/tap.sh"
echo "1..22"
B=$POOL/cli
zfs create -o mountpoint=none $B
check "qzfs --version" 0 qzfs --version
want_out "version printed" "^qzfs [0-9]"
check "create a 64M volume" 0 qzfs create $B/vol 64M volmode=dev
check "device of a new volume" 0 qzfs device $B/vol
want_out "device prints udev's link or the kernel's node" "^device \(/dev/zvol/$B/vol\|/dev/zd[0-9]*\)$"
vol=${out#device }
check "write to the volume's device" 0 devdd if=/dev/urandom of="$vol" bs=1M count=4 conv=fsync
sum=$(devread "$vol" 4M | sha256sum)
check "snapshot" 0 qzfs snapshot $B/vol@one
check "clone" 0 qzfs --json clone $B/vol@one $B/copy
want_out "clone reports JSON" "\"cloned\":\"$B/copy\""
n=$((n + 1)); [ "$(devread "$(zvoldev $B/copy)" 4M | sha256sum)" = "$sum" ] &&
    echo "ok $n - the clone holds the snapshot's data" || echo "not ok $n - clone data differs"
check "list --json" 0 qzfs --json list $B
want_out "list shows the clone's origin" "\"origin\":\"$B/vol@one\""
check "create again: exists" 4 qzfs create $B/vol 64M
check "bad size: usage" 2 qzfs create $B/x 12Q
check "missing parent: not found" 3 qzfs create $B/no/x 1M
check "destroy a snapshot with a clone: exists" 4 qzfs destroy $B/vol@one
check "destroy clone, snapshot, volume" 0 qzfs destroy $B/copy $B/vol@one $B/vol
check "destroy a pool root is refused" 2 qzfs destroy $POOL
check "unknown command" 2 qzfs frobnicate
check "device of a missing volume: not found" 3 qzfs device $B/none
check "device of a filesystem: not a volume" 1 qzfs device $POOL
n=$((n + 1)); [ "$(zfs list -H -r -o name $B | wc -l)" = 1 ] &&
    echo "ok $n - nothing left behind" || echo "not ok $n - leftovers: $(zfs list -H -r -o name $B | tr '\n' ' ')"
zfs destroy -r $B
