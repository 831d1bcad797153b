#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds the qube side's Debian packages (qubes-storage-zfs-vm, -vm-zfs) from the committed tree
# into DEST, as a template's maintainer would: dpkg-buildpackage on `git archive HEAD`.
#   tests/packaging/debs.sh DEST     (the build's log is printed if it fails)
set -uo pipefail
DEST=${1:?destination folder}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/qzfs-debs.XXXXXX")
trap 'rm -rf "$W"' EXIT
rm -rf "$DEST" && mkdir -p "$DEST" "$W/deb" &&
    git -C "$ROOT" archive --format=tar --prefix=src/ HEAD | tar -x -C "$W/deb" &&
    (cd "$W/deb/src" && dpkg-buildpackage -b -us -uc -d >"$W/deb.log" 2>&1) &&
    cp "$W"/deb/qubes-storage-zfs-vm_*.deb "$W"/deb/qubes-storage-zfs-vm-zfs_*.deb "$DEST/" ||
    { tail -20 "$W/deb.log" 2>/dev/null; exit 1; }
