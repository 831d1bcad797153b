#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs INSIDE the test VM: makes a pool on the first virtio disk and runs, on real OpenZFS, the
# conformance and engine suites, the qzfs command-line checks, the udev rule and the Python
# driver. Prints TAP; scripts/test counts it.
#
# The VM has two CPUs and a suite mostly runs one process at a time, so two lanes run side by
# side, each suite under names of its own on the shared zpool. Lane b's output is shown as it
# comes, lane a's when both end. The qubes tier (the real qubesd and qvm-* clients, installed
# drivers) runs on real ZFS here too: Qubes 4.2 in lane a, 4.3 in lane b, each release under
# datasets of its own (<zpool>/q42, <zpool>/q43). Disks: vda the shared zpool, vdb cli_volume.sh's spare, vdc
# the engine's spare (lane a) and vdd full_pool.sh's small zpool (lane b). The encrypted-pool
# driver tests run in lane b: a key unload that finds a volume udev is still probing waits for
# udev's queue (the engine's own event wait), whatever the other lane is doing.
# The C suites (conformance, engine: every call of the libzfs_core backend) run the ASan build;
# qzfs end to end (the command-line checks, the Python driver, the qubes tier) runs the release
# build ($QZFS_RELEASE_BUILD, when given), as users run it: the model tier runs the same
# command-line checks on the ASan build, and there the ASan qzfs cost a quarter of the time.
set -u
BUILD=${1:?build directory}
HERE=$(cd "$(dirname "$0")" && pwd)
echo "# real OpenZFS: module $(cat /sys/module/zfs/version), $(zfs version 2>/dev/null | head -1)"
if ! zpool create -f -o ashift=12 -O mountpoint=none -O compression=off qzt /dev/vda; then
    echo "1..1"; echo "not ok 1 - zpool create on /dev/vda"; exit 1
fi
RELEASE=${QZFS_RELEASE_BUILD:-$BUILD}
export PATH=$RELEASE:$PATH
timed() { # NAME COMMAND...: runs it, then says how long it took
    local name=$1 t0=$SECONDS
    shift
    "$@"
    echo "# $name took $((SECONDS - t0)) s"
}
suite() { # NAME: one of the C suites
    timed "$1" env QZFS_TEST_BACKEND=real QZFS_TEST_POOL=qzt QZFS_TEST_SPARE_DISK=/dev/vdc \
        "$BUILD/tests/$1"
}
QUBES_SRC=${QUBES_SRC:-$HERE/../../../shared/qubes-src}
driver_tests() { # FILES: the Python driver's tests in them, driven by the real qubes.storage
    # of Qubes 4.3 (the stand-in where its sources are absent)
    local core=$QUBES_SRC/r4.3/qubes-core-admin
    [ -d "$core" ] || core=
    timed "python $1" env QZFS_BINARY="$RELEASE/qzfs" QZFS_TEST_BACKEND=real \
        QZFS_TEST_ZPOOL=qzt QZFS_QUBES_CORE="$core" /usr/bin/python3 "$HERE/../python/run.py" "$1"
}
qubes_tier() { # RELEASE [TESTS]: tests/qubes on real ZFS, the installed release build's drivers
    timed "qubes $1" env QZFS_TEST_BACKEND=real QZFS_TEST_ZPOOL=qzt QUBES_SRC="$QUBES_SRC" \
        QZFS_QUBES_TESTS="${2:-test_*.py}" bash "$HERE/../qubes/run.sh" "$1" 2>&1 | grep -v '^# log '
}
lane_a() {
    suite engine
    timed keys.sh bash "$HERE/keys.sh" qzt
    timed streams.sh bash "$HERE/streams.sh" qzt
    timed udev.sh bash "$HERE/udev.sh" qzt "$RELEASE"
    timed cli.sh bash "$HERE/cli.sh" qzt
    timed cli_volume.sh bash "$HERE/cli_volume.sh" qzt
    timed zfs-backups.sh bash "$HERE/../cli/zfs-backups.sh" qzt
    timed scheduled.sh bash "$HERE/../cli/scheduled.sh" qzt
    timed options.sh bash "$HERE/../cli/options.sh" qzt
    qubes_tier 4.2 "test_[bp]*.py"
}
lane_b() {
    suite conformance
    timed backup.sh bash "$HERE/backup.sh" qzt
    timed batch.sh bash "$HERE/../cli/batch.sh" qzt
    timed backups.sh bash "$HERE/../cli/backups.sh" qzt
    timed full_pool.sh bash "$HERE/full_pool.sh" /dev/vdd
    timed qube_packages.sh bash "$HERE/qube_packages.sh" qzt "$BUILD"
    driver_tests "test_[fp]*.py"
    driver_tests "test_encrypted.py"
    # each file of the qubes tier once on real ZFS, the releases taking turns: whole-qube
    # backups and pools with 4.2 in lane a, volumes and the README's commands with 4.3 here
    # (the lanes stay even). Both releases run every file on the model: what a release changes
    # is qubesd, and what real ZFS changes is under the driver, the same for both.
    qubes_tier 4.3 "test_[rv]*.py"
}
t0=$SECONDS
A=$(mktemp /tmp/lane-a.XXXXXX)
lane_a >"$A" 2>&1 &
lane_b 2>&1
wait
cat "$A"
rm -f "$A"
echo "# both lanes took $((SECONDS - t0)) s"
zpool destroy qzt
