#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The `qubes` tier: the real qubesd and qvm-* clients of Qubes 4.2 and 4.3 drive the drivers as
# installed by `make install`. Prints TAP for each release (tests/qubes/run.py), each in a
# mount namespace of its own.
#
#   tests/qubes/run.sh [RELEASE...]        (default: 4.2 4.3)
#
# Env: QUBES_SRC (default ../shared/qubes-src from the project's root), QZFS_RELEASE_BUILD (the
# build to install; default build-release), QZFS_TEST_BACKEND=model|real, QZFS_TEST_ZPOOL,
# QZFS_QUBES_TESTS (a file pattern, default test_*.py), QZFS_QUBES_ONLY (a part of the names of
# the tests to run).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRC=${QUBES_SRC:-$ROOT/../shared/qubes-src}
RELEASES=("$@"); [ ${#RELEASES[@]} -gt 0 ] || RELEASES=(4.2 4.3)
BUILD=${QZFS_RELEASE_BUILD:-$ROOT/build-release}
if [ ! -d "$SRC/r4.2" ] || [ ! -d "$SRC/r4.3" ]; then
    echo "1..1"
    echo "ok 1 - qubes tier # SKIP no Qubes sources at $SRC; set QUBES_SRC"
    exit 0
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qzfs-qubes.XXXXXX")
trap '[ -n "${QZFS_QUBES_KEEP:-}" ] || rm -rf "$WORK"' EXIT

# the project as a user installs it (the RPM runs this), with Debian's python3, whose
# dependencies qubesd uses here
make -s -C "$ROOT" install DESTDIR="$WORK/root" PREFIX=/usr BUILDDIR="$BUILD" \
    PYTHON=/usr/bin/python3 >"$WORK/install.log" 2>&1 ||
    { sed 's/^/# /' "$WORK/install.log"; echo "not ok - make install failed"; exit 1; }

status=0
for rel in "${RELEASES[@]}"; do
    # a copy of the release's trees with their entry points (qubes.vm, qubes.ext, ...)
    # written by setuptools' egg_info, as an install would; the sources stay untouched
    src=$WORK/src-$rel
    mkdir -p "$src"
    for c in qubes-core-admin qubes-core-admin-client qubes-core-qrexec; do
        cp -r "$SRC/r$rel/$c" "$src/"
        (cd "$src/$c" && /usr/bin/python3 setup.py -q egg_info >"$WORK/egg-$c.log" 2>&1) ||
            { sed 's/^/# /' "$WORK/egg-$c.log"; echo "not ok - $rel: $c: egg_info failed"; status=1; }
    done
    mkdir -p "$WORK/run-$rel"
    unshare -m -u --propagation private /usr/bin/python3 "$HERE/run.py" "$rel" "$src" \
        "$WORK/root" "$WORK/run-$rel" "${QZFS_QUBES_TESTS:-test_*.py}" || status=1
done
exit $status
