# SPDX-License-Identifier: BSD-2-Clause
"""AppVM start, stop and remove through the real qubes.storage.Storage, as qubesd drives them:
our zfs_zvol driver against Qubes' in-tree zfs driver, on the same zpool, in the same run.
Prints figures, never asserts: per step the wall time, the processes each driver ran (qzfs,
zfs, zpool, through counting wrappers first in PATH) and the transaction groups the zpool
synced meanwhile (/proc/spl/kstat/zfs/<zpool>/txgs); and N AppVMs at once against one alone,
beside N bare `zfs snapshot` + `zfs destroy` pairs at once (what ZFS itself reaches here).

    python3 storage_vs_intree.py ZPOOL        (run by tests/vm/bench_storage.sh in the test VM)

Env: QZFS_QUBES_CORE (qubes-core-admin whose qubes package and in-tree driver are used),
QZFS_BENCH_RUNS (runs per step, median; default 3)."""

import asyncio
import os
import statistics
import subprocess
import sys
import threading
import time

ZPOOL = sys.argv[1] if len(sys.argv) > 1 else "bench"
RUNS = int(os.environ.get("QZFS_BENCH_RUNS", "3"))
COUNT = os.environ["QZFS_BENCH_COUNT"]  # the wrappers append a line per process here
MiB = 1024 * 1024

import qubes.storage  # noqa: E402
import qubes.storage.zfs  # noqa: E402  (the in-tree driver)
from qubes_storage_zfs.zvol import ZFSZvolPool  # noqa: E402
from zfs_harness import VM, App, appvm_config, template_config, write  # noqa: E402


def synced_txg():
    """The newest transaction group the zpool has synced."""
    with open("/proc/spl/kstat/zfs/{}/txgs".format(ZPOOL), encoding="ascii") as f:
        rows = [line.split() for line in f if line.strip()[:1].isdigit()]
    # columns: txg birth state ...; C = committed (synced)
    return max((int(r[0]) for r in rows if r[2] == "C"), default=0)


PROFILE = os.environ.get("QZFS_PROFILE")  # qzfs runs append their phases here


def profile_size():
    return os.path.getsize(PROFILE) if PROFILE and os.path.exists(PROFILE) else 0


def profile_since(offset):
    """{phase: [count, microseconds]} summed over the qzfs runs that ended since offset."""
    phases = {}
    if not PROFILE or not os.path.exists(PROFILE):
        return phases
    with open(PROFILE, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        for line in f:
            head, _, tail = line.rstrip("\n").partition("|")
            fields = tail.rsplit(" ", 2)
            if len(fields) != 3:
                continue
            entry = phases.setdefault(fields[0], [0, 0])
            entry[0] += int(fields[1])
            entry[1] += int(fields[2])
    return phases


def processes():
    with open(COUNT, encoding="ascii") as f:
        return len(f.readlines())


class Meter:
    """Wall time, processes and synced txgs of one step."""

    def __init__(self):
        self.t0 = self.p0 = self.g0 = 0

    def __enter__(self):
        self.f0 = profile_size()
        self.p0, self.g0, self.t0 = processes(), synced_txg(), time.monotonic()
        return self

    def __exit__(self, *exc):
        self.ms = (time.monotonic() - self.t0) * 1000
        self.procs = processes() - self.p0
        self.phases = profile_since(self.f0)
        # wait for what the step left dirty to be synced: it is the step's cost too
        subprocess.run(["zpool", "sync", ZPOOL], check=True)
        self.txgs = synced_txg() - self.g0


def make_pool(driver, dataset):
    if driver == "ours":
        return ZFSZvolPool(name=driver, dataset=dataset)
    return qubes.storage.zfs.ZFSPool(name=driver, container=dataset)


async def bench_driver(driver, results):
    app = App()
    pool = make_pool(driver, "{}/{}".format(ZPOOL, driver))
    await pool.setup()
    app.pools[driver] = pool
    with Meter() as m:
        tpl = VM(app, "tpl", template_config(driver, root=64 * MiB, private=32 * MiB,
                                               volatile=64 * MiB))
        await tpl.storage.create()
    results[(driver, "template create")] = [m]
    await tpl.storage.start()
    write(tpl.volumes["root"], os.urandom(MiB))
    await tpl.storage.stop()

    def appvm(name):
        return VM(app, name, appvm_config(driver, private=32 * MiB, volatile=64 * MiB),
                  template=tpl)

    for step in ("create", "start", "stop", "remove"):
        results[(driver, "1 AppVM " + step)] = []
    for i in range(RUNS):
        vm = appvm("single{}".format(i))
        for step in ("create", "start", "stop", "remove"):
            with Meter() as m:
                await getattr(vm.storage, step)()
            results[(driver, "1 AppVM " + step)].append(m)
    for i in range(RUNS):  # the rounds take turns, so that a slow spell spreads over all
        for n in (1, 5, 10):
            vms = [appvm("at{}x{}r{}".format(n, j, i)) for j in range(n)]
            await asyncio.gather(*(vm.storage.create() for vm in vms))
            for step in ("start", "stop", "remove"):
                with Meter() as m:
                    await asyncio.gather(*(getattr(vm.storage, step)() for vm in vms))
                results.setdefault((driver, "{} AppVMs {} at once".format(n, step)), []).append(m)
    await tpl.storage.remove()
    await pool.destroy()


def calibrate():
    """One bare `zfs snapshot` and one `zfs destroy` of it: the machine's pace, per driver's
    half of the run."""
    ms = []
    for i in range(RUNS):
        with Meter() as m:
            subprocess.run(["zfs", "snapshot", "{}@cal{}".format(ZPOOL, i)], check=True)
            subprocess.run(["zfs", "destroy", "{}@cal{}".format(ZPOOL, i)], check=True)
        ms.append(m)
    return ms


def bare_at_once(n, tag):
    """n bare `zfs snapshot` + `zfs destroy` pairs at once, each pair in a thread of its own:
    how near the CPU-bound limit ZFS itself comes in this machine with n callers."""
    failed = []

    def pair(i):
        snap = "{}@{}x{}".format(ZPOOL, tag, i)
        for argv in (["zfs", "snapshot", snap], ["zfs", "destroy", snap]):
            if subprocess.run(argv, check=False).returncode != 0:
                failed.append(" ".join(argv))

    threads = [threading.Thread(target=pair, args=(i,)) for i in range(n)]
    with Meter() as m:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if failed:
        raise RuntimeError("bare zfs failed: " + "; ".join(failed))
    return m


def median(meters, key):
    return statistics.median(getattr(m, key) for m in meters)


def main():
    if hasattr(qubes.storage, "VOLUME_STATE_DIR"):  # Qubes 4.3 notes running volumes in /run
        qubes.storage.VOLUME_STATE_DIR = os.environ["QZFS_BENCH_STATE"]
        os.makedirs(qubes.storage.VOLUME_STATE_DIR, exist_ok=True)
    results = {}  # (driver, step): [Meter]
    bare = {}  # N: [Meter] of N bare snapshot + destroy pairs at once
    for driver in ("intree", "ours"):
        results[(driver, "calibration: bare zfs snapshot + destroy")] = calibrate()
        for i in range(RUNS):
            for n in (1, 5, 10):
                bare.setdefault(n, []).append(bare_at_once(n, "{}{}r{}".format(driver, n, i)))
        asyncio.run(bench_driver(driver, results))
    steps = []
    for (driver, step) in results:
        if step not in steps:
            steps.append(step)
    print("# step: ours vs in-tree (medians): time ratio; ms; processes; txgs synced")
    for step in steps:
        ours, intree = results[("ours", step)], results[("intree", step)]
        o_ms, i_ms = median(ours, "ms"), median(intree, "ms")
        print("{:<44} {:5.2f}x   ms {:7.0f} / {:7.0f}   procs {:3.0f} / {:3.0f}   "
              "txgs {:3.0f} / {:3.0f}".format(
                  step, o_ms / i_ms if i_ms else 0, o_ms, i_ms,
                  median(ours, "procs"), median(intree, "procs"),
                  median(ours, "txgs"), median(intree, "txgs")))
    print("# where our qzfs runs spent their time, per phase (all runs of the step summed; "
          "'run' is each process from main to exit; the rest of a step's time is process "
          "start-up and the driver)")
    for step in ("1 AppVM start", "1 AppVM stop", "1 AppVM remove", "5 AppVMs start at once",
                 "5 AppVMs stop at once", "5 AppVMs remove at once"):
        meter = results[("ours", step)][-1]
        parts = sorted(meter.phases.items(), key=lambda kv: -kv[1][1])
        print("{} ({:.0f} ms): {}".format(step, meter.ms, ", ".join(
            "{} {}x {:.0f} ms".format(name, count, us / 1000) for name, (count, us) in parts)))
    for n in (5, 10):
        one, many = median(bare[1], "ms"), median(bare[n], "ms")
        print("bare zfs: {} snapshot + destroy pairs at once: {:.2f}x one alone, {:.2f}x the "
              "CPU-bound limit (N / cores x one)".format(n, many / one,
                                                        many / (n / os.cpu_count() * one)))
    for driver in ("ours", "intree"):
        for step in ("start", "stop", "remove"):
            one = median(results[(driver, "1 AppVMs {} at once".format(step))], "ms")
            for n in (5, 10):
                many = median(results[(driver, "{} AppVMs {} at once".format(n, step))], "ms")
                limit = n / os.cpu_count() * one
                print("{} {} AppVMs {} at once: {:.2f}x one alone, {:.2f}x the CPU-bound "
                      "limit (N / cores x one)".format(driver, n, step, many / one,
                                                       many / limit))


if __name__ == "__main__":
    main()
