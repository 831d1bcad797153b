#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs in the test VM (see scripts/bench-backup --vm): end-to-end backup throughput against a
# bare `zfs send -w | cat` of the same snapshot in the same run, for a plain and an encrypted
# volume; the size of an incremental backup after 1 % of a volume is rewritten. Prints
# "name value unit" lines: figures, never assertions. Last, the backup core's own benchmark in
# the VM (vm_*), to set beside the same one on the host: how much the emulated CPU slows
# sealing against reading a pipe, which is what the end-to-end ratio mostly shows here.
#   bench_backup.sh BUILD MIB
set -eu
BUILD=$1
MIB=${2:-256}
RUNS=${QZFS_BENCH_RUNS:-3}
export PATH=$BUILD:$PATH QZFS_LOCK_DIR=/tmp/qzfs-locks
zpool create -f -o ashift=12 -O mountpoint=none bench /dev/vda
W=$(mktemp -d)
qzfs backup keygen "$W/key" >/dev/null
echo "correct horse battery" >"$W/pass"
qzfs pool setup bench/qubes plain >/dev/null
qzfs pool setup bench/encryption/sec sec --encrypted --passphrase-fd 3 --pbkdf2-iters 100000 \
    3<"$W/pass" >/dev/null
SAVE="--save-on-stop --revisions-to-keep 1 --size $((MIB * 2))M"
ms() { date +%s%N | cut -c1-13; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
dev() { qzfs volume device "$1" | cut -d' ' -f2; }
committed() { zfs list -H -o name -t snapshot -s createtxg "$1" | tail -1; }

# a volume holding $2 MiB of incompressible data, committed
fill() {
    qzfs volume create "$1" $SAVE
    qzfs volume start "$1" --save-on-stop >/dev/null
    dd if=/dev/urandom of="$(dev "$1")" bs=1M count="$2" conv=fsync status=none
    qzfs volume stop "$1" --save-on-stop >/dev/null
}

# times V's backup and a bare send of its committed snapshot, RUNS times each; sets b and o to
# the medians (ms)
time_both() {
    local V=$1 store=$2 snap bare=() ours=() r t0 t1
    snap=$(committed "$V")
    for r in $(seq "$RUNS"); do
        t0=$(ms); zfs send -w "$snap" | cat >/dev/null; t1=$(ms)
        bare+=($((t1 - t0)))
        rm -rf "$store" "$store.state"; mkdir -p "$store"
        t0=$(ms)
        qzfs backup create --target "dir:$store" --state "$store.state" --key-file "$W/key" "$V" \
            >/dev/null
        t1=$(ms)
        ours+=($((t1 - t0)))
    done
    b=$(printf '%s\n' "${bare[@]}" | median); o=$(printf '%s\n' "${ours[@]}" | median)
}

for kind in plain encrypted; do
    [ $kind = plain ] && P=bench/qubes || P=bench/encryption/sec
    fill $P/work/private "$MIB"
    fill $P/tiny/private 1
    [ $kind = encrypted ] && qzfs key unload bench/encryption/sec >/dev/null
    time_both $P/tiny/private "$W/store-tiny-$kind"
    b1=$b o1=$o
    time_both $P/work/private "$W/store-$kind"
    stored=$(du -sb "$W/store-$kind" | cut -f1)
    echo "backup_${kind}_volume_data $MIB MiB"
    echo "zfs_send_w_cat_${kind} $b ms"
    echo "qzfs_backup_create_${kind} $o ms"
    echo "qzfs_backup_vs_zfs_send_${kind} $(awk -v b="$b" -v o="$o" 'BEGIN {printf "%.2f", b / o}') x (throughput ratio, goal >= 0.9)"
    # what a backup costs whatever its size (a snapshot, a bookmark, dom0's records, the
    # header and trailer), from a 1 MiB volume; the rest is the streaming itself
    echo "zfs_send_w_cat_1MiB_${kind} $b1 ms"
    echo "qzfs_backup_create_1MiB_${kind} $o1 ms"
    echo "qzfs_backup_vs_zfs_send_streaming_${kind} $(awk -v b="$((b - b1))" -v o="$((o - o1))" 'BEGIN {printf "%.2f", (o > 0 ? b / o : 0)}') x (the ratio less each side's 1 MiB time)"
    echo "qzfs_backup_stored_${kind} $stored bytes"
done

# 1 % of the plain volume rewritten as scattered 16 KiB blocks, then an incremental backup
V=bench/qubes/work/private
qzfs volume start $V --save-on-stop >/dev/null
d=$(dev $V)
blocks=$((MIB * 1024 / 16)); n=$((blocks / 100))
for b in $(shuf -i 0-$((blocks - 1)) -n "$n"); do
    dd if=/dev/urandom of="$d" bs=16k seek="$b" count=1 conv=notrunc status=none
done
sync
qzfs volume stop $V --save-on-stop >/dev/null
before=$(du -sb "$W/store-plain" | cut -f1)
qzfs backup create --target "dir:$W/store-plain" --state "$W/store-plain.state" --key-file "$W/key" $V \
    >/dev/null
after=$(du -sb "$W/store-plain" | cut -f1)
inc=$((after - before)); vol=$((MIB * 1048576)); changed=$((n * 16384))
echo "rewritten_1pct $changed bytes ($n blocks of 16 KiB)"
echo "incremental_backup_stored $inc bytes"
echo "incremental_vs_volume $(awk -v i="$inc" -v v="$vol" 'BEGIN {printf "%.2f", 100 * i / v}') % (goal <= 2)"
echo "incremental_vs_rewritten $(awk -v i="$inc" -v c="$changed" 'BEGIN {printf "%.2f", i / c}') x"
zpool destroy bench
"$BUILD/tests/bench_backup" "$MIB" | sed 's/^/vm_/'
