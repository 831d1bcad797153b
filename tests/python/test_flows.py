# SPDX-License-Identifier: BSD-2-Clause
"""Qubes flows driven through the Python driver as qubesd drives it (the volumes of a VM
started and stopped concurrently), on the stored model or on real ZFS."""

import asyncio
import hashlib
import os

import qubes.storage

from zfs_harness import (MiB, PoolTestCase, appvm_config, digest, dispvm_config, open_device,
                         read, template_config, write)

A, B, C = b"A" * 4096, b"B" * 4096, b"C" * 4096


class Lifecycles(PoolTestCase):
    async def test_template_appvm_and_disposable(self):
        tpl = await self.new_vm("fedora", template_config("vms"))
        await tpl.storage.start()
        write(tpl.volumes["root"], A)
        write(tpl.volumes["private"], A)
        write(tpl.volumes["volatile"], A)
        await tpl.storage.stop()
        self.assertEqual(len(tpl.volumes["root"].revisions), 1)  # the state before: empty

        app = await self.new_vm("work", appvm_config("vms"), template=tpl)
        await app.storage.start()
        root, private, volatile = (app.volumes[n] for n in ("root", "private", "volatile"))
        self.assertEqual(read(root, 4096), A)  # the template's committed root
        self.assertEqual(read(private, 4096), b"\0" * 4096)  # its own, fresh private
        self.assertEqual(read(volatile, 4096), b"\0" * 4096)
        self.assertEqual(root.size, 64 * MiB)
        write(root, B)
        write(private, B)
        write(volatile, B)
        self.assertTrue(private.is_dirty())
        await app.storage.stop()
        self.assertFalse(private.is_dirty())

        await app.storage.start()
        self.assertEqual(read(app.volumes["root"], 4096), A)  # root changes are discarded
        self.assertEqual(read(app.volumes["private"], 4096), B)  # private ones are kept
        self.assertEqual(read(app.volumes["volatile"], 4096), b"\0" * 4096)
        await app.storage.stop()

        disp = await self.new_vm("disp7", dispvm_config("vms"), template=app)
        await disp.storage.start()
        self.assertEqual(read(disp.volumes["root"], 4096), A)
        self.assertEqual(read(disp.volumes["private"], 4096), B)  # the AppVM's committed private
        write(disp.volumes["private"], C)
        await disp.storage.stop()
        await disp.storage.remove()
        await app.storage.start()
        self.assertEqual(read(app.volumes["private"], 4096), B)  # untouched by the disposable
        await app.storage.stop()
        vids = sorted(v.vid for v in self.pool.list_volumes())
        self.assertEqual(vids, ["fedora/private", "fedora/root", "work/private"])
        # every volume of these VMs is in this pool: nothing falls back to image files
        for vol in app.volumes.values():
            self.assertIs(vol.pool, self.pool)
            self.assertTrue(vol.dataset.startswith(self.dataset + "/"))
            self.assertFalse(vol.block_device().path.startswith("/var/lib/qubes"))

    async def test_appvm_started_while_its_template_runs_sees_the_committed_state(self):
        tpl = await self.new_vm("fedora", template_config("vms"))
        await tpl.storage.start()
        write(tpl.volumes["root"], A)
        await tpl.storage.stop()
        await tpl.storage.start()
        write(tpl.volumes["root"], B)  # the template is being updated
        app = await self.new_vm("work", appvm_config("vms"), template=tpl)
        await app.storage.start()
        self.assertEqual(read(app.volumes["root"], 4096), A)
        self.assertFalse(app.volumes["root"].is_outdated())
        await tpl.storage.stop()  # the update is committed: the AppVM's root is now outdated,
        self.assertTrue(app.volumes["root"].is_outdated())  # as soon as the stop returns
        await app.storage.stop()
        await app.storage.start()
        self.assertEqual(read(app.volumes["root"], 4096), B)
        self.assertFalse(app.volumes["root"].is_outdated())
        await app.storage.stop()

    async def test_start_again_without_stop_and_stop_when_halted(self):
        tpl = await self.new_vm("fedora", template_config("vms"))
        await tpl.storage.stop()  # qubesd stops every halted VM when it starts
        await tpl.storage.start()
        write(tpl.volumes["private"], A)
        await tpl.storage.start()  # a VM start that failed later is not rolled back
        self.assertEqual(read(tpl.volumes["private"], 4096), A)
        await tpl.storage.stop()
        await tpl.storage.stop()
        self.assertEqual(await self.committed(tpl.volumes["private"]), A)


class Data(PoolTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.tpl = await self.new_vm("fedora", template_config("vms"))

    async def test_import_data_and_export_round_trip(self):
        private = self.tpl.volumes["private"]
        data = os.urandom(3 * MiB)
        path = await private.import_data(32 * MiB)
        self.assertEqual(read(path, 4096), b"\0" * 4096)  # a fresh target reads as zeros
        with open_device(path, "r+b") as f:
            f.write(data)
        await private.import_data_end(True)
        exported = await private.export()
        try:
            self.assertEqual(digest(exported, 3 * MiB), digest_bytes(data))
        finally:
            await private.export_end(exported)
        # a failed import changes nothing
        path = await private.import_data(32 * MiB)
        with open_device(path, "r+b") as f:
            f.write(b"junk" * 1024)
        await private.import_data_end(False)
        self.assertEqual(await self.committed(private, 3 * MiB), data)

    async def test_export_of_a_running_volume_gives_the_state_before_start(self):
        await self.tpl.storage.start()
        write(self.tpl.volumes["private"], A)
        await self.tpl.storage.stop()
        await self.tpl.storage.start()
        write(self.tpl.volumes["private"], B)
        self.assertEqual(await self.committed(self.tpl.volumes["private"]), A)
        await self.tpl.storage.stop()
        self.assertEqual(await self.committed(self.tpl.volumes["private"]), B)

    async def test_revert_and_revert_the_revert(self):
        private = self.tpl.volumes["private"]
        for data in (A, B, C):
            await self.tpl.storage.start()
            write(private, data)
            await self.tpl.storage.stop()
        revisions = private.revisions
        self.assertEqual(len(revisions), 1)  # the pool keeps 1 revision by default
        for when in revisions.values():
            self.assertRegex(when, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
        await private.revert()
        self.assertEqual(await self.committed(private), B)
        self.assertEqual(len(private.revisions), 1)  # what it replaced (C) is a revision now
        await private.revert(next(iter(private.revisions)))
        self.assertEqual(await self.committed(private), C)
        with self.assertRaises(qubes.storage.StoragePoolException):
            await private.revert("r999")

    async def test_resize_of_a_running_volume(self):
        await self.tpl.storage.start()
        private = self.tpl.volumes["private"]
        write(private, A)
        await private.resize(48 * MiB)
        self.assertEqual(private.size, 48 * MiB)
        self.assertEqual(os.path.getsize(private.block_device().path)
                         if os.path.isfile(private.block_device().path)
                         else blockdev_size(private.block_device().path), 48 * MiB)
        with self.assertRaisesRegex(qubes.storage.StoragePoolException, "shrink"):
            await private.resize(16 * MiB)
        self.assertEqual(private.size, 48 * MiB)
        await self.tpl.storage.stop()
        self.assertEqual(await self.committed(private), A)

    async def test_clone_vm_from_our_pool_and_from_another_driver(self):
        await self.tpl.storage.start()
        write(self.tpl.volumes["private"], A)
        await self.tpl.storage.stop()
        clone = self.vm("fedora-clone", template_config("vms"))
        for name in ("root", "private", "volatile"):  # qvm-clone passes every volume
            result = await clone.storage.clone_volume(self.tpl, name)
            self.assertIs(result, clone.volumes[name])
        self.assertEqual(await self.committed(clone.volumes["private"]), A)
        # an AppVM too: its root is a snapshot of its template's, and stays one
        app = await self.new_vm("work", appvm_config("vms"), template=self.tpl)
        await app.storage.start()
        write(app.volumes["private"], B)
        await app.storage.stop()
        app2 = self.vm("work2", appvm_config("vms"), template=self.tpl)
        for name in ("private", "volatile", "root"):
            await app2.storage.clone_volume(app, name)
        self.assertIs(app2.volumes["root"].source, self.tpl.volumes["root"])
        await app2.storage.start()
        self.assertEqual(read(app2.volumes["private"], 4096), B)
        await app2.storage.stop()

        foreign = FilePool(self.tmp)
        self.app.pools["files"] = foreign
        src = foreign.add("old/private", A * 4 + os.urandom(MiB))
        moved = self.vm("moved", {"private": {"pool": "vms", "size": str(32 * MiB),
                                              "rw": True, "save_on_stop": True}})
        await moved.volumes["private"].create()
        self.assertIs(await moved.volumes["private"].import_volume(src), moved.volumes["private"])
        self.assertEqual(await self.committed(moved.volumes["private"], 4 * 4096 + MiB),
                         src.data)
        self.assertEqual(src.exports, 0)  # export_end was called


class Recovery(PoolTestCase):
    async def test_qubesd_restart_stops_halted_vms_cheaply(self):
        tpl = await self.new_vm("fedora", template_config("vms"))
        app = await self.new_vm("work", appvm_config("vms"), template=tpl)
        await app.storage.start()
        await app.storage.stop()
        self.reload_pool()
        tpl2 = self.vm("fedora", template_config("vms"))
        app2 = self.vm("work", appvm_config("vms"), template=tpl2)
        await asyncio.gather(tpl2.storage.stop(), app2.storage.stop())
        self.assertEqual(len(tpl2.volumes["private"].revisions), 0)  # no empty commits

    async def test_power_loss_keeps_the_uncommitted_state(self):
        tpl = await self.new_vm("fedora", template_config("vms"))
        await tpl.storage.start()
        write(tpl.volumes["private"], A)
        await tpl.storage.stop()
        await tpl.storage.start()
        write(tpl.volumes["private"], B)
        # power lost: no stop(); qubesd comes back
        self.reload_pool()
        tpl2 = self.vm("fedora", template_config("vms"))
        self.assertTrue(tpl2.volumes["private"].is_dirty())
        await tpl2.storage.start()
        self.assertEqual(read(tpl2.volumes["private"], 4096), B)
        await tpl2.storage.stop()
        self.assertFalse(tpl2.volumes["private"].is_dirty())

    async def test_what_a_power_loss_left_started_is_stopped_at_qubesd_start(self):
        """qubesd stops every halted VM when it starts; stops of volumes known to be stopped
        are skipped, but one the power loss left started is committed or discarded then."""
        tpl = await self.new_vm("fedora", template_config("vms"))
        app = await self.new_vm("work", appvm_config("vms"), template=tpl)
        await app.storage.start()
        write(app.volumes["private"], B)
        write(app.volumes["volatile"], B)
        pool = self.reload_pool()  # power lost: no stop(); qubesd comes back
        app2 = self.vm("work", appvm_config("vms"), template=self.vm("fedora",
                                                                      template_config("vms")))
        self.assertTrue(app2.volumes["private"].is_dirty())  # the listing is made
        await app2.storage.stop()
        self.assertFalse(app2.volumes["private"].is_dirty())
        self.assertEqual(await self.committed(app2.volumes["private"]), B)
        for name in ("root", "volatile"):  # what a stop throws away is gone
            self.assertIsNone(pool.info(app2.volumes[name].dataset), name)

    async def test_engine_killed_mid_stop_then_started_again(self):
        tpl = await self.new_vm("fedora", template_config("vms"))
        await tpl.storage.start()
        write(tpl.volumes["private"], A)
        await tpl.storage.stop()
        await tpl.storage.start()
        write(tpl.volumes["private"], B)
        os.environ["QZFS_CRASH_AT"] = "1"  # qzfs dies at its first crash point: mid-commit
        try:
            with self.assertRaisesRegex(qubes.storage.StoragePoolException, "crash point"):
                await tpl.storage.stop()
        finally:
            del os.environ["QZFS_CRASH_AT"]
        await tpl.storage.start()
        self.assertEqual(read(tpl.volumes["private"], 4096), B)
        await tpl.storage.stop()
        self.assertEqual(await self.committed(tpl.volumes["private"]), B)


class Ephemeral(PoolTestCase):
    pool_options = {"ephemeral_volatile": "True"}

    async def test_ephemeral_volatile_is_a_zvol_not_dm_crypt(self):
        tpl = await self.new_vm("fedora", template_config("vms"))
        app = await self.new_vm("work", appvm_config("vms"), template=tpl)
        self.assertTrue(app.volumes["volatile"].ephemeral)
        await app.storage.start()  # the stand-in fails if the generic dm-crypt path is used
        devices = {d.name: d.path for d in app.storage.block_devices()}
        self.assertFalse(devices["volatile"].startswith("/dev/mapper/"), devices)
        write(app.volumes["volatile"], A)
        self.assertEqual(read(app.volumes["volatile"], 4096), A)
        await app.storage.stop()
        await app.storage.start()
        self.assertEqual(read(app.volumes["volatile"], 4096), b"\0" * 4096)
        await app.storage.stop()


class Scale(PoolTestCase):
    async def test_twenty_vms_start_at_once(self):
        tpl = await self.new_vm("fedora", template_config("vms"))
        await tpl.storage.start()
        write(tpl.volumes["root"], A)
        await tpl.storage.stop()
        apps = [await self.new_vm("app%d" % i, appvm_config("vms"), template=tpl)
                for i in range(20)]
        await asyncio.gather(*(a.storage.start() for a in apps))
        for i, a in enumerate(apps):
            self.assertEqual(read(a.volumes["root"], 4096), A)
            write(a.volumes["private"], bytes([i]) * 4096)
        await asyncio.gather(*(a.storage.stop() for a in apps))
        await asyncio.gather(*(a.storage.start() for a in apps))
        for i, a in enumerate(apps):
            self.assertEqual(read(a.volumes["private"], 4096), bytes([i]) * 4096)
        await asyncio.gather(*(a.storage.stop() for a in apps))


class NoSnapshots(PoolTestCase):
    async def test_revisions_minus_one_refuses_clones_while_running(self):
        tpl = await self.new_vm("fedora", template_config("vms", keep=-1))
        app = await self.new_vm("work", appvm_config("vms"), template=tpl)
        await tpl.storage.start()
        write(tpl.volumes["root"], A)
        with self.assertRaises(qubes.exc.QubesException):
            await app.storage.start()
        with self.assertRaises(qubes.storage.StoragePoolException):
            await tpl.volumes["root"].export()
        await tpl.storage.stop()
        self.assertEqual(tpl.volumes["root"].revisions, {})
        await app.storage.start()
        self.assertEqual(read(app.volumes["root"], 4096), A)
        await app.storage.stop()


def digest_bytes(data):
    return hashlib.sha256(data).hexdigest()


def blockdev_size(path):
    with open_device(path) as dev:
        return dev.seek(0, os.SEEK_END)


class FileVolume(qubes.storage.Volume):
    """A volume of another driver: all the generic import needs is export()."""

    def __init__(self, pool, vid, path, data):
        super().__init__(vid.rsplit("/", 1)[-1], pool, vid, size=len(data), rw=True,
                         save_on_stop=True)
        self.path, self.data, self.exports = path, data, 0

    async def export(self):
        self.exports += 1
        return self.path

    async def export_end(self, path):
        self.exports -= 1


class FilePool(qubes.storage.Pool):
    def __init__(self, directory):
        super().__init__(name="files")
        self.directory = directory

    def add(self, vid, data):
        path = os.path.join(self.directory, vid.replace("/", "-") + ".img")
        with open(path, "wb") as f:
            f.write(data)
        return FileVolume(self, vid, path, data)
