#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The demo's part inside the test VM: a zpool on a scratch disk, then the zfs_zvol driver
# driven as qubesd drives it (scripts/demo_driver.py), with Debian's python3.
set -eu
BUILD=$1
echo "real OpenZFS $(cat /sys/module/zfs/version) in the test VM"
printf '\n\033[1m$ zpool create -O mountpoint=none demo /dev/vda\033[0m\n'
zpool create -f -O mountpoint=none demo /dev/vda
QZFS_BINARY=$BUILD/qzfs /usr/bin/python3 "$(dirname "$0")/demo_driver.py" demo
zpool destroy demo
