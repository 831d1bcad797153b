#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Backups of encrypted volumes to a backup qube that receives them into its own ZFS (`qzfs backup
# zfs`, qzfs-backup-zfs-store), on the model (QZFS_BACKEND=model:DIR: the qube gets a model of
# its own) or on real ZFS in the test VM (the qube's datasets in the same zpool): full, then
# incremental, with the key unloaded; a plain volume refused; a receive cut short resumed from
# the qube's token; verified and restored with the same snapshots and bytes; a qube that alters
# what it sends back, or lies about a partial receive, gets nothing past dom0. Restored over the
# volume (its key made the pool's again); pruned, on the qube too; an incremental cut short
# resumed; dom0's qzfs killed mid-stream, and the next backup completing the work; a new chain
# by --full-every.
#   tests/cli/zfs-backups.sh ZPOOL     (qzfs and qzfs-backup-zfs-store in PATH)
set -u
Z=${1:?zpool}
. "$(dirname "$0")/../vm/tap.sh"
echo "1..128"
W=$(mktemp -d /tmp/qzfs-zfs-backups.XXXXXX)
STORE=$(command -v qzfs-backup-zfs-store)
HOSTILE=${QZFS_HOSTILE_STORE:-$(dirname "$(command -v qzfs)")/tests/hostile-store}
# the backup qube: on the model, a model of its own (zpool "bq"); on real ZFS, a dataset
if [ -n "${QZFS_BACKEND:-}" ]; then
    Q=bq/kept
    qube() { QZFS_BACKEND=model:$W/qube QZFS_MODEL_POOL=bq "$@"; }
else
    Q=$Z/kept
    qube() { "$@"; }
fi
qube qzfs pool setup $Q kept >/dev/null
cat >"$W/store.sh" <<EOF
#!/bin/sh
$( [ -n "${QZFS_BACKEND:-}" ] && echo "export QZFS_BACKEND=model:$W/qube QZFS_MODEL_POOL=bq" )
exec "$STORE" $Q
EOF
# dom0's link to the backup qube, one --target for all (dom0 keeps its records per target); the
# test sets how it behaves in $W/link.mode: empty (as it should), "cut N" (the connection cut
# after N bytes from dom0: a network gone), "kill N" (dom0's qzfs, its parent, killed with
# SIGKILL once N bytes reached the qube), "flip" (the qube flips one byte of what it sends back,
# 3000 bytes into its answers), "spy" (the qube keeps a copy of everything dom0 sends it),
# "altered" (a copy of the qube whose stored data was changed, on the model), "hostile MODE"
# (the qube alters what it sends back, every checksum made again: tests/support/hostile_store.c)
cat >"$W/link.sh" <<EOF
#!/bin/sh
set -- \$(cat "$W/link.mode")
case "\$1" in
cut) stdbuf -o0 head -c \$2 | "$W/store.sh" ;;
kill) { stdbuf -o0 head -c \$2; kill -KILL \$PPID; } | "$W/store.sh" ;;
flip) "$W/store.sh" | { dd bs=1 count=3000 status=none; dd bs=1 count=1 status=none | tr '\\000-\\377' '\\001-\\377\\000'; cat; } ;;
spy) tee -a "$W/seen" | "$W/store.sh" ;;
altered) exec "$W/altered.sh" ;;
hostile) exec "$HOSTILE" "\$2" "$W/store.sh" ;;
*) exec "$W/store.sh" ;;
esac
EOF
link() { echo "$*" >"$W/link.mode"; }
chmod +x "$W"/*.sh
link
T="--target exec:$W/link.sh --state $W/state"
guid() { qzfs --json list "${1%@*}" | grep -o "\"name\":\"$1\"[^}]*\"guid\":\"[0-9]*\"" | grep -o '[0-9]*"$' | tr -d '"'; }

echo "correct horse battery" >"$W/pass"
E=$Z/encryption/zb; EV=$E/work/private
qzfs pool setup $E zb --encrypted --passphrase-fd 3 --pbkdf2-iters 100000 3<"$W/pass" >/dev/null
qzfs volume create $EV --save-on-stop --size 8388608 --revisions-to-keep 2
write() { # write BYTES: random data at the start of the volume, committed
    qzfs key load $E --passphrase-fd 3 3<"$W/pass" >/dev/null
    qzfs volume start $EV --save-on-stop >/dev/null
    head -c "$1" /dev/urandom | devdd of="$(dev $EV)" bs=64k conv=notrunc,fsync
    qzfs volume stop $EV --save-on-stop >/dev/null
    sums+=("$(volsum $EV)")
    qzfs key unload $E >/dev/null
}
sums=()
write 3000000

# a receive cut short, then resumed from the qube's token
link cut 2000000
check "a backup whose connection is cut fails" 1 qzfs backup zfs create $T $EV
link
check "... the qube kept a partial receive" 0 test "$(qube qzfs list $Q | grep -c "^$Q/")" = 1
check "the next backup resumes it, with the key unloaded" 0 qzfs backup zfs create $T $EV
want_out "... full" " full, [0-9]* bytes (resumed after [0-9]* bytes)"
ids=("$(printf '%s' "$out" | cut -d' ' -f1)")
resumed=$(printf '%s' "$out" | grep -o 'after [0-9]*' | cut -d' ' -f2)
check "... after more than 1000000 of the 2000000 bytes that arrived (${resumed:-none})" 0 test "${resumed:-0}" -gt 1000000
check "the qube holds it" 0 sh -c "qzfs backup zfs list $T | grep -v 'does not hold'"
want_out "... as dom0 recorded it" "${ids[0]} $EV full raw"

write 200000
link spy
check "an incremental backup" 0 qzfs backup zfs create $T $EV
link
want_out "... incremental" " incremental, [0-9]* bytes"
ids+=("$(printf '%s' "$out" | cut -d' ' -f1)")
inc=$(printf '%s' "$out" | grep -o '[0-9]* bytes' | cut -d' ' -f1)
check "... smaller than the full one (${inc} bytes)" 0 test "$inc" -lt 1000000
check "... the qube got it ($(stat -c %s "$W/seen") bytes)" 0 test "$(stat -c %s "$W/seen")" -gt "$inc"
check "... without the VM's dataset name in it" 1 grep -q -a -e "zb/work" -e "work/private" "$W/seen"
check "an unchanged volume makes no new backup" 0 qzfs backup zfs create $T $EV
check "... (two records)" 0 test "$(qzfs backup zfs list --state $W/state | wc -l)" = 2

P=$Z/pl/work/private
qzfs pool setup $Z/pl pl >/dev/null
qzfs volume create $P --save-on-stop --size 1048576 >/dev/null
qzfs volume start $P --save-on-stop >/dev/null; qzfs volume stop $P --save-on-stop >/dev/null
check "a plain volume is refused (the qube could read it)" 1 qzfs backup zfs create $T $P
cp "$TAP_ERR" "$W/err"
check "... saying why" 0 grep -q "is not encrypted" "$W/err"

check "every backup verifies (sent back, checked against dom0's records)" 0 qzfs backup zfs verify $T --all
want_out "... the incremental with its chain" "${ids[1]}: whole"
check "the newest chain restores" 0 qzfs backup zfs restore $T --to $Z/encryption/r1 --volume $EV
check "... as the snapshots dom0 sent (guids)" 0 test "$(guid $Z/encryption/r1@r2)" = "$(qzfs --json backup zfs list --state $W/state | grep -o '"toguid":[0-9]*' | tail -1 | cut -d: -f2)"
check "... and the full one before it" 0 test "$(guid $Z/encryption/r1@r1)" = "$(qzfs --json backup zfs list --state $W/state | grep -o '"toguid":[0-9]*' | head -1 | cut -d: -f2)"
check "the passphrase opens what was restored" 0 qzfs key load $Z/encryption/r1 --passphrase-fd 3 3<"$W/pass"
check "... the newest state's bytes" 0 test "$(zvolsum $Z/encryption/r1)" = "${sums[1]}"
check "restore --backup of the full one" 0 qzfs backup zfs restore $T --to $Z/encryption/r0 --backup "${ids[0]}"
check "... its snapshot" 0 test "$(guid $Z/encryption/r0@r1)" = "$(guid $Z/encryption/r1@r1)"
check "a restore over an existing dataset is refused" 4 qzfs backup zfs restore $T --to $Z/encryption/r1 --volume $EV

# a qube that alters what it sends back: refused, nothing left
link flip
check "a stream altered by the qube: restore refused" 1 qzfs backup zfs restore $T --to $Z/encryption/bad --volume $EV
check "... nothing left" 3 qzfs list $Z/encryption/bad
check "... verify says so" 1 qzfs backup zfs verify $T "${ids[0]}"
link

# a qube that alters the stream it sends back and makes every checksum again: a bit of a block's
# data, a bit of a block's MAC in its record's header, two blocks' data swapped, two records
# swapped. Each is refused before anything altered reaches dom0's receive, nothing is left, and
# dom0's pool has no error
for mode in payload header swap reorder; do
    link hostile $mode
    check "a qube that alters what it sends back ($mode): verify refuses" 1 qzfs backup zfs verify $T "${ids[0]}"
    want_out "... saying so" "not what dom0 sent\\|out of order"
    check "... restore refused" 1 qzfs backup zfs restore $T --to $Z/encryption/h$mode --volume $EV
    check "... nothing left" 3 qzfs list $Z/encryption/h$mode
done
link
if [ -z "${QZFS_BACKEND:-}" ]; then
    check "dom0's pool has no error" 0 sh -c "zpool status -v ${Z%%/*} | grep -q 'No known data errors'"
else
    skip 1 "zpool status: on real ZFS"
fi

# a qube whose stored backups were altered (on the model, whose data the test can write): what it
# sends back has every checksum right, and the objset MAC dom0 expects; only dom0's digest of
# what it sent tells. Nothing of it reaches dom0's receive
if [ -n "${QZFS_BACKEND:-}" ]; then
    cp -a "$W/qube" "$W/qube-altered"
    for f in "$W"/qube-altered/data/*; do
        [ "$(stat -c %s "$f")" -gt 5000 ] && flip_byte "$f" 5000
    done
    printf '#!/bin/sh\nexport QZFS_BACKEND=model:%s QZFS_MODEL_POOL=bq\nexec "%s" %s\n' \
        "$W/qube-altered" "$STORE" "$Q" >"$W/altered.sh"
    chmod +x "$W/altered.sh"
    link altered
    check "a qube whose stored data was altered: verify refuses" 1 qzfs backup zfs verify $T "${ids[0]}"
    want_out "... saying the stream is not what dom0 sent" "not what dom0 sent"
    check "... restore refused" 1 qzfs backup zfs restore $T --to $Z/encryption/altered --volume $EV
    check "... nothing left" 3 qzfs list $Z/encryption/altered
    link
else
    skip 4 "a qube's altered data: its stored data is written on the model"
fi

# a qube that sends back another state of the volume than dom0 sent (relabelled, checksums
# made again) carries another objset MAC than dom0 read from its own send: here dom0's record
# of the incremental is made to differ instead
TD=$(echo "$W"/state/targets/*) # dom0's records of this target
check "dom0 recorded each backup's objset MAC" 0 test "$(grep -l "^objset_mac [0-9a-f]\{64\}$" "$TD"/*.rec | wc -l)" = 2
cp -r "$W/state" "$W/other"
OD=$(echo "$W"/other/targets/*)
other=$(sed -n 's/^objset_mac //p' "$OD/${ids[1]}.rec" | tr '0-9a-f' '1-9a-f0') # every digit changed
sed -i "s/^objset_mac .*/objset_mac $other/" "$OD/${ids[1]}.rec"
check "... (one made to differ)" 1 cmp -s "$TD/${ids[1]}.rec" "$OD/${ids[1]}.rec"
check "another state sent back: restore refused" 1 qzfs backup zfs restore --target "exec:$W/link.sh" --state $W/other --to $Z/encryption/bad --volume $EV
cp "$TAP_ERR" "$W/err"
check "... saying so" 0 grep -q "another state of the volume" "$W/err"
check "... nothing left" 3 qzfs list $Z/encryption/bad
check "... verify says so" 1 qzfs backup zfs verify --target "exec:$W/link.sh" --state $W/other "${ids[1]}"

# restore --over: a backup put in the volume's place, its key made the pool's
qzfs key load $E --passphrase-fd 3 3<"$W/pass" >/dev/null
before=$(volsum $EV)
over="qzfs backup zfs restore $T --over $EV --revisions-to-keep 2 --backup ${ids[0]}"
check "restore --over an encrypted volume asks for its pool's passphrase" 2 $over
echo "not the passphrase" >"$W/wrong"
check "... a wrong one: refused" 1 $over --pool-passphrase-fd 3 3<"$W/wrong"
cp "$TAP_ERR" "$W/err"
check "... saying so" 0 grep -q "does not open the backup's key" "$W/err"
check "... the volume unchanged" 0 test "$(volsum $EV)" = "$before"
check "... nothing left beside the VMs" 0 test -z "$(qzfs list $E | grep restore-)"
check "with the passphrase: the full backup put in the volume's place" 0 $over --pool-passphrase-fd 3 3<"$W/pass"
check "... its bytes" 0 test "$(volsum $EV)" = "${sums[0]}"
qzfs key unload $E >/dev/null
qzfs key load $E --passphrase-fd 3 3<"$W/pass" >/dev/null
check "... opened by the pool's key alone (unloaded and loaded again)" 0 test "$(volsum $EV)" = "${sums[0]}"
check "... the state it replaced kept as a revision" 0 test "$(qzfs volume revert $EV --save-on-stop --revisions-to-keep 2 >/dev/null && volsum $EV)" = "$before"
qzfs key unload $E >/dev/null

# retention: a new chain begun with --full; prune lets the old one go, on the qube too
check "a new chain: a full backup" 0 qzfs backup zfs create $T --full $EV
want_out "... full" " full, "
check "prune --keep-last 1" 0 qzfs backup zfs prune $T --keep-last 1 $EV
check "... drops the old chain's two backups" 0 test "$(printf '%s\n' "$out" | grep -c -e "${ids[0]}" -e "${ids[1]}")" = 2
check "... from dom0's records" 0 test "$(qzfs backup zfs list --state $W/state | wc -l)" = 1
check "... and from the qube (one chain's dataset left)" 0 test "$(qube qzfs list $Q | grep -c "^$Q/[0-9a-f]* ")" = 1
check "the kept backup verifies" 0 qzfs backup zfs verify $T --all

restores_newest() { # DATASET SUM: the newest chain restores into DATASET with the bytes SUM
    check "... restores" 0 qzfs backup zfs restore $T --to "$1" --volume $EV
    qzfs key load "$1" --passphrase-fd 3 3<"$W/pass" >/dev/null
    check "... with the bytes written last" 0 test "$(zvolsum "$1")" = "$2"
}

# an incremental cut short: ZFS keeps it aside in the qube, and the next backup resumes it
write 1000000
link cut 300000
check "an incremental backup whose connection is cut fails" 1 qzfs backup zfs create $T $EV
link
check "the next backup resumes it" 0 qzfs backup zfs create $T $EV
want_out "... incremental" " incremental, [0-9]* bytes"
iresumed=$(printf '%s' "$out" | grep -o 'after [0-9]*' | cut -d' ' -f2)
restores_newest $Z/encryption/r3 "${sums[2]}"

# dom0's qzfs killed mid-stream (its sender process with it): the next backup completes the work
write 600000
link kill 200000
check "a backup whose qzfs is killed mid-stream" 137 qzfs backup zfs create $T $EV
link
sleep 1
check "... its sender does not outlive it" 1 pgrep -f "qzfs backup zfs create --target exec:$W/link.sh"
check "the next backup completes it" 0 qzfs backup zfs create $T $EV
want_out "... incremental" " incremental, [0-9]* bytes"
kresumed=$(printf '%s' "$out" | grep -o 'after [0-9]*' | cut -d' ' -f2)
restores_newest $Z/encryption/r4 "${sums[3]}"

# a qube that lies about its partial receive: on the model, whose state the test can rewrite,
# the qube's token gains a flag the stream did not have, then names another stream than dom0
# sent. dom0 resumes from neither: the partial state goes, the backup is sent whole, and restores
if [ -n "${QZFS_BACKEND:-}" ]; then
    forge() { # FIELD VALUE-EXPRESSION: rewrites that field of the qube's partial receive
        local f
        f=$(grep -rl '^part ' "$W/qube") &&
            awk -v v="$2" "\$1 == \"part\" { \$$1 = $3 } 1" "$f" >"$f.new" && mv "$f.new" "$f"
    }
    for lie in "features 6 \$6+65536" "toname 7 v"; do
        set -- $lie
        write 300000
        link cut 200000
        check "an incremental cut short, the qube's token then forged ($1)" 1 qzfs backup zfs create $T $EV
        link
        forge "$2" "backup/forged@x" "$3"
        check "... the next backup completes" 0 qzfs backup zfs create $T $EV
        forged=$out
        check "... not resumed from the forged token" 1 grep -q "resumed after" <<<"$forged"
        restores_newest $Z/encryption/f$2 "${sums[-1]}"
    done
else
    skip 10 "a forged partial receive: the qube's state is rewritten on the model"
fi

# --full-every 30 once the chain's full backup is 31 days old: a new chain
for rec in $(grep -l '^fromguid 0$' "$W"/state/targets/*/*.rec); do
    sed -i "s/^created .*/created $(($(date +%s) - 31 * 86400))/" "$rec"
done
write 65536
check "--full-every 30, the chain begun 31 days ago" 0 qzfs backup zfs create $T --full-every 30 $EV
want_out "... a full backup" " full, [0-9]* bytes"
restores_newest $Z/encryption/r5 "${sums[-1]}"

# --json: events as the stream goes, as for sealed backups
check "--json: a backup's events" 0 qzfs --json backup zfs create $T --full $EV
want_out "... it begins, with ZFS's estimate of the stream" '"event":"begin".*"total":[1-9]'
want_out "... it goes" '"event":"progress".*"bytes":[1-9]'
want_out "... it is done" '"event":"done".*"kind":"full"'
check "every backup verifies" 0 qzfs backup zfs verify $T --all
check "... and says so in JSON with --json" 0 qzfs --json backup zfs verify $T --all
want_out "... an event per backup" '"event":"verified","id":"[0-9a-f]*","said":"whole'

# dom0's records sealed beside the backups (--key-file): a fresh dom0 restores with the key
qzfs backup keygen "$W/key" >/dev/null
mkdir -p "$W/sealed"
S="--key-file $W/key --sealed-target dir:$W/sealed"
check "a backup given a key seals dom0's records beside it" 0 qzfs backup zfs create $T $S $EV
want_out "... every whole backup's, those made before too" "dom0's records of [0-9]* backups sealed beside them"
check "... the sealed store cannot read them" 1 grep -rqa -e "zb/work" -e "$(basename "$(ls "$W"/state/targets/*/*.rec | head -1)" .rec)" "$W/sealed"
write 70000
check "the next backup seals its own record" 0 qzfs backup zfs create $T $S $EV
want_out "... alone" "dom0's records of 1 backups sealed beside them"
F="--target exec:$W/link.sh --state $W/fresh"
check "a fresh dom0 without the key has no record to restore from" 1 qzfs backup zfs restore $F --to $Z/encryption/n0 --volume $EV
check "with the key it takes dom0's records back and restores" 0 qzfs backup zfs restore $F $S --to $Z/encryption/n1 --volume $EV
cp "$TAP_ERR" "$W/err"
check "... saying so" 0 grep -q "dom0's records of [0-9]* backups taken back from dir:" "$W/err"
qzfs key load $Z/encryption/n1 --passphrase-fd 3 3<"$W/pass" >/dev/null
check "... the newest state's bytes" 0 test "$(zvolsum $Z/encryption/n1)" = "${sums[-1]}"
fresh=$(echo "$W"/fresh/targets/*) state=$(echo "$W"/state/targets/*)
check "... every record and digest as dom0 made them" 0 sh -c "cd '$state' && for f in *.rec *.digest; do cmp -s \"\$f\" '$fresh'/\"\$f\" || exit 1; done && test \"\$(ls '$fresh' | grep -c rec)\" = \"\$(ls | grep -c rec)\""
check "... which verify" 0 qzfs backup zfs verify $F --all
check "on a terminal a restore shows how far it is" 0 script -qec "qzfs backup zfs restore $F --to $Z/encryption/n5 --volume $EV" "$W/typescript"
check "... MiB restored" 0 grep -q "$Z/encryption/n5: [0-9.]* MiB restored" "$W/typescript"
qzfs backup keygen "$W/otherkey" >/dev/null
check "another key takes nothing back" 1 qzfs backup zfs restore --target exec:$W/link.sh --state $W/fresh2 --key-file $W/otherkey --sealed-target dir:$W/sealed --to $Z/encryption/n2 --volume $EV
check "... no record made" 0 test -z "$(ls "$W"/fresh2/targets/*/ 2>/dev/null | grep rec)"
cp -a "$W/sealed" "$W/sealed.kept"
for c in "$W"/sealed/*.c00000000; do printf 'x' | dd of="$c" bs=1 seek=40 conv=notrunc status=none; done
check "records altered in the sealed store are refused" 1 qzfs backup zfs restore --target exec:$W/link.sh --state $W/fresh3 $S --to $Z/encryption/n3 --volume $EV
check "... no record taken back, nothing restored" 0 sh -c "test -z \"\$(ls '$W'/fresh3/targets/*/ 2>/dev/null | grep rec)\" && ! qzfs list $Z/encryption/n3 >/dev/null 2>&1"
rm -rf "$W/sealed" && mv "$W/sealed.kept" "$W/sealed"
sealed() { qzfs backup list --target dir:$W/sealed --key-file $W/key | grep -c ' zfs:'; }
before=$(sealed)
check "a prune lets backups go" 0 qzfs backup zfs prune $T --sealed-target dir:$W/sealed --keep-last 1
after=$(sealed)
check "... and their records sealed beside them ($before, then $after)" 0 test "$after" -lt "$before" -a "$after" -ge 1
check "... those of the backups kept still restore on a fresh dom0" 0 qzfs backup zfs restore --target exec:$W/link.sh --state $W/fresh4 $S --to $Z/encryption/n4 --volume $EV
mkdir -p "$W/sealedp"
check "with a passphrase in place of a key file" 0 qzfs backup zfs create $T --passphrase-fd 3 --argon2-ops 1 --argon2-mib 8 --sealed-target dir:$W/sealedp $EV 3<"$W/pass"
check "... a fresh dom0 takes the records back with it" 0 qzfs backup zfs list --target exec:$W/link.sh --state $W/fresh5 --passphrase-fd 3 --sealed-target dir:$W/sealedp 3<"$W/pass"
want_out "... and lists the backups" " $EV full raw"
check "a key without a sealed store to put the records in is refused" 2 qzfs backup zfs create --target exec:$W/link.sh --state $W/state --key-file $W/key $EV

echo "# zfs-backups: incremental cut at 300000 bytes, resumed after ${iresumed:-0} bytes"
echo "# zfs-backups: qzfs killed at 200000 bytes, resumed after ${kresumed:-0} bytes"
echo "# zfs-backups: full resumed after ${resumed:-?} bytes, incremental ${inc:-?} bytes"
rm -rf "$W"
