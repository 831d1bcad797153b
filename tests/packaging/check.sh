#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Packaging checks (TAP): `make install` lays out what the RPM spec lists, the installed driver
# is found through its entry point, `pip install .` works, and, where rpmbuild exists, the spec
# builds an RPM holding those files.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/vm/tap.sh
T=$(mktemp -d /tmp/qzfs-pkg.XXXXXX)
trap 'rm -rf "$T" "$TAP_ERR"' EXIT
echo "1..15"
PY=/usr/bin/python3 # the system's Python, as in dom0 (a pyenv one lacks its setuptools setup)
SITELIB=/usr/lib/python3/site-packages
check "make install" 0 make -s install install-vm DESTDIR="$T/root" PREFIX=/usr SITELIB=$SITELIB BUILDDIR="${QZFS_RELEASE_BUILD:-$T/build}" PYTHON=$PY

# the spec's %files, with its macros as make install was told
version=$(sed -n 's/^Version: *//p' rpm/qubes-storage-zfs.spec)
sed -n '/^%files/,$p' rpm/qubes-storage-zfs.spec | sed 's/^%config([a-z]*) //; s/^%attr([^)]*) //' | grep '^%{' | sed \
    -e "s|%{_bindir}|/usr/bin|; s|%{python3_sitelib}|$SITELIB|; s|%{_udevrulesdir}|/usr/lib/udev/rules.d|" \
    -e "s|%{_libexecdir}|/usr/libexec|; s|%{_sysconfdir}|/etc|; s|%{version}|$version|" \
    -e "s|%{_unitdir}|/usr/lib/systemd/system|; s|%{_mandir}|/usr/share/man|; s|%{_datadir}|/usr/share|" \
    -e 's|\*$||' >"$T/files"
(cd "$T/root" && find . -type f | sed 's|^\.||' | sort) >"$T/installed"
uncovered() { # installed files no %files line covers
    while read -r f; do
        covered=no
        while read -r entry; do
            case $f in "$entry" | "${entry%/}"/*) covered=yes ;; esac
        done <"$T/files"
        [ $covered = yes ] || echo "$f"
    done <"$T/installed"
}
check "every installed file is in the spec's %files" 0 test -s "$T/installed" -a -z "$(uncovered)"
missing() { while read -r e; do [ -e "$T/root$e" ] || echo "$e"; done <"$T/files"; }
check "every %files entry is installed" 0 test -z "$(missing)"
check "spec version matches pyproject" 0 grep -q "^version = \"$version\"" pyproject.toml
check "the udev rule runs the installed qzfs" 0 grep -q 'PROGRAM=="/usr/bin/qzfs udev is-ours' \
    "$T/root/usr/lib/udev/rules.d/59-qubes-storage-zfs.rules"
units_verify() { # the installed units, as systemd reads them (its ExecStart in DESTDIR)
    local d=$T/units
    mkdir -p "$d"
    sed "s|ExecStart=/|ExecStart=$T/root/|" "$T/root/usr/lib/systemd/system/qubes-storage-zfs-backup.service" >"$d/qubes-storage-zfs-backup.service"
    cp "$T/root/usr/lib/systemd/system/qubes-storage-zfs-backup.timer" "$d/"
    grep -q "^ExecStart=$T/root/usr/libexec/qubes-storage-zfs/qzfs-scheduled-backup /etc/qubes-storage-zfs/backup.conf$" "$d/qubes-storage-zfs-backup.service" &&
        test -x "$T/root/usr/libexec/qubes-storage-zfs/qzfs-scheduled-backup" &&
        systemd-analyze verify --man=no "$d"/* >"$d/log" 2>&1 && ! grep -q . "$d/log" || { cat "$d/log"; false; }
}
if command -v systemd-analyze >/dev/null; then
    check "the backup timer and its service verify (systemd-analyze)" 0 units_verify
else
    n=$((n + 1)); echo "ok $n - backup units # SKIP systemd-analyze is not installed"
fi
entry_point() { # SITE: qubesd's way of finding the driver
    PYTHONPATH="$1:$ROOT/tests/python/standin" $PY -c '
import importlib.metadata as md
eps = {e.name: e for e in md.entry_points(group="qubes.storage")}
assert eps["zfs_zvol"].load().__name__ == "ZFSZvolPool"
assert eps["zfs_encrypted"].load().__name__ == "ZFSEncryptedPool"'
}
check "installed driver found by its entry point" 0 entry_point "$T/root$SITELIB"
check "pip install . (pyproject)" 0 env PIP_ROOT_USER_ACTION=ignore $PY -m pip install -q --no-build-isolation --no-deps \
    --target "$T/pip" "$ROOT"
check "pip-installed driver found by its entry point" 0 entry_point "$T/pip"
if command -v rpmbuild >/dev/null; then
    rpmbuild_it() {
        git archive --format=tar.gz --prefix="qubes-storage-zfs-$version/" \
            -o "$T/qubes-storage-zfs-$version.tar.gz" HEAD &&
        # Debian's rpmbuild lacks Fedora's systemd macros: a test-only file gives them
        rpmbuild -bb --nodeps --load=tests/packaging/fedora-macros --define "_topdir $T/rpm" \
            --define "_sourcedir $T" rpm/qubes-storage-zfs.spec >"$T/rpmbuild.log" 2>&1 &&
        rpm -qlp "$T"/rpm/RPMS/*/qubes-storage-zfs-[0-9]*.rpm | grep -qx /usr/bin/qzfs ||
        { tail -20 "$T/rpmbuild.log"; false; }
    }
    check "rpmbuild builds the spec (committed tree), tests left out (no cmocka)" 0 rpmbuild_it
    check "... the qube's prompt and sealed store need no ZFS library" 1 sh -c \
        "rpm -qp --requires '$T'/rpm/RPMS/*/qubes-storage-zfs-vm-[0-9]*.rpm | grep -e libzfs -e libnvpair -e '^zfs'"
    check "... the dom0 package restarts qubesd when removed" 0 sh -c \
        "rpm -qp --scripts '$T'/rpm/RPMS/*/qubes-storage-zfs-[0-9]*.rpm | grep -A9 '^postuninstall' | grep -q 'try-restart qubesd'"
    if command -v rpmlint >/dev/null; then # its findings, for the record (each is justified in the notes)
        rpmlint "$T"/rpm/RPMS/*/*.rpm 2>&1 | sed 's/^/# rpmlint: /'
    fi
else
    for w in "rpmbuild" "... no ZFS library for the qube side" "... qubesd restarted on removal"; do
        n=$((n + 1)); echo "ok $n - $w # SKIP rpmbuild is not installed"
    done
fi

# the qube side as Debian packages (most templates are Debian or Fedora), built from the
# committed tree (scripts/test builds the test VM's own copy before the tiers:
# tests/vm/qube_packages.sh installs them from $QZFS_DEB_DIR)
DEBS=$T/debs
if command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null; then
    check "dpkg-buildpackage builds the qube packages (committed tree)" 0 bash tests/packaging/debs.sh "$DEBS"
    deb_files() { for d in "$DEBS"/*.deb; do dpkg-deb -c "$d"; done | awk '$1 !~ /^d/ {print $6}' |
                  sed 's|^\.||' | grep -v '^/usr/share/doc/' | sort; }
    (cd "$T/root" && find ./etc/qubes-rpc ./etc/qubes/rpc-config ./usr/bin -type f | sed 's|^\.||' |
        grep -v '^/usr/bin/qzfs$' | sort) >"$T/vm-installed"
    check "... holding what make install-vm installs" 0 test "$(deb_files)" = "$(cat "$T/vm-installed")"
    check "... qubes-storage-zfs-vm needs no ZFS library" 1 sh -c \
        "dpkg-deb -f '$DEBS'/qubes-storage-zfs-vm_*.deb Depends | grep -e zfs -e nvpair"
else
    for w in "dpkg-buildpackage" "... install-vm's files" "... no ZFS library"; do
        n=$((n + 1)); echo "ok $n - $w # SKIP dpkg-buildpackage or debhelper is not installed"
    done
fi
