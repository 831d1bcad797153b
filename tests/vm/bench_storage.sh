#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs in the test VM (see scripts/bench): tests/bench/storage_vs_intree.py on a zpool of its
# own on DISK, with the real qubes package (Qubes 4.3's qubes-core-admin, Qubes' own test
# stand-ins for libvirt and qubesdb on the path) and Qubes' in-tree zfs driver from it.
#   bench_storage.sh BUILD DISK
set -eu
BUILD=$1 DISK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CORE=${QZFS_QUBES_CORE:-${QUBES_SRC:-$ROOT/../shared/qubes-src}/r4.3/qubes-core-admin}
[ -d "$CORE/qubes/storage" ] || { echo "bench_storage: no qubes-core-admin at $CORE"; exit 1; }
zpool create -f -o ashift=12 -O mountpoint=none -O compression=off sbench "$DISK"
# every qzfs, zfs and zpool process either driver runs is counted, through wrappers first in PATH
W=$(mktemp -d)
export QZFS_BENCH_COUNT=$W/count QZFS_BENCH_STATE=$W/volume-state QZFS_LOCK_DIR=$W/locks
: >"$QZFS_BENCH_COUNT"
for tool in zfs zpool qzfs; do
    real=/usr/sbin/$tool
    [ "$tool" = qzfs ] && real=$BUILD/qzfs
    printf '#!/bin/sh\necho %s >>%s\nexec %s "$@"\n' "$tool" "$QZFS_BENCH_COUNT" "$real" >"$W/$tool"
    chmod +x "$W/$tool"
done
export PATH=$W:$PATH QZFS_BINARY=$W/qzfs QZFS_PROFILE=$W/profile
PYTHONPATH=$ROOT/python:$CORE:$CORE/test-packages:$ROOT/tests/python \
    /usr/bin/python3 "$ROOT/tests/bench/storage_vs_intree.py" sbench
zpool destroy sbench
