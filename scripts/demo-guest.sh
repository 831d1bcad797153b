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
run zpool destroy demo
