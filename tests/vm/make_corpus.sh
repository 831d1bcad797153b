#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Makes the committed corpus of real ZFS send streams and resume tokens (runs in the test VM, by
# scripts/make-corpus): small volumes, encrypted and not, sent whole, incrementally, compressed,
# raw, resumed; tokens of interrupted receives. Each stream gets NAME.expect: "toguid fromguid
# raw resumed", what dom0 would expect of it. Writes into OUT.
set -eu
OUT=${1:?output directory}
mkdir -p "$OUT"
zpool create -f -o ashift=12 -O mountpoint=none -O compression=lz4 qzc /dev/vda
echo "correct horse battery" >/tmp/pass
zfs create -o encryption=aes-256-gcm -o keyformat=passphrase -o keylocation=file:///tmp/pass \
    -o mountpoint=none qzc/enc
guid() { zfs get -H -p -o value guid "$1"; }
fill() { # fill DEV: a little random data, a compressible run, zeros
    dd if=/dev/urandom of="$1" bs=16k count=2 conv=fsync status=none
    yes qubes-storage-zfs | head -c 65536 | dd of="$1" bs=16k seek=4 conv=fsync status=none
}
for ds in qzc/plain qzc/enc/vol; do
    zfs create -V 4M -o volblocksize=16k -o volmode=dev "$ds"
done
udevadm settle
fill /dev/zvol/qzc/plain; fill /dev/zvol/qzc/enc/vol
zfs snapshot qzc/plain@one qzc/enc/vol@one
printf 'changed' | dd of=/dev/zvol/qzc/plain bs=16k seek=1 conv=fsync status=none
printf 'changed' | dd of=/dev/zvol/qzc/enc/vol bs=16k seek=1 conv=fsync status=none
zfs snapshot qzc/plain@two qzc/enc/vol@two

emit() { # emit NAME SNAP FROMSNAP RAW RESUMED < stream
    cat >"$OUT/$1.zstream"
    local from=0; [ "$3" = - ] || from=$(guid "$3")
    echo "$(guid "$2") $from $4 $5" >"$OUT/$1.expect"
}
zfs send -w qzc/enc/vol@one | emit raw-full qzc/enc/vol@one - 1 0
zfs send -w -i @one qzc/enc/vol@two | emit raw-incremental qzc/enc/vol@two qzc/enc/vol@one 1 0
zfs send -c qzc/plain@one | emit compressed-full qzc/plain@one - 0 0
zfs send -e -i @one qzc/plain@two | emit embedded-incremental qzc/plain@two qzc/plain@one 0 0
zfs send qzc/plain@one | emit plain-full qzc/plain@one - 0 0
# a plaintext stream of the encrypted volume (its key is loaded): what a forged token can get
zfs send qzc/enc/vol@one | emit decrypted-full qzc/enc/vol@one - 0 0

# interrupted receives: their tokens, and the resumed streams
zfs send -w qzc/enc/vol@one | head -c 20000 | zfs receive -s qzc/rawdst 2>/dev/null || true
tok=$(zfs get -H -o value receive_resume_token qzc/rawdst)
echo "$tok" >"$OUT/raw-full.token"
zfs send -t "$tok" | emit raw-resumed qzc/enc/vol@one - 1 1
zfs send -c -i @one qzc/plain@two | head -c 2000 | zfs receive -s qzc/incdst 2>/dev/null || true
zfs send -c qzc/plain@one | zfs receive qzc/incdst2
zfs send -c -i @one qzc/plain@two | head -c 2000 | zfs receive -s qzc/incdst2 2>/dev/null || true
echo "$(zfs get -H -o value receive_resume_token qzc/incdst2)" >"$OUT/compressed-incremental.token"
ls -l "$OUT"
zpool destroy qzc
