#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Stage 2 (the host's /bin/sh inside the guest): start udev, load ZFS, run /zvm/out/job.sh in the
# caller's working directory with the caller's environment, store its exit status, power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /dev/shm /zvm/out
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# /tmp stays as it is: the host's (read-only below) under the guest's tmpfs overlay, so a job
# whose working directory is under the host's /tmp still finds it
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,rw out /zvm/out || echo "vm: mounting out failed"
hostname qzfs-vm
# udev: whole-disk `zpool create` waits for partition events; /dev/zvol/* links come from udev rules.
/usr/lib/systemd/systemd-udevd --daemon >/dev/null 2>&1
udevadm trigger --action=add --subsystem-match=block --subsystem-match=misc >/dev/null 2>&1
udevadm settle
modprobe -a virtio_blk 2>/dev/null
modprobe zfs || echo "vm: modprobe zfs failed"
( # a subshell: this script is PID 1 and must outlive the job
    [ -f /zvm/out/env ] && . /zvm/out/env
    cd "$(cat /zvm/out/cwd)" || exit 1
    sh /zvm/out/job.sh
) >/zvm/out/job.log 2>&1 </dev/null
echo $? >/zvm/out/rc.tmp && mv /zvm/out/rc.tmp /zvm/out/rc
sync
echo o >/proc/sysrq-trigger
sleep 5
echo b >/proc/sysrq-trigger
