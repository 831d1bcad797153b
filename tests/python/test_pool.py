# SPDX-License-Identifier: BSD-2-Clause
"""The zfs_zvol pool as qubesd sees it: registration, options, a pool that cannot break
qubes.xml loading, errors, and the cache behind the synchronous properties."""

import asyncio
import os
import threading
import unittest

import qubes.storage
from qubes_storage_zfs import qzfs

from zfs_harness import MiB, PoolTestCase, load_pool, template_config, write


class Registration(unittest.TestCase):
    def test_driver_is_found_by_its_entry_point(self):
        self.assertIn("zfs_zvol", qubes.storage.pool_drivers())

    def test_options_are_the_documented_ones(self):
        # the stand-in says which are required; Qubes 4.2 and 4.3 list their names
        self.assertEqual(list(qubes.storage.driver_parameters("zfs_zvol")),
                         ["dataset", "block_devices", "revisions_to_keep", "ephemeral_volatile"])

    def test_unknown_option_is_refused_before_the_driver_runs(self):
        with self.assertRaises(qubes.exc.QubesValueError):
            load_pool("zfs_zvol", "p", dataset="tank/q", thin_pool="x")

    def test_config_rebuilds_the_same_pool(self):
        pool = load_pool("zfs_zvol", "p", dataset="tank/q",
                                       block_devices="/dev/vdb,/dev/vdc",
                                       revisions_to_keep="3", ephemeral_volatile="True")
        config = dict(pool.config)
        self.assertEqual(config, {"name": "p", "driver": "zfs_zvol", "dataset": "tank/q",
                                  "block_devices": "/dev/vdb /dev/vdc",
                                  "revisions_to_keep": "3", "ephemeral_volatile": "True"})
        del config["name"], config["driver"]
        again = load_pool("zfs_zvol", "p", **config)
        self.assertEqual(again.config, pool.config)
        self.assertEqual(again.block_devices, ["/dev/vdb", "/dev/vdc"])
        self.assertTrue(again.ephemeral_volatile)
        self.assertEqual(again.revisions_to_keep, 3)


class VolumeConfig(PoolTestCase):
    async def test_a_bad_revisions_to_keep_in_qubes_xml_loads_and_explains_itself(self):
        config = template_config("vms")
        config["private"]["revisions_to_keep"] = "-2"
        vm = self.vm("fedora", config)  # qubes.xml loading: nothing raises
        with self.assertRaisesRegex(qubes.storage.StoragePoolException, "revisions_to_keep"):
            await vm.volumes["private"].create()


class Degraded(PoolTestCase):
    """Whatever is wrong, building the pool and reading its properties never raises; using it
    explains the problem."""

    async def asyncSetUp(self):
        pass

    async def test_bad_options_load_and_explain_themselves_when_used(self):
        for options, words in (({"revisions_to_keep": "many"}, "revisions_to_keep"),
                               ({"ephemeral_volatile": "perhaps"}, "ephemeral_volatile"),
                               ({"dataset": "tank/a@b"}, "dataset name")):
            opts = {"dataset": self.dataset, **options}
            pool = load_pool("zfs_zvol", "bad", **opts)
            self.assertIsNone(pool.size)
            self.assertEqual(pool.list_volumes(), [])
            with self.assertRaisesRegex(qubes.storage.StoragePoolException, words):
                await pool.setup()

    async def test_missing_qzfs_gives_a_pool_that_says_so(self):
        saved = qzfs.BINARY
        qzfs.BINARY = os.path.join(self.tmp, "no-such-qzfs")
        try:
            pool = load_pool("zfs_zvol", "p", dataset=self.dataset)
            self.assertIsNone(pool.usage)
            with self.assertRaisesRegex(qubes.storage.StoragePoolException, "cannot run"):
                await pool.setup()
        finally:
            qzfs.BINARY = saved

    async def test_unavailable_is_said_when_read_not_when_loaded(self):
        """qvm-pool add loads the pool (its listing fails: no dataset yet), then sets it up."""
        with self.assertNoLogs("qubes.storage.zfs_zvol", level="WARNING"):
            pool = load_pool("zfs_zvol", "p", dataset=self.dataset)
            pool._lister.join()  # pylint: disable=protected-access  (it has failed by now)
            await pool.setup()
            self.assertEqual(pool.list_volumes(), [])
        gone = load_pool("zfs_zvol", "q", dataset=self.dataset + "-gone")
        with self.assertLogs("qubes.storage.zfs_zvol", level="WARNING") as logs:
            self.assertIsNone(gone.size)
            self.assertIsNone(gone.usage)
        self.assertEqual(len(logs.output), 1)
        self.assertIn("pool q is unavailable", logs.output[0])

    async def test_pool_that_does_not_exist_yet_reads_as_empty(self):
        pool = load_pool("zfs_zvol", "p", dataset=self.dataset)
        self.assertEqual(pool.list_volumes(), [])
        with self.assertRaises(KeyError):
            pool.get_volume("work/private")


class Cache(PoolTestCase):
    async def test_sync_properties_never_list_on_the_event_loop(self):
        tpl = await self.new_vm("fedora", template_config("vms"))
        await tpl.storage.start()
        await tpl.storage.stop()
        on_loop = []  # qzfs runs made by the thread of qubesd's event loop (this one)
        real_run_sync = qzfs.run_sync

        def watched(*args):
            if threading.current_thread() is threading.main_thread():
                on_loop.append(args)
            return real_run_sync(*args)

        qzfs.run_sync = watched
        try:
            pool = self.reload_pool()  # qubesd restarted: its listing starts as the pool loads
            tpl2 = self.vm("fedora", template_config("vms"))
            for _ in range(50):
                for vol in tpl2.volumes.values():
                    vol.size, vol.usage, vol.revisions, vol.is_dirty(), vol.is_outdated()
                pool.size, pool.usage, pool.usage_details, pool.list_volumes()
            await tpl2.storage.start()
            await tpl2.storage.stop()
            for vol in tpl2.volumes.values():
                vol.size, vol.revisions
        finally:
            qzfs.run_sync = real_run_sync
        self.assertEqual(on_loop, [])
        self.assertEqual(sorted(v.vid for v in pool.list_volumes()),
                         ["fedora/private", "fedora/root"])
        self.assertEqual(tpl2.volumes["root"].size, 64 * MiB)

    async def test_background_listings_are_never_tasks_of_the_loop(self):
        # a task still pending when qubesd's loop closes is logged as destroyed
        tpl = await self.new_vm("fedora", template_config("vms"))
        await tpl.storage.start()
        await tpl.storage.stop()
        self.pool.usage, tpl.volumes["root"].revisions  # stale: listed again, in the background
        ours = [t for t in asyncio.all_tasks() if "qubes_storage_zfs" in repr(t.get_coro())]
        self.assertEqual(ours, [])
        self.assertIsNotNone(self.pool._lister)

    def test_a_pool_shows_its_name_and_dataset(self):
        pool = load_pool("zfs_zvol", "vms", dataset="tank/q")
        self.assertEqual(repr(pool), "<ZFSZvolPool 'vms' on tank/q>")

    async def test_pool_figures_follow_changes(self):
        usage0, size = self.pool.usage, self.pool.size
        self.assertGreater(size, 0)
        tpl = await self.new_vm("fedora", template_config("vms"))
        await tpl.storage.start()
        write(tpl.volumes["root"], os.urandom(4 * MiB))
        await tpl.storage.stop()
        self.pool.usage  # asks for a listing in the background
        self.pool._lister.join()
        self.assertGreater(self.pool.usage, usage0)
        self.assertIn("zpool_health", self.pool.usage_details)

    async def test_errors_carry_qzfs_message(self):
        tpl = self.vm("fedora", template_config("vms"))  # never created
        with self.assertRaisesRegex(qubes.storage.StoragePoolException, "fedora/private"):
            await tpl.volumes["private"].start()

    async def test_bad_volume_name_is_refused_without_touching_zfs(self):
        vm = self.vm("we ird", template_config("vms"))
        with self.assertRaisesRegex(qubes.storage.StoragePoolException, "cannot name a zvol"):
            await vm.storage.create()


if __name__ == "__main__":
    unittest.main()
