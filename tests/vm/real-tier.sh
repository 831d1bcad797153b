#!/bin/bash
# Runs INSIDE the test VM: makes a pool on the first virtio disk, runs the conformance and engine
# suites (the engine's cases that make a zpool of their own get the third disk), the qzfs
# command-line checks, the udev rule and the Python driver on real OpenZFS. Prints TAP;
# scripts/test counts it.
set -u
BUILD=${1:?build directory}
HERE=$(cd "$(dirname "$0")" && pwd)
echo "# real OpenZFS: module $(cat /sys/module/zfs/version), $(zfs version 2>/dev/null | head -1)"
if ! zpool create -f -o ashift=12 -O mountpoint=none -O compression=off qzt /dev/vda; then
    echo "1..1"; echo "not ok 1 - zpool create on /dev/vda"; exit 1
fi
for suite in conformance engine; do
    QZFS_TEST_BACKEND=real QZFS_TEST_POOL=qzt QZFS_TEST_SPARE_DISK=/dev/vdc "$BUILD/tests/$suite"
done
PATH=$BUILD:$PATH bash "$HERE/cli.sh" qzt
PATH=$BUILD:$PATH bash "$HERE/cli_volume.sh" qzt
PATH=$BUILD:$PATH bash "$HERE/udev.sh" qzt "$BUILD"
PATH=$BUILD:$PATH bash "$HERE/keys.sh" qzt
PATH=$BUILD:$PATH bash "$HERE/backup.sh" qzt
PATH=$BUILD:$PATH bash "$HERE/streams.sh" qzt
PATH=$BUILD:$PATH bash "$HERE/../cli/backups.sh" qzt
PATH=$BUILD:$PATH bash "$HERE/../cli/zfs-backups.sh" qzt
PATH=$BUILD:$PATH bash "$HERE/full_pool.sh" /dev/vdb
# the Python driver, driven as qubesd drives it (Debian's python3)
QZFS_BINARY=$BUILD/qzfs QZFS_TEST_BACKEND=real QZFS_TEST_ZPOOL=qzt \
    /usr/bin/python3 "$HERE/../python/run.py"
zpool destroy qzt
