#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The udev rule on real ZFS (runs in the test VM): our zvols are marked hidden from dom0's
# device handling by their dataset marker, a foreign zvol is left alone. TAP.
set -u
POOL=${1:?pool} BUILD=${2:?build directory}
HERE=$(cd "$(dirname "$0")" && pwd)
export QZFS_LOCK_DIR=/tmp/qzfs-locks
. "$HERE/tap.sh"
echo "1..9"
mkdir -p /etc/udev/rules.d
install_rule() {
    sed "s|@QZFS@|$BUILD/qzfs|" "$HERE/../../udev/59-qubes-storage-zfs.rules" \
        >/etc/udev/rules.d/59-qubes-storage-zfs.rules && udevadm control --reload
}
check "udev takes the rule" 0 install_rule
R=$POOL/udevq
check "a pool and a volume of ours" 0 sh -c "qzfs pool setup $R up && qzfs volume create $R/vm/private --save-on-stop --size 16M"
check "a foreign zvol, named like ours" 0 zfs create -V 16M -o volmode=dev $POOL/vm-private
udevadm settle
ours=$(readlink -f "$(qzfs --json volume device $R/vm/private | sed 's/.*"path":"\([^"]*\)".*/\1/')")
foreign=$(readlink -f "$(qzfs --json device $POOL/vm-private | sed 's/.*"device":"\([^"]*\)".*/\1/')")
check "is-ours: ours" 0 qzfs udev is-ours "$ours"
want_out "answers 1 for ours" "^1"
check "is-ours: foreign" 0 qzfs udev is-ours "$foreign"
want_out "answers 0 for a foreign zvol" "^0"
udevadm trigger --action=change --settle "$ours" "$foreign" 2>/dev/null || udevadm settle
check "our zvol is hidden" 0 sh -c "udevadm info --query=property --name=$ours | grep -qx DM_UDEV_DISABLE_DISK_RULES_FLAG=1"
check "the foreign zvol is not" 1 sh -c "udevadm info --query=property --name=$foreign | grep -q QUBES_STORAGE_ZFS"
rm -f /etc/udev/rules.d/59-qubes-storage-zfs.rules
udevadm control --reload
