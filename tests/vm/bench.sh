#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs in the test VM (see scripts/bench). Median of RUNS runs per step.
set -eu
BUILD=$1
RUNS=${QZFS_BENCH_RUNS:-5}
zpool create -f -o ashift=12 -O mountpoint=none bench /dev/vda
# count every zfs/zpool process qzfs spawns, through wrappers first in PATH
W=$(mktemp -d); COUNT=$W/count; : >"$COUNT"
for tool in zfs zpool; do
    printf '#!/bin/sh\necho %s >>%s\nexec /usr/sbin/%s "$@"\n' "$tool" "$COUNT" "$tool" >"$W/$tool"
    chmod +x "$W/$tool"
done
export PATH=$W:$BUILD:$PATH
export QZFS_LOCK_DIR=$W/locks
R=bench/qubes
qzfs pool setup $R bench >/dev/null
TMPL="--save-on-stop --revisions-to-keep 1 --size 64M"
PRIV="--save-on-stop --revisions-to-keep 1 --size 64M"
VOLA="--size 64M"
qzfs volume create $R/tmpl/root $TMPL
qzfs volume start $R/tmpl/root $TMPL
dd if=/dev/urandom of="$(qzfs volume device $R/tmpl/root | cut -d' ' -f2)" bs=1M count=8 conv=fsync status=none
qzfs volume stop $R/tmpl/root $TMPL
ROOT="--snap-on-start --source $R/tmpl/root --size 64M"

ms() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# step NAME: runs the remaining arguments for the three volumes of VM $vm
appvm() { # appvm VM OP
    local vm=$1 op=$2
    qzfs volume "$op" $R/$vm/root $ROOT >/dev/null &
    qzfs volume "$op" $R/$vm/private $PRIV >/dev/null &
    qzfs volume "$op" $R/$vm/volatile $VOLA >/dev/null &
    wait
}
declare -A times spawns
for step in create start stop remove; do times[$step]=""; spawns[$step]=""; done
for i in $(seq "$RUNS"); do
    for step in create start stop remove; do
        : >"$COUNT"; t0=$(ms)
        appvm vm$i $step
        t1=$(ms)
        times[$step]+="$(( (t1 - t0) / 1000000 ))"$'\n'
        spawns[$step]+="$(wc -l <"$COUNT")"$'\n'
    done
done
# the baseline, measured in the same run: one plain `zfs snapshot` process
base=""
for i in $(seq "$RUNS"); do
    t0=$(ms); /usr/sbin/zfs snapshot $R/tmpl/root@bench$i; t1=$(ms)
    base+="$(( (t1 - t0) / 1000000 ))"$'\n'
done
base_ms=$(printf '%s' "$base" | median)
echo "baseline_one_zfs_snapshot_process_median $base_ms ms"
for step in create start stop remove; do
    med=$(printf '%s' "${times[$step]}" | median)
    echo "appvm_${step}_vs_baseline $(echo "scale=2; $med / $base_ms" | bc) x"
done
for step in create start stop remove; do
    echo "appvm_${step}_median $(printf '%s' "${times[$step]}" | median) ms"
    echo "appvm_${step}_zfs_processes $(printf '%s' "${spawns[$step]}" | median) per-appvm"
done
# ten AppVMs started at once, against one
for i in $(seq 10); do appvm p$i create; done
t0=$(ms); appvm p1 start; t1=$(ms); appvm p1 stop
one=$(( (t1 - t0) / 1000000 ))
t0=$(ms); for i in $(seq 10); do appvm p$i start & done; wait; t1=$(ms)
ten=$(( (t1 - t0) / 1000000 ))
echo "start_1_appvm $one ms"
echo "start_10_appvms_at_once $ten ms"
echo "start_10_vs_1_ratio $(echo "scale=2; $ten / $one" | bc) x"
for i in $(seq 10); do appvm p$i stop; done
zpool destroy bench
