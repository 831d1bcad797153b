#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds (once) the real-ZFS test VM: a Debian kernel, OpenZFS modules compiled from Debian's zfs-dkms
# source, the matching ZFS userland, and a tiny initramfs. Prints the directory holding the result.
#
#   vm/setup.sh                       # ZFS 2.1.11 (bookworm contrib), the default
#   QZFS_ZFS=2.3.2 vm/setup.sh        # ZFS 2.3.2 (bookworm-backports contrib)
#
# The result is cached in $QZFS_VM_CACHE (default ~/.cache/qubes-storage-zfs/vm)/<kernel>-zfs<version>.
# It is built in a temporary directory and renamed into place only when complete, so an interrupted
# build never leaves a half-made cache behind. Nothing ZFS is installed on this machine.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${QZFS_VM_CACHE:-$HOME/.cache/qubes-storage-zfs/vm}
ZV=${QZFS_ZFS:-2.1.11}
log() { echo "vm-setup: $*" >&2; }
die() { log "error: $*"; exit 1; }

case $ZV in
2.1.11) ZDEB=2.1.11-1+deb12u1; ZLIBS="libnvpair3linux libuutil3linux libzfs4linux libzpool5linux" ;;
2.3.2)  ZDEB=2.3.2-2~bpo12+2;  ZLIBS="libnvpair3linux libuutil3linux libzfs6linux libzpool6linux" ;;
*) die "unsupported QZFS_ZFS=$ZV (choose 2.1.11 or 2.3.2)" ;;
esac

# The kernel Debian's linux-image-amd64 points at today. Not pinned: old ABIs leave the archive.
KIMG=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -1)
if [ -z "$KIMG" ]; then
    "$HERE/../scripts/deps.sh"
    KIMG=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -1)
fi
if [ -z "$KIMG" ]; then
    # Offline: fall back to the newest cached VM for this ZFS version.
    old=$(ls -dt "$CACHE"/*-zfs"$ZV"-* 2>/dev/null | head -1 || true)
    [ -n "$old" ] || die "cannot ask apt which kernel linux-image-amd64 depends on, and nothing is cached"
    echo "$old"; exit 0
fi
KV=${KIMG#linux-image-}
# the key also covers the scripts baked into the VM, so changing them rebuilds it (in seconds:
# the slow module build is cached apart)
SCRIPTS=$(cat "$HERE/setup.sh" "$HERE/init1.sh" "$HERE/init2.sh" | sha256sum | cut -c1-12)
DEST=$CACHE/$KV-zfs$ZV-$SCRIPTS
if [ -f "$DEST/ready" ]; then echo "$DEST"; exit 0; fi

"$HERE/../scripts/deps.sh"
mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/.build-$KV-zfs$ZV.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
t0=$(date +%s)
step() { log "$1 ($(( $(date +%s) - t0 ))s)"; }

step "downloading packages for kernel $KV and ZFS $ZDEB"
KPKG=$(apt-cache show "$KIMG" | sed -n 's/^Version: //p' | head -1)
KBUILD=$(apt-cache depends "linux-headers-$KV" | sed -n 's/.*Depends: \(linux-kbuild-[0-9.]*\).*/\1/p' | head -1)
mkdir debs
PKGS="$KIMG linux-headers-$KV linux-headers-${KV%-amd64}-common $KBUILD=$KPKG kmod libkmod2 udev libudev1
      zfs-dkms=$ZDEB zfsutils-linux=$ZDEB $(for l in $ZLIBS; do printf '%s=%s ' "$l" "$ZDEB"; done)"
# shellcheck disable=SC2086
if ! (cd debs && apt-get download -q $PKGS >../download.log 2>&1); then
    log "download failed; refreshing apt's package lists once and trying again"
    apt-get update -q >/dev/null 2>&1 || true
    if ! (cd debs && apt-get download -q $PKGS >../download.log 2>&1); then
        tail -5 download.log >&2
        die "could not download the packages above from Debian (is 'contrib' enabled, is the mirror reachable? if the kernel changed, run vm/setup.sh again)"
    fi
fi

step "extracting"
mkdir root kmodx udevx
for d in debs/linux-* debs/zfs* debs/lib*linux*; do dpkg -x "$d" root; done
dpkg -x debs/kmod_*.deb kmodx; dpkg -x debs/libkmod2_*.deb kmodx
dpkg -x debs/udev_*.deb udevx; dpkg -x debs/libudev1_*.deb udevx
# The headers' Makefile includes the -common tree by absolute path: point it into our extraction.
sed -i "s|/usr/src/|$WORK/root/usr/src/|" "root/usr/src/linux-headers-$KV/Makefile"

# The slow step (building the modules) is cached on its own, so a later failure never repeats it.
MODS=$CACHE/modules-$KV-zfs$ZV
if [ ! -f "$MODS/ready" ]; then
    step "building ZFS $ZV kernel modules (about 7 minutes on 2 cores; cached in $MODS)"
    cp -a "root/usr/src/zfs-$ZV" zfs-src
    (cd zfs-src &&
        ./configure -q --with-config=kernel --with-linux="$WORK/root/usr/src/linux-headers-${KV%-amd64}-common" \
            --with-linux-obj="$WORK/root/usr/src/linux-headers-$KV" >../configure.log 2>&1 &&
        make -s -j"$(nproc)" -C module >../make.log 2>&1) || { tail -20 make.log configure.log >&2; die "module build failed"; }
    mkdir -p "$WORK/mods"
    find zfs-src/module -name '*.ko' -exec cp {} "$WORK/mods/" \;
    strip --strip-debug "$WORK/mods/"*.ko
    touch "$WORK/mods/ready"
    rm -rf "$MODS"; mv "$WORK/mods" "$MODS"
fi

step "assembling the guest layer"
OUT=$WORK/out; L=$OUT/layer
mkdir -p "$L/usr/sbin" "$L/usr/bin" "$L/usr/lib/modules" "$L/usr/lib/systemd" "$L/etc" "$L/zvm"
cp -a root/sbin/* "$L/usr/sbin/"
[ -d root/bin ] && cp -a root/bin/* "$L/usr/bin/"
for d in usr/sbin usr/bin; do [ -d "root/$d" ] && cp -a "root/$d/." "$L/$d/"; done
cp -a root/lib/x86_64-linux-gnu "$L/usr/lib/"
[ -d root/usr/lib/x86_64-linux-gnu ] && cp -a root/usr/lib/x86_64-linux-gnu/. "$L/usr/lib/x86_64-linux-gnu/"
[ -d root/usr/lib/zfs-linux ] && cp -a root/usr/lib/zfs-linux "$L/usr/lib/"
cp -a root/etc/zfs "$L/etc/"
cp -a kmodx/bin/kmod "$L/usr/bin/"
for n in modprobe depmod insmod rmmod modinfo lsmod; do ln -s /usr/bin/kmod "$L/usr/sbin/$n"; done
cp -a kmodx/usr/lib/x86_64-linux-gnu/. "$L/usr/lib/x86_64-linux-gnu/" 2>/dev/null ||
    cp -a kmodx/lib/x86_64-linux-gnu/. "$L/usr/lib/x86_64-linux-gnu/"
cp -a udevx/bin/udevadm "$L/usr/bin/"
ln -s /usr/bin/udevadm "$L/usr/lib/systemd/systemd-udevd"
cp -a udevx/lib/udev "$L/usr/lib/"
cp -a udevx/usr/lib/x86_64-linux-gnu/. "$L/usr/lib/x86_64-linux-gnu/" 2>/dev/null ||
    cp -a udevx/lib/x86_64-linux-gnu/. "$L/usr/lib/x86_64-linux-gnu/"
cp -a root/lib/udev/. "$L/usr/lib/udev/"
cp -al "root/lib/modules/$KV" "$L/usr/lib/modules/"
rm -f "$L/usr/lib/modules/$KV/build" "$L/usr/lib/modules/$KV/source"
mkdir -p "$L/usr/lib/modules/$KV/extra"
cp "$MODS/"*.ko "$L/usr/lib/modules/$KV/extra/"
ln -sf kmod kmodx/bin/depmod   # kmod acts by the name it is called with
kmodx/bin/depmod -b "$L/usr" "$KV"
cp "$HERE/init2.sh" "$L/zvm/init2.sh"; chmod +x "$L/zvm/init2.sh"
cp "root/boot/vmlinuz-$KV" "$OUT/vmlinuz"

step "making the initramfs"
I=$WORK/initrd; M=root/lib/modules/$KV/kernel
mkdir -p "$I/bin" "$I/mod"
cp /bin/busybox "$I/bin/busybox"
cp "$HERE/init1.sh" "$I/init"; chmod +x "$I/init"
for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev \
         drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci fs/netfs/netfs \
         fs/fscache/fscache net/9p/9pnet net/9p/9pnet_virtio fs/9p/9p fs/overlayfs/overlay; do
    f=$(ls "$M/$m.ko"* 2>/dev/null | head -1) || true
    [ -n "$f" ] || die "kernel module $m missing from $KIMG"
    case $f in *.xz) xz -dc "$f" >"$I/mod/$(basename "$m").ko" ;; *) cp "$f" "$I/mod/" ;; esac
done
(cd "$I" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$OUT/initrd.cpio.gz")
echo "$KV $ZV" >"$OUT/ready"

rm -rf "$DEST"
mv "$OUT" "$DEST"
for stale in "$CACHE/$KV-zfs$ZV" "$CACHE/$KV-zfs$ZV"-*; do  # older builds of the same VM
    [ "$stale" != "$DEST" ] && [ -d "$stale" ] && rm -rf "$stale"
done
step "ready: $DEST ($(du -sh "$DEST" | cut -f1))"
echo "$DEST"
