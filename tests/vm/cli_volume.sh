#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# qzfs pool/volume commands end to end on real ZFS (runs in the test VM), as the Python driver
# will call them: JSON out, exit codes, a crash mid-stop and its recovery. TAP.
set -u
POOL=${1:?pool}
export QZFS_LOCK_DIR=/tmp/qzfs-locks
. "$(dirname "$0")/tap.sh"
echo "1..33"
R=$POOL/qubes
V=$R/work/private
CFG="--save-on-stop --revisions-to-keep 2 --size 16M"
check "pool setup" 0 qzfs pool setup $R mypool
check "pool setup again" 0 qzfs pool setup $R mypool
check "pool setup under another name" 4 qzfs pool setup $R otherpool
check "volume create" 0 qzfs volume create $V $CFG
check "volume start" 0 qzfs volume start $V $CFG
check "volume device" 0 qzfs --json volume device $V
want_out "device path in JSON" "\"path\":\"\(/dev/zvol/$V\|/dev/zd[0-9]*\)\""
dev=$(printf '%s' "$out" | sed 's/.*"path":"\([^"]*\)".*/\1/')
check "the VM writes" 0 devdd if=/dev/urandom of="$dev" bs=1M count=2 conv=fsync
sum=$(devread "$dev" 2M | sha256sum)
check "revert while started: busy" 5 qzfs volume revert $V
check "info while started" 0 qzfs --json volume info $V $CFG
want_out "dirty while started" '"dirty":true'
check "stop, crashing after the commit" 86 env QZFS_CRASH_AT=1 qzfs volume stop $V $CFG
check "stop again recovers" 0 qzfs volume stop $V $CFG
check "info after stop" 0 qzfs --json volume info $V $CFG
want_out "clean, one revision" '"dirty":false.*"revisions":{"r1":"[0-9T:-]*"}'
n=$((n + 1)); [ "$(devread "$dev" 2M | sha256sum)" = "$sum" ] &&
    echo "ok $n - the committed data is what the VM wrote" || echo "not ok $n - data differs"
check "revert to the empty state" 0 qzfs volume revert $V r1 $CFG
check "pool volumes" 0 qzfs --json pool volumes $R
want_out "the volume, with the replaced state as a revision" "\"$V\":{.*\"current\":\"r1\".*\"r2\""
# one volume from several processes at once: its lock serialises them
for i in 1 2 3 4; do qzfs volume start $V $CFG & qzfs volume stop $V $CFG & done 2>/dev/null; wait
check "concurrent starts and stops leave it usable" 0 qzfs volume stop $V $CFG
check "nothing half-made after them" 1 sh -c "zfs list -H -o name -r $R | grep -E ':(prep|new)'"
check "export" 0 qzfs --json volume export $V $CFG
exp=$(printf '%s' "$out" | sed 's/.*"path":"\([^"]*\)".*/\1/')
check "export-end" 0 qzfs volume export-end $V "$exp"
check "remove" 0 qzfs volume remove $V
check "pool destroy" 0 qzfs pool destroy $R
check "pool on a device in use is refused" 1 qzfs pool setup qzb/qubes p2 --block-devices /dev/vda
check "pool on a spare disk" 0 qzfs pool setup qzb/qubes p2 --block-devices /dev/vdb
check "its zpool's defaults" 0 sh -c "zfs get -H -o value compression,volmode,mountpoint qzb | tr '\n' ' '"
want_out "lz4, dev, none" "lz4 dev none"
P2="--save-on-stop --revisions-to-keep 1 --size 16M"
S=qzb/qubes/src/private D=$POOL/qubes2/dst/private
qzfs pool setup $POOL/qubes2 p3 >/dev/null
qzfs volume create $S $P2 && qzfs volume start $S $P2 &&
    devdd if=/dev/urandom of="$(dev $S)" bs=1M count=3 conv=fsync && qzfs volume stop $S $P2
check "import from another zpool (send and receive)" 0 qzfs volume import-volume $D $S $P2
n=$((n + 1)); [ "$(devread "$(dev $D)" 3M | sha256sum)" = "$(devread "$(dev $S)" 3M | sha256sum)" ] &&
    echo "ok $n - the copy holds the source's committed data" || echo "not ok $n - copy differs"
qzfs volume remove $S; qzfs volume remove $D; qzfs pool destroy $POOL/qubes2 >/dev/null
check "pool destroy keeps the zpool" 0 qzfs pool destroy qzb/qubes
check "the zpool is still there" 0 zpool list -H qzb
zpool destroy qzb
