#!/bin/bash
# Runs INSIDE the test VM: makes a pool on the first virtio disk, runs the conformance suite and
# the qzfs command-line checks against real OpenZFS. Prints TAP; scripts/test counts it.
set -u
BUILD=${1:?build directory}
HERE=$(cd "$(dirname "$0")" && pwd)
echo "# real OpenZFS: module $(cat /sys/module/zfs/version), $(zfs version 2>/dev/null | head -1)"
if ! zpool create -f -o ashift=12 -O mountpoint=none -O compression=off qzt /dev/vda; then
    echo "1..1"; echo "not ok 1 - zpool create on /dev/vda"; exit 1
fi
for suite in conformance engine; do
    QZFS_TEST_BACKEND=real QZFS_TEST_POOL=qzt "$BUILD/tests/$suite"
done
PATH=$BUILD:$PATH bash "$HERE/cli.sh" qzt
PATH=$BUILD:$PATH bash "$HERE/cli_volume.sh" qzt
zpool destroy qzt
