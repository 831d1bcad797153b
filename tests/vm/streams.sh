#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The backup core on real ZFS streams (runs in the test VM): real sends pass the verifier
# unchanged; a plaintext send of encrypted data is refused; a sealed backup opens into
# `zfs receive` and gives back the same snapshot and bytes; a tampered one gives nothing.
set -u
POOL=${1:?pool}
. "$(dirname "$0")/tap.sh"
echo "1..12"
T=$(mktemp -d)
echo "correct horse battery" >"$T/pass"
zfs create -o encryption=aes-256-gcm -o keyformat=passphrase -o keylocation="file://$T/pass" \
    $POOL/senc
for ds in $POOL/splain $POOL/senc/vol; do zfs create -V 16M -o volmode=dev "$ds"; done
plain=$(zvoldev $POOL/splain); enc=$(zvoldev $POOL/senc/vol)
for d in "$plain" "$enc"; do
    devdd if=/dev/urandom of="$d" bs=1M count=4 conv=fsync
    yes backup | head -c 2000000 | devdd of="$d" bs=1M seek=6 conv=fsync
done
zfs snapshot $POOL/splain@one $POOL/senc/vol@one
devdd if=/dev/urandom of="$enc" bs=64k count=3 seek=40 conv=fsync
zfs snapshot $POOL/senc/vol@two
guid() { zfs get -H -p -o value guid "$1"; }
g1=$(guid $POOL/senc/vol@one); g2=$(guid $POOL/senc/vol@two); gp=$(guid $POOL/splain@one)

zfs send -w $POOL/senc/vol@one >"$T/raw"
check "a real raw stream passes the verifier" 0 sh -c "qzfs backup verify-stream --toguid $g1 --raw <'$T/raw' >'$T/raw.out'"
check "... byte for byte" 0 cmp "$T/raw" "$T/raw.out"
check "a real raw incremental passes" 0 sh -c "zfs send -w -i @one $POOL/senc/vol@two | qzfs backup verify-stream --toguid $g2 --fromguid $g1 --raw >/dev/null"
check "the incremental without its base guid is refused" 1 sh -c "zfs send -w -i @one $POOL/senc/vol@two | qzfs backup verify-stream --toguid $g2 --raw >/dev/null"
zfs send $POOL/senc/vol@one >"$T/decrypted"
check "a plaintext send of encrypted data is refused" 1 sh -c "qzfs backup verify-stream --toguid $g1 --raw <'$T/decrypted' >'$T/dec.out'"
check "... and none of it passes" 0 test ! -s "$T/dec.out"

qzfs backup keygen "$T/key" >/dev/null
zfs send -c $POOL/splain@one | qzfs backup seal --key-file "$T/key" --dataset $POOL/splain \
    --toguid "$gp" --chunk-size 1048576 >"$T/plain.sealed" 2>/dev/null
check "a sealed backup opens into zfs receive" 0 sh -c "qzfs backup open --key-file '$T/key' --toguid $gp <'$T/plain.sealed' | zfs receive $POOL/restored"
check "the restored snapshot is the same snapshot" 0 test "$(guid $POOL/restored@one)" = "$gp"
check "... with the same bytes" 0 test "$(zvolsum $POOL/splain)" = "$(zvolsum $POOL/restored 2>/dev/null)"
check "the sealed file does not hold the plaintext" 1 grep -q backupbackup "$T/plain.sealed"
# one byte changed in the middle of the sealed file
size=$(stat -c %s "$T/plain.sealed")
cp "$T/plain.sealed" "$T/bad.sealed"
flip_byte "$T/bad.sealed" $((size / 2))
check "a tampered backup is refused" 1 bash -c "qzfs backup open --key-file '$T/key' <'$T/bad.sealed' | zfs receive $POOL/tampered 2>/dev/null; exit \${PIPESTATUS[0]}"
check "... and nothing was received" 1 zfs list $POOL/tampered
zfs destroy -r $POOL/restored; zfs destroy -r $POOL/splain; zfs destroy -r $POOL/senc
rm -rf "$T"
