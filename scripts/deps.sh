#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Installs what building and testing qubes-storage-zfs needs on Debian 12 (bookworm), and makes
# Debian's `contrib` component (ZFS lives there) and `bookworm-backports` (ZFS 2.3) known to apt.
# Nothing ZFS-kernel-related is installed on this machine: real ZFS runs in the test VM (vm/).
# Idempotent; silent when everything is already there.
set -euo pipefail

PKGS=(meson ninja-build pkg-config gcc gcc-12 make binutils clang libclang-rt-14-dev libelf1 libssl3
      libzfslinux-dev libsodium-dev libssl-dev zlib1g-dev libcmocka-dev help2man
      dpkg-dev debhelper rpmlint
      python3 python3-pip python3-setuptools python3-wheel rpm
      python3-lxml python3-docutils python3-jinja2 python3-yaml python3-pyinotify python3-xdg
      qemu-system-x86 busybox-static xz-utils)
SOURCES=/etc/apt/sources.list.d/qubes-storage-zfs-contrib.sources
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo

apt_update() {
    $SUDO apt-get update -q >/tmp/qzfs-apt-update.log 2>&1 || {
        echo "deps: 'apt-get update' failed (is the Debian mirror reachable?):" >&2
        tail -5 /tmp/qzfs-apt-update.log >&2
        exit 1
    }
}

if ! apt-cache policy 2>/dev/null | grep -q 'bookworm-backports/contrib' ||
   ! apt-cache policy 2>/dev/null | grep -q 'bookworm/contrib'; then
    # the mirror this machine already uses for bookworm's main (a local mirror or a proxy
    # stays in use); Debian's own address only if apt knows none
    mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 2>/dev/null |
        awk '$2 == "bookworm" && $3 == "main" { print $1; exit }')
    mirror=${mirror:-http://deb.debian.org/debian/}
    echo "deps: enabling Debian contrib and bookworm-backports from $mirror (ZFS lives there)" >&2
    printf '%s\n' 'Types: deb' "URIs: $mirror" \
        'Suites: bookworm bookworm-updates bookworm-backports' 'Components: contrib' \
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' | $SUDO tee "$SOURCES" >/dev/null
    apt_update
fi

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
apt_update
if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" \
        >/tmp/qzfs-deps.log 2>&1; then
    echo "deps: 'apt-get install ${missing[*]}' failed; the end of /tmp/qzfs-deps.log:" >&2
    tail -15 /tmp/qzfs-deps.log >&2
    exit 1
fi
