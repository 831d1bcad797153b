#!/bin/bash
# Resume tokens made by real ZFS (runs in the test VM): an interrupted resumable receive leaves
# a token; qzfs reads it and finds the snapshot's guid; a token with a byte changed is refused.
set -u
POOL=${1:?pool}
. "$(dirname "$0")/tap.sh"
echo "1..5"
zfs create -V 32M -o volmode=dev $POOL/bsrc
dev=$(qzfs device $POOL/bsrc | cut -d' ' -f2)
dd if=/dev/urandom of="$dev" bs=1M count=16 conv=fsync status=none
zfs snapshot $POOL/bsrc@one
# a transfer cut short: only the first part of the stream arrives
zfs send $POOL/bsrc@one | head -c 4000000 | zfs receive -s $POOL/bdst 2>/dev/null
tok=$(zfs get -H -o value receive_resume_token $POOL/bdst)
check "an interrupted receive left a token" 0 test "${#tok}" -gt 20
check "qzfs reads the real token" 0 qzfs --json backup token "$tok"
want_out "it names the snapshot's guid" "\"toguid\":$(zfs get -H -p -o value guid $POOL/bsrc@one),"
pos=$(( ${#tok} * 3 / 4 )) # a hex digit inside the compressed data
c=${tok:pos:1}; [ "$c" = 0 ] && r=1 || r=0
bad="${tok:0:pos}$r${tok:pos+1}"
check "a token with one byte changed is refused" 1 qzfs backup token "$bad"
check "zfs itself would send from the real token" 0 sh -c "zfs send -t '$tok' | head -c 1000 >/dev/null"
zfs destroy -r $POOL/bdst 2>/dev/null; zfs receive -A $POOL/bdst 2>/dev/null; zfs destroy -r $POOL/bsrc
