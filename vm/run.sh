#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs a command inside the real-ZFS test VM and exits with its exit status.
#
#   vm/run.sh [-d DISK_MB]... [-m MEM_MB] -- command [args...]
#
# The guest sees this machine's root read-only (with a throw-away tmpfs on top), the same working
# directory, and the variables named in QZFS_VM_ENV (plus every QZFS_* variable). Each -d attaches a
# fresh sparse disk (/dev/vda, /dev/vdb, ...). The command's output is streamed here as it runs.
# Env: QZFS_ZFS (2.1.11 | 2.3.2), QZFS_VM_TIMEOUT (seconds, default 3000), QZFS_VM_KEEP=1 keeps the run dir.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MEM=2048; DISKS=()
while [ $# -gt 0 ]; do
    case "$1" in
    -d) DISKS+=("$2"); shift 2 ;;
    -m) MEM=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: vm/run.sh [-d DISK_MB]... [-m MEM_MB] -- command [args...]" >&2; exit 2; }
VM=$("$HERE/setup.sh")
OUT=$(mktemp -d "${TMPDIR:-/tmp}/qzfs-vm.XXXXXX")
cleanup() { [ -n "${QPID:-}" ] && kill "$QPID" 2>/dev/null; [ -n "${QZFS_VM_KEEP:-}" ] || rm -rf "$OUT"; }
trap cleanup EXIT
printf '%q ' "$@" >"$OUT/job.sh"; echo >>"$OUT/job.sh"
pwd >"$OUT/cwd"
: >"$OUT/job.log"
for v in $(compgen -v | grep '^QZFS_' || true) ${QZFS_VM_ENV:-}; do
    [ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}" >>"$OUT/env"
done
DRV=(); n=0
for sz in "${DISKS[@]}"; do
    truncate -s "${sz}M" "$OUT/disk$n.img"
    DRV+=(-drive "file=$OUT/disk$n.img,if=virtio,format=raw,cache=unsafe,discard=unmap"); n=$((n + 1))
done
timeout -k 10 "${QZFS_VM_TIMEOUT:-3000}" qemu-system-x86_64 -accel tcg,thread=multi,tb-size=512 -cpu max \
    -smp "$(nproc)" -m "$MEM" -M pc -display none -no-reboot -nodefaults -serial "file:$OUT/console.log" \
    -kernel "$VM/vmlinuz" -initrd "$VM/initrd.cpio.gz" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off" \
    -virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$VM/layer,mount_tag=layer,security_model=none,readonly=on,multidevs=remap" \
    -virtfs "local,path=$OUT,mount_tag=out,security_model=none" \
    "${DRV[@]}" </dev/null &
QPID=$!
tail -n +1 -f --pid="$QPID" "$OUT/job.log"
wait "$QPID" || true
QPID=
if [ ! -f "$OUT/rc" ]; then
    echo "vm: the guest stopped before the job finished; the end of its console:" >&2
    tail -20 "$OUT/console.log" >&2
    exit 125
fi
exit "$(cat "$OUT/rc")"
