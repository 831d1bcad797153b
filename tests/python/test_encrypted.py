# SPDX-License-Identifier: BSD-2-Clause
"""The zfs_encrypted driver: passphrase through a pipe, key loaded when needed and forgotten
`unload_timeout` after the pool's last VM stops, judged on real state."""

import asyncio
import logging
import os
import secrets
import subprocess

import qubes.storage
from qubes_storage_zfs import encrypted, qzfs

from zfs_harness import (BACKEND, ZPOOL, PoolTestCase, appvm_config, load_pool, open_device,
                         read, template_config, write)

HERE = os.path.dirname(os.path.abspath(__file__))
A, B = b"A" * 4096, b"B" * 4096
# unload_timeout of the tests' pools: it passes only when a test moves the clock on (Clock), so
# that nothing depends on how long a step takes (seconds, in the emulated test VM)
TIMEOUT = 600.0


class Clock:
    """The unload timer's clock, moved on by the tests (encrypted.ZFSEncryptedPool.clock)."""

    class Handle:
        def __init__(self, when, callback, args):
            self.when, self.callback, self.args, self.cancelled = when, callback, args, False

        def cancel(self):
            self.cancelled = True

    def __init__(self):
        self.now = 0.0
        self.handles = []

    def call_later(self, delay, callback, *args):
        handle = Clock.Handle(self.now + delay, callback, args)
        self.handles.append(handle)
        return handle

    def advance(self, seconds):
        """Runs, in order, what falls due in the next seconds."""
        self.now += seconds
        due = sorted((h for h in self.handles if h.when <= self.now and not h.cancelled),
                     key=lambda h: h.when)
        self.handles = [h for h in self.handles if h not in due and not h.cancelled]
        for handle in due:
            handle.callback(*handle.args)


class LogCapture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


class EncryptedTestCase(PoolTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()  # a plain pool: its dataset is the encrypted pools' parent
        self.passphrase = "pw-" + secrets.token_hex(12)  # made up here, so it is nowhere else
        self.asklog = os.path.join(self.tmp, "asked")
        os.environ.update({"QZFS_TEST_PASSPHRASE": self.passphrase,
                           "QZFS_TEST_ASKLOG": self.asklog})
        self.saved_askpass, encrypted.ASKPASS = encrypted.ASKPASS, os.path.join(
            HERE, "askpass-test")
        self.logs = LogCapture()
        logging.getLogger("qubes.storage").addHandler(self.logs)
        self.clock = encrypted.ZFSEncryptedPool.clock = Clock()
        self.pool_name = "sec" + self.dataset.rsplit("qt", 1)[-1]
        self.pool = await self.add_encrypted(self.pool_name)

    async def add_encrypted(self, name, **options):
        pool = load_pool("zfs_encrypted", name, zpool_name=self.zpool_root(),
                                       unload_timeout=str(TIMEOUT), **options)
        pool.pbkdf2_iters = 100000  # the fewest ZFS takes: the tests run under emulation
        await pool.setup()
        self.app.pools[name] = pool
        return pool

    def zpool_root(self):
        return self.dataset  # each test's own parent: <dataset>/encryption/<pool>

    def reload(self):
        """qubesd restarting: a new pool object from the old one's config."""
        config = dict(self.pool.config)
        del config["name"], config["driver"]
        self.pool.cancel_unload()
        pool = load_pool("zfs_encrypted", self.pool_name, **config)
        self.app.pools[self.pool_name] = self.pool = pool
        return pool

    async def after_timeout(self):
        """Lets unload_timeout pass (on the tests' clock), and the check it starts finish."""
        await asyncio.sleep(0)  # a reloaded pool schedules its unload on the next round
        before = self.pool.unload_check
        self.clock.advance(TIMEOUT)
        if self.pool.unload_check is not before:
            await self.pool.unload_check

    def asked(self):
        try:
            with open(self.asklog, encoding="utf-8") as f:
                return len(f.readlines())
        except FileNotFoundError:
            return 0

    async def key_loaded(self):
        return await self.pool.key_loaded()

    async def asyncTearDown(self):
        for pool in self.app.pools.values():
            if hasattr(pool, "cancel_unload"):
                pool.cancel_unload()
                if pool.unload_check is not None:
                    await pool.unload_check
        await super().asyncTearDown()
        encrypted.ASKPASS = self.saved_askpass
        encrypted.ZFSEncryptedPool.clock = None
        logging.getLogger("qubes.storage").removeHandler(self.logs)
        for k in ("QZFS_TEST_PASSPHRASE", "QZFS_TEST_ASKLOG"):
            os.environ.pop(k, None)

    def tearDown(self):
        if BACKEND == "real":  # the encrypted children first, then the parent
            subprocess.run(["zfs", "destroy", "-r", "-f", self.dataset], check=False,
                           stderr=subprocess.DEVNULL)
        super().tearDown()


class Encrypted(EncryptedTestCase):
    async def test_lifecycle_and_the_key_forgotten_after_the_timeout(self):
        self.assertEqual(self.asked(), 1)  # setup asks (twice, in the prompt)
        with open(self.asklog, encoding="utf-8") as f:
            self.assertIn("--confirm", f.read())
        tpl = await self.new_vm("fedora", template_config(self.pool_name))
        await tpl.storage.start()
        write(tpl.volumes["private"], A)
        await tpl.storage.stop()
        self.assertEqual(self.asked(), 1)  # the key was loaded: nobody asked
        await self.after_timeout()
        self.assertFalse(await self.key_loaded())
        await tpl.storage.start()  # asks again
        self.assertEqual(self.asked(), 2)
        self.assertEqual(read(tpl.volumes["private"], 4096), A)
        await self.after_timeout()
        self.assertTrue(await self.key_loaded())  # a VM runs: the key stays
        await tpl.storage.stop()
        await self.after_timeout()
        self.assertFalse(await self.key_loaded())

    async def test_several_volumes_starting_at_once_ask_once(self):
        tpl = await self.new_vm("fedora", template_config(self.pool_name))
        app = await self.new_vm("work", appvm_config(self.pool_name), template=tpl)
        await qzfs.run("key", "unload", self.pool.dataset)
        await asyncio.gather(tpl.storage.start(), app.storage.start())
        self.assertEqual(self.asked(), 2)  # setup, then one prompt for six volumes
        await asyncio.gather(tpl.storage.stop(), app.storage.stop())

    async def test_wrong_passphrase_then_the_right_one(self):
        tpl = await self.new_vm("fedora", template_config(self.pool_name))
        await qzfs.run("key", "unload", self.pool.dataset)
        os.environ["QZFS_TEST_PASSPHRASE"] = self.passphrase + "x"
        with self.assertRaisesRegex(qubes.storage.StoragePoolException, "wrong passphrase"):
            await tpl.storage.start()
        self.assertFalse(tpl.storage.running)
        self.assertFalse(await self.key_loaded())
        os.environ["QZFS_TEST_PASSPHRASE"] = ""  # the user cancels the prompt
        with self.assertRaisesRegex(qubes.storage.StoragePoolException, "no passphrase"):
            await tpl.storage.start()
        os.environ["QZFS_TEST_PASSPHRASE"] = self.passphrase
        await tpl.storage.start()
        self.assertTrue(await self.key_loaded())
        await tpl.storage.stop()

    async def test_qubesd_restart_with_a_vm_running_and_with_none(self):
        tpl = await self.new_vm("fedora", template_config(self.pool_name))
        await tpl.storage.start()
        self.reload()
        tpl2 = self.vm("fedora", template_config(self.pool_name))
        tpl2.storage.running = True  # qubesd finds the VM running
        await self.after_timeout()  # the reloaded pool checked: a VM runs
        self.assertTrue(await self.key_loaded())
        await tpl2.storage.stop()
        await self.after_timeout()
        self.assertFalse(await self.key_loaded())

        await self.pool.ensure_key()  # loaded again; qubesd restarts with no VM running
        self.reload()
        self.vm("fedora", template_config(self.pool_name))
        await self.after_timeout()
        self.assertFalse(await self.key_loaded())

    async def test_a_start_while_the_key_is_being_unloaded_gets_it_back(self):
        tpl = await self.new_vm("fedora", template_config(self.pool_name))
        self.pool.cancel_unload()
        check = asyncio.get_running_loop().create_task(self.pool._unload_if_idle())
        await asyncio.sleep(0)  # the check has begun: nothing runs, it unloads the key
        await tpl.storage.start()  # waits for it, then asks for the passphrase again
        await check
        self.assertTrue(await self.key_loaded())
        self.assertEqual(self.asked(), 2)
        write(tpl.volumes["private"], A)
        await tpl.storage.stop()

    async def test_an_open_zvol_keeps_the_key(self):
        tpl = await self.new_vm("fedora", template_config(self.pool_name))
        await tpl.storage.start()
        write(tpl.volumes["private"], A)
        await tpl.storage.stop()
        path = await tpl.volumes["private"].export()  # e.g. a backup reading it
        with open_device(path) as held:
            await self.after_timeout()
            self.assertTrue(await self.key_loaded())  # an export is under way
            self.assertEqual(held.read(4096), A)
            with self.assertRaises(qubes.storage.StoragePoolException):
                await qzfs.run("key", "unload", self.pool.dataset)  # ZFS refuses too
        await tpl.volumes["private"].export_end(path)
        await self.after_timeout()
        self.assertFalse(await self.key_loaded())

    async def test_change_of_passphrase(self):
        tpl = await self.new_vm("fedora", template_config(self.pool_name))
        new = "pw-" + secrets.token_hex(12)
        proc = await asyncio.create_subprocess_exec(
            qzfs.BINARY, "key", "change", self.pool.dataset, "--pbkdf2-iters", "100000",
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        await proc.communicate((new + "\n").encode())
        self.assertEqual(proc.returncode, 0)
        await qzfs.run("key", "unload", self.pool.dataset)
        with self.assertRaisesRegex(qubes.storage.StoragePoolException, "wrong passphrase"):
            await tpl.storage.start()
        os.environ["QZFS_TEST_PASSPHRASE"] = self.passphrase = new
        await tpl.storage.start()
        await tpl.storage.stop()

    async def test_ephemeral_volatile_in_an_encrypted_pool(self):
        pool = await self.add_encrypted("eph" + self.pool_name, ephemeral_volatile="True")
        tpl = await self.new_vm("fedora", template_config(pool.name))
        app = await self.new_vm("work", appvm_config(pool.name), template=tpl)
        await app.storage.start()
        self.assertTrue(app.volumes["volatile"].ephemeral)
        write(app.volumes["volatile"], B)
        await app.storage.stop()
        await app.storage.start()
        self.assertEqual(read(app.volumes["volatile"], 4096), b"\0" * 4096)
        await app.storage.stop()
        pool.cancel_unload()

    async def test_the_passphrase_is_found_nowhere(self):
        tpl = await self.new_vm("fedora", template_config(self.pool_name))
        await qzfs.run("key", "unload", self.pool.dataset)
        await tpl.storage.start()
        write(tpl.volumes["private"], A)
        await tpl.storage.stop()
        needle = self.passphrase.encode()
        self.assertFalse([l for l in self.logs.lines if self.passphrase in l])
        places = [self.tmp, "/var/log", "/run"]  # this test's files (the model), logs, state
        found = subprocess.run(["grep", "-r", "-l", "-a", "-F", "--", self.passphrase]
                               + [p for p in places if os.path.exists(p)],
                               capture_output=True, check=False)
        self.assertEqual(found.stdout.decode(), "", "the passphrase is in these files")
        if BACKEND == "real":  # and not on the zpool's disks either
            devices = subprocess.run(["zpool", "list", "-v", "-H", "-P", "-o", "name", ZPOOL],
                                     capture_output=True, text=True, check=True).stdout
            for dev in [w for w in devices.split() if w.startswith("/dev/")]:
                hit = subprocess.run(["grep", "-c", "-a", "-F", "--", self.passphrase, dev],
                                     capture_output=True, check=False)
                self.assertEqual(hit.returncode, 1, "the passphrase is on " + dev)
        self.assertNotIn(needle, b"".join(line.encode() for line in self.logs.lines))
