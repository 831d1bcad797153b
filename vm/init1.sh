#!/bin/busybox sh
# SPDX-License-Identifier: BSD-2-Clause
# Stage 1 (initramfs): load virtio, 9p and overlay; stack a tmpfs over the read-only guest layer over
# the host's root (both 9p, read-only); switch_root into stage 2 (/zvm/init2.sh from the layer).
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /host /layer /ovl /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs fscache \
         9pnet 9pnet_virtio 9p overlay; do
    insmod /mod/$m.ko 2>/dev/null || echo "vm: insmod $m failed"
done
O="trans=virtio,version=9p2000.L,msize=512000,cache=loose"
fail() { echo "vm: $1"; echo o >/proc/sysrq-trigger; }
mount -t 9p -o ro,$O root /host || fail "mounting the host root failed"
mount -t 9p -o ro,$O layer /layer || fail "mounting the guest layer failed"
mount -t tmpfs -o size=75% tmpfs /ovl
mkdir -p /ovl/u /ovl/w
mount -t overlay overlay -o lowerdir=/layer:/host,upperdir=/ovl/u,workdir=/ovl/w /newroot ||
    fail "overlay mount failed"
for d in proc sys dev; do mount --move /$d /newroot/$d; done
exec switch_root /newroot /zvm/init2.sh
