#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Passphrase keys on real ZFS (runs in the test VM): qzfs derives the wrapping key exactly as
# the zfs command does, both ways; wrong passphrases and open volumes are refused. TAP.
set -u
POOL=${1:?pool}
export QZFS_LOCK_DIR=/tmp/qzfs-locks
. "$(dirname "$0")/tap.sh"
echo "1..10"
P=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
check "zfs makes an encryption root with a passphrase" 0 sh -c \
    "printf '%s\n%s\n' $P $P | zfs create -o encryption=on -o keyformat=passphrase -o pbkdf2iters=100000 $POOL/zfskey"
check "zfs unloads its key" 0 zfs unload-key $POOL/zfskey
check "qzfs loads a key zfs made" 0 sh -c "echo $P | qzfs key load $POOL/zfskey"
check "the key is loaded" 0 sh -c "zfs get -H -o value keystatus $POOL/zfskey | grep -qx available"
check "a wrong passphrase: exit 7" 7 sh -c "zfs unload-key $POOL/zfskey && echo x$P | qzfs key load $POOL/zfskey"
check "qzfs makes an encrypted pool" 0 sh -c "echo $P | qzfs pool setup $POOL/encryption/q q --encrypted --pbkdf2-iters 100000"
check "qzfs unloads its key" 0 qzfs key unload $POOL/encryption/q
check "zfs loads a key qzfs made" 0 sh -c "echo $P | zfs load-key $POOL/encryption/q"
V=$POOL/encryption/q/vm/private
qzfs volume create $V --save-on-stop --size 16M >/dev/null
dev=$(dev $V)
exec 9<"$dev"
check "unload refused while a zvol is open: exit 5" 5 qzfs key unload $POOL/encryption/q
exec 9<&-
check "unload once it is closed" 0 qzfs key unload $POOL/encryption/q
