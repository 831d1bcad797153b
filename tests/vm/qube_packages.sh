#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The qube side as a user installs it (runs inside the test VM, whose root is thrown away): the
# Debian packages the packaging check built are installed with dpkg, then dom0's qzfs backs up
# through the installed qrexec services and store programs, as qvm-run would start them. TAP.
#   tests/vm/qube_packages.sh ZPOOL BUILD   (the packages in BUILD/debs)
set -u
Z=${1:?zpool} BUILD=${2:?build directory}
. "$(dirname "$0")/tap.sh"
echo "1..12"
DEBS=$BUILD/debs
if ! ls "$DEBS"/qubes-storage-zfs-vm_*.deb >/dev/null 2>&1; then
    for i in 1 2 3 4 5 6 7 8 9; do echo "ok $i - qube packages # SKIP none built in $DEBS (the packaging check builds them)"; done
    exit 0
fi
W=$(mktemp -d /tmp/qzfs-qpkg.XXXXXX)
QZFS=$BUILD/qzfs
# what the services find in PATH is what the packages installed, not the build tree's
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
qzfs_dev() { $QZFS volume device "$1" | cut -d" " -f2; }
check "dpkg installs qubes-storage-zfs-vm" 0 dpkg -i "$DEBS"/qubes-storage-zfs-vm_*.deb
# the VM's ZFS userland is not registered with dpkg (it comes from the VM's own layer)
check "dpkg installs qubes-storage-zfs-vm-zfs (its zfsutils dependency forced)" 0 \
    dpkg -i --force-depends "$DEBS"/qubes-storage-zfs-vm-zfs_*.deb
check "... the services and programs at their paths" 0 test -x /etc/qubes-rpc/qubes-storage-zfs.BackupStore \
    -a -x /usr/bin/qzfs-backup-store -a -x /etc/qubes-rpc/qubes-storage-zfs.BackupZfs \
    -a -x /usr/bin/qzfs-backup-zfs-store -a -f /etc/qubes/rpc-config/qubes-storage-zfs.BackupZfs

# a sealed backup to the installed BackupStore, as the qube's user's service keeps it
R=$Z/qpkg; V=$R/work/private
$QZFS pool setup $R qpkg >/dev/null
$QZFS volume create $V --save-on-stop --size 4M >/dev/null
$QZFS volume start $V --save-on-stop >/dev/null
head -c 100000 /dev/urandom | devdd of="$(qzfs_dev $V)" bs=64k conv=notrunc,fsync
$QZFS volume stop $V --save-on-stop >/dev/null
$QZFS backup keygen "$W/key" >/dev/null
mkdir -p "$W/home"
S="--target exec:/etc/qubes-rpc/qubes-storage-zfs.BackupStore --state $W/state --key-file $W/key"
check "a sealed backup through the installed BackupStore" 0 env HOME="$W/home" $QZFS backup create $S $V
check "... kept in the service's folder" 0 test -n "$(ls "$W/home/qubes-storage-zfs-backups")"
check "... and it verifies" 0 env HOME="$W/home" $QZFS backup verify $S --all

# a raw backup of an encrypted volume to the installed BackupZfs, as root (its rpc-config's user)
echo "correct horse battery" >"$W/pass"
E=$Z/encryption/qpkg; EV=$E/work/private
$QZFS pool setup $E qpkge --encrypted --passphrase-fd 3 --pbkdf2-iters 100000 3<"$W/pass" >/dev/null
$QZFS volume create $EV --save-on-stop --size 4M >/dev/null
$QZFS volume start $EV --save-on-stop >/dev/null
$QZFS volume stop $EV --save-on-stop >/dev/null
zfs create -o mountpoint=none $Z/qpkg-received
ZS="--target exec:/etc/qubes-rpc/qubes-storage-zfs.BackupZfs --state $W/zstate"
check "a raw backup through the installed BackupZfs" 0 env QZFS_BACKUP_DATASET=$Z/qpkg-received $QZFS backup zfs create $ZS $EV
check "... received into the qube's dataset" 0 test "$(zfs list -H -r -t snapshot -o name $Z/qpkg-received | wc -l)" -ge 1
check "... and it verifies" 0 env QZFS_BACKUP_DATASET=$Z/qpkg-received $QZFS backup zfs verify $ZS --all
# with a key, dom0's records of it sealed in the same qube's installed BackupStore
SEALED="--key-file $W/key --sealed-target exec:/etc/qubes-rpc/qubes-storage-zfs.BackupStore"
check "dom0's records sealed beside the raw backups, in the installed BackupStore" 0 \
    env QZFS_BACKUP_DATASET=$Z/qpkg-received HOME="$W/home" $QZFS backup zfs create $ZS $SEALED $EV
check "... a fresh dom0 takes them back with the key, and verifies" 0 \
    env QZFS_BACKUP_DATASET=$Z/qpkg-received HOME="$W/home" $QZFS backup zfs verify \
    --target exec:/etc/qubes-rpc/qubes-storage-zfs.BackupZfs --state $W/fresh $SEALED --all
want_out "... every backup whole" ": whole"
rm -rf "$W"
