#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The demo's Qubes part (runs in the test VM, on real ZFS): the zfs_zvol driver driven the way
qubesd drives it — a pool added with `qvm-pool add`, a template, an AppVM, a disposable, a
clone, revisions and a revert — printing what happens and what ZFS holds.

    demo_driver.py ZPOOL    (QZFS_BINARY names the qzfs to use)

qubesd itself is not here: the driver runs against the stand-in `qubes` package the tests use
(tests/python/standin), which calls drivers exactly as qubesd does."""

import asyncio
import hashlib
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "python"), os.path.join(ROOT, "tests", "python", "standin"),
                os.path.join(ROOT, "tests", "python"), os.path.join(ROOT, "scripts")]

import dist_info  # noqa: E402
import qubes.storage  # noqa: E402
from zfs_harness import App, VM, appvm_config, dispvm_config, template_config  # noqa: E402

MiB = 1024 * 1024


def say(text):
    print("\n\033[1m# {}\033[0m".format(text), flush=True)


def show(what, value):
    print("  {:<44} {}".format(what, value), flush=True)


def fingerprint(volume):
    with open(volume.block_device().path, "rb") as dev:
        return hashlib.sha256(dev.read(MiB)).hexdigest()[:12]


def fill(volume, seed):
    with open(volume.block_device().path, "r+b") as dev:
        dev.write(hashlib.sha256(seed.encode()).digest() * (MiB // 32))
        dev.flush()
        os.fsync(dev.fileno())


async def main(zpool):
    app = App()
    say("qvm-pool add vms zfs_zvol -o dataset={}/qubes".format(zpool))
    pool = qubes.storage.load_pool("zfs_zvol", "vms", dataset=zpool + "/qubes",
                                   revisions_to_keep="2", ephemeral_volatile="True")
    await pool.setup()
    app.pools["vms"] = pool
    show("pool size / usage", "{} / {} bytes".format(pool.size, pool.usage))

    say("qvm-create --class TemplateVM fedora: root, private, volatile (created concurrently)")
    tpl = VM(app, "fedora", template_config("vms", root=256 * MiB, private=128 * MiB))
    await tpl.storage.create()
    await tpl.storage.start()
    fill(tpl.volumes["root"], "fedora 41")
    show("template root written while running", fingerprint(tpl.volumes["root"]))
    await tpl.storage.stop()
    show("committed at stop; revisions of root", sorted(tpl.volumes["root"].revisions))

    say("the template starts again and installs updates (not committed yet)")
    await tpl.storage.start()
    fill(tpl.volumes["root"], "fedora 41 + updates")
    show("template root now", fingerprint(tpl.volumes["root"]))

    say("qvm-start work (an AppVM of fedora) while the template runs")
    work = VM(app, "work", appvm_config("vms", private=128 * MiB), template=tpl)
    await work.storage.create()
    await work.storage.start()
    show("AppVM root = template's committed root", fingerprint(work.volumes["root"]))
    for dev in work.storage.block_devices():
        show("libvirt gets " + dev.name, dev.path)
    fill(work.volumes["private"], "my documents")
    await tpl.storage.stop()
    await pool.refresh()
    show("template committed its updates: outdated?", work.volumes["root"].is_outdated())
    await work.storage.stop()
    await work.storage.start()
    show("after a restart the AppVM root is", fingerprint(work.volumes["root"]))
    show("and its private volume kept", fingerprint(work.volumes["private"]))
    await work.storage.stop()

    say("a disposable of work: root and private from work's committed state, nothing kept")
    disp = VM(app, "disp42", dispvm_config("vms"), template=work)
    await disp.storage.start()
    show("disposable private = work's private", fingerprint(disp.volumes["private"]))
    fill(disp.volumes["private"], "scratch")
    await disp.storage.stop()
    await disp.storage.remove()

    say("revisions and a revert of work's private volume (nothing is destroyed)")
    for session in ("monday", "tuesday"):
        await work.storage.start()
        fill(work.volumes["private"], session)
        await work.storage.stop()
        show("session {} committed".format(session), fingerprint_committed(
            await export(work.volumes["private"])))
    revisions = work.volumes["private"].revisions
    show("revisions (id: UTC time)", revisions)
    newest = max(revisions, key=lambda r: (revisions[r], int(r[1:])))
    await work.volumes["private"].revert(newest)
    show("after revert to {} (monday's state)".format(newest),
         fingerprint_committed(await export(work.volumes["private"])))

    say("qvm-clone work work2: create + import_volume (an instant ZFS clone)")
    work2 = VM(app, "work2", appvm_config("vms", private=128 * MiB), template=tpl)
    for name in ("private", "volatile", "root"):
        await work2.storage.clone_volume(work, name)
    await work2.storage.start()
    show("work2 private = work private", fingerprint(work2.volumes["private"]))
    await work2.storage.stop()

    say("what ZFS holds")
    subprocess.run(["zfs", "list", "-t", "all", "-r", "-o", "name,used,refer,origin",
                    zpool + "/qubes"], check=False)
    await pool.refresh()
    show("pool size / usage / health", "{} / {} / {}".format(
        pool.size, pool.usage, pool.usage_details.get("zpool_health")))


async def export(volume):
    """Reads the committed data through export(), as qvm-backup does."""
    path = await volume.export()
    try:
        with open(path, "rb") as dev:
            return dev.read(MiB)
    finally:
        await volume.export_end(path)


def fingerprint_committed(data):
    return hashlib.sha256(data).hexdigest()[:12]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as site:
        dist_info.write(site)
        sys.path.insert(0, site)
        os.environ.setdefault("QZFS_LOCK_DIR", os.path.join(site, "locks"))
        asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "demo"))
