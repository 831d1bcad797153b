#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Resume tokens made by real ZFS (runs in the test VM): an interrupted resumable receive leaves
# a token; qzfs reads it and finds the snapshot's guid; a token with a byte changed is refused.
set -u
POOL=${1:?pool}
. "$(dirname "$0")/tap.sh"
echo "1..16"
zfs create -V 32M -o volmode=dev $POOL/bsrc
dev=$(zvoldev $POOL/bsrc)
check "16 MiB written to the volume ($dev)" 0 devdd if=/dev/urandom of="$dev" bs=1M count=16 conv=fsync
zfs snapshot $POOL/bsrc@one
# a transfer cut short: only the first part of the stream arrives (from a file: a send into a
# pipe that closes early is not what is tested here)
zfs send $POOL/bsrc@one >/tmp/bsrc.zstream
check "the stream is bigger than what will arrive" 0 test "$(stat -c %s /tmp/bsrc.zstream)" -gt 8000000
head -c 4000000 /tmp/bsrc.zstream | zfs receive -s $POOL/bdst 2>/tmp/recv.err
tok=$(zfs get -H -o value receive_resume_token $POOL/bdst 2>&1)
check "an interrupted receive left a token ($(head -c 200 /tmp/recv.err) / ${tok:0:100})" 0 test "${#tok}" -gt 20
check "qzfs reads the real token" 0 qzfs --json backup token "$tok"
want_out "it names the snapshot's guid" "\"toguid\":$(zfs get -H -p -o value guid $POOL/bsrc@one),"
pos=$(( ${#tok} * 3 / 4 )) # a hex digit inside the compressed data
c=${tok:pos:1}; [ "$c" = 0 ] && r=1 || r=0
bad="${tok:0:pos}$r${tok:pos+1}"
check "a token with one byte changed is refused" 1 qzfs backup token "$bad"
check "zfs itself would send from the real token" 0 bash -c "test \$(zfs send -t '$tok' | wc -c) -gt 1000"
# qzfs backup send: a token is taken only from a receive of the stream qzfs makes (its flags are
# that stream's features): plain `zfs send` made another one
check "qzfs refuses the token of a plain zfs send of the snapshot" 1 sh -c "qzfs backup send $POOL/bsrc@one --token '$tok' >/dev/null"
cp "$TAP_ERR" /tmp/bflags.err
check "... saying its flags are not its stream's" 0 grep -q "flag is not what the transfer's stream has" /tmp/bflags.err
zfs receive -A $POOL/bdst
qzfs backup send $POOL/bsrc@one >/tmp/bsrc.zstream
head -c 4000000 /tmp/bsrc.zstream | zfs receive -s $POOL/bdst 2>/dev/null
tok=$(zfs get -H -o value receive_resume_token $POOL/bdst 2>&1)
# the same transfer resumed from the token, decided by dom0's record
check "qzfs resumes its own transfer from the token" 0 sh -c "qzfs backup send $POOL/bsrc@one --token '$tok' | zfs receive -s $POOL/bdst"
check "the received snapshot is the one sent" 0 test "$(zfs get -H -p -o value guid $POOL/bdst@one)" = "$(zfs get -H -p -o value guid $POOL/bsrc@one)"
# an encrypted volume: a token of another transfer is refused; qzfs sends raw on its own
echo "correct horse battery" >/tmp/bpass
zfs create -o encryption=aes-256-gcm -o keyformat=passphrase -o keylocation=file:///tmp/bpass $POOL/benc
zfs create -V 16M -o volmode=dev $POOL/benc/v
zfs snapshot $POOL/benc/v@one
check "a token of another snapshot is refused" 1 sh -c "qzfs backup send $POOL/benc/v@one --token '$tok' >/dev/null"
# the forgery that matters: a token real ZFS made for this very snapshot, from a plaintext
# (non-raw) send of it with the key loaded; a receiver offering it wants the data decrypted
edev=$(zvoldev $POOL/benc/v)
devdd if=/dev/urandom of="$edev" bs=1M count=4 conv=fsync
zfs snapshot $POOL/benc/v@two
zfs send $POOL/benc/v@two | head -c 1000000 | zfs receive -s $POOL/bclear 2>/dev/null
ctok=$(zfs get -H -o value receive_resume_token $POOL/bclear 2>&1)
check "a plaintext send of the encrypted snapshot, cut, left a token" 0 test "${#ctok}" -gt 20
check "qzfs refuses to resume from it" 1 sh -c "qzfs backup send $POOL/benc/v@two --token '$ctok' >/dev/null"
cp "$TAP_ERR" /tmp/bclear.err
check "... saying it asks for a non-raw stream" 0 grep -q "non-raw stream of encrypted data" /tmp/bclear.err
zfs receive -A $POOL/bclear 2>/dev/null
check "an encrypted volume's stream is raw" 0 sh -c "qzfs backup send $POOL/benc/v@one | qzfs backup verify-stream --raw --toguid $(zfs get -H -p -o value guid $POOL/benc/v@one) >/dev/null"
zfs destroy -r $POOL/benc
zfs destroy -r $POOL/bdst 2>/dev/null; zfs receive -A $POOL/bdst 2>/dev/null; zfs destroy -r $POOL/bsrc; rm -f /tmp/bsrc.zstream
