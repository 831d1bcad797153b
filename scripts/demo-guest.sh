#!/bin/bash
# The demo's part inside the test VM: every command is shown before it runs.
set -eu
PATH=$1:$PATH
run() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
echo "real OpenZFS $(cat /sys/module/zfs/version) in the test VM"
run zpool create -f -O mountpoint=none demo /dev/vda
run zfs create demo/vm
run qzfs create demo/vm/work-private 2G volmode=dev
run qzfs device demo/vm/work-private
run dd if=/dev/urandom of=/dev/zvol/demo/vm/work-private bs=1M count=8 conv=fsync status=none
echo "checksum of the first 8 MiB: $(head -c 8M /dev/zvol/demo/vm/work-private | sha256sum | cut -c1-16)"
run qzfs snapshot demo/vm/work-private@monday
run qzfs clone demo/vm/work-private@monday demo/vm/work-copy
run qzfs device demo/vm/work-copy
echo "checksum of the clone:          $(head -c 8M /dev/zvol/demo/vm/work-copy | sha256sum | cut -c1-16)"
run qzfs list demo/vm
run qzfs --json list demo/vm/work-copy
run qzfs destroy demo/vm/work-private@monday || echo "(refused, as it must be: the clone depends on it)"
run qzfs destroy demo/vm/work-copy demo/vm/work-private@monday demo/vm/work-private

echo; echo "--- the Qubes volume contract: a template, an AppVM started from it, revisions ---"
export QZFS_LOCK_DIR=/tmp/qzfs-demo-locks
R=demo/qubes
TPL="--save-on-stop --revisions-to-keep 2 --size 1G"
APP="--snap-on-start --source $R/fedora/root --size 1G"
PRIV="--save-on-stop --revisions-to-keep 2 --size 512M"
dev() { qzfs volume device "$1" | cut -d' ' -f2; } # waits for udev's link to the right zvol
sum() { head -c 4M "$(dev "$1")" | sha256sum | cut -c1-16; }
run qzfs pool setup $R demo
run qzfs volume create $R/fedora/root $TPL
run qzfs volume start $R/fedora/root $TPL
dd if=/dev/urandom of="$(dev $R/fedora/root)" bs=1M count=4 conv=fsync status=none
echo "(the template writes its root: $(sum $R/fedora/root))"
run qzfs volume stop $R/fedora/root $TPL
run qzfs volume start $R/fedora/root $TPL
dd if=/dev/zero of="$(dev $R/fedora/root)" bs=1M count=4 conv=fsync status=none
echo "(the template runs again and changes its root, not committed yet: $(sum $R/fedora/root))"
run qzfs volume start $R/work/root $APP
echo "(the AppVM's root holds the template's committed state: $(sum $R/work/root))"
run qzfs volume stop $R/fedora/root $TPL
run qzfs --json volume info $R/work/root $APP
run qzfs volume stop $R/work/root $APP
run qzfs volume create $R/work/private $PRIV
for i in 1 2; do
    qzfs volume start $R/work/private $PRIV
    dd if=/dev/urandom of="$(dev $R/work/private)" bs=1M count=4 conv=fsync status=none
    echo "(session $i writes the private volume: $(sum $R/work/private))"
    qzfs volume stop $R/work/private $PRIV
done
run qzfs volume info $R/work/private $PRIV
run qzfs volume revert $R/work/private r2 $PRIV
echo "(after revert to r2, the private volume holds session 1's data: $(sum $R/work/private))"
run qzfs volume info $R/work/private $PRIV
run qzfs pool volumes $R
run zpool destroy demo
