# SPDX-License-Identifier: BSD-2-Clause
"""The `zfs_encrypted` driver: zfs_zvol inside a natively encrypted dataset.

    qvm-pool add secret zfs_encrypted -o zpool_name=tank -o ask_password_domain=vault

The pool lives in `<zpool_name>/encryption/<pool>`, an encryption root (aes-256-gcm,
keyformat=passphrase). The passphrase is asked when a volume needs the key and it is not loaded:
in dom0 by a local prompt, elsewhere through the qrexec service
`qubes-storage-zfs.AskPassphrase` in `ask_password_domain`. The prompt's output is a pipe whose
other end is `qzfs key load`'s standard input: the passphrase never passes through this process.
The key is unloaded `unload_timeout` seconds after the last of the pool's VMs stopped, judged on
what is true then (are any of its VMs running? are any of its zvols open?), so a qubesd restart
loses nothing: an idle pool is scheduled for unloading when it is loaded.
"""

import asyncio
import logging
import os
import re
import subprocess
import weakref

import qubes.storage

from . import pool_dataset, qzfs
from .zvol import ZFSZvolPool, ZFSZvolVolume

LOGGER = logging.getLogger("qubes.storage.zfs_encrypted")

#: The prompt program (POOL DOMAIN [--confirm] -> the passphrase on stdout); QZFS_ASKPASS
#: overrides it (tests).
ASKPASS = os.environ.get("QZFS_ASKPASS", "/usr/libexec/qubes-storage-zfs/askpass")

# Qubes' rule for VM names (dom0 is one)
_VM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,30}$")

# commands that need the key loaded; stop and remove never do (qubesd stops every halted VM
# when it starts: that must not ask for a passphrase)
_NEEDS_KEY = {"create", "start", "resize", "revert", "import-data", "import-volume", "export"}


class ZFSEncryptedPool(ZFSZvolPool):
    """A zfs_zvol pool whose dataset is an encryption root with a passphrase."""

    driver = "zfs_encrypted"
    volume_class = None  # set below
    pbkdf2_iters = 350000  # ZFS's default; the tests use fewer
    #: What times the unload (call_later, as the event loop has it): the loop itself, or a
    #: clock the tests move on by hand, so that no test depends on how fast it runs
    clock = None

    def __init__(self, *, name, zpool_name, ask_password_domain="dom0", unload_timeout=1200,
                 revisions_to_keep=1, ephemeral_volatile=False):
        super().__init__(name=name,
                         dataset=pool_dataset("zfs_encrypted",
                                              {"zpool_name": zpool_name, "name": name}),
                         revisions_to_keep=revisions_to_keep,
                         ephemeral_volatile=ephemeral_volatile)
        self.zpool_name = str(zpool_name)
        self.ask_password_domain = str(ask_password_domain)
        if not _VM_NAME.match(self.ask_password_domain):
            self._problem = "ask_password_domain must name dom0 or a qube, not {!r}".format(
                ask_password_domain)
        try:
            self.unload_timeout = float(unload_timeout)
            if not 0 <= self.unload_timeout < 1e9:  # nan and inf too
                raise ValueError(unload_timeout)
        except (TypeError, ValueError):
            self.unload_timeout = 1200.0
            self._problem = "unload_timeout must be a number of seconds, not {!r}".format(
                unload_timeout)
        self._vms = weakref.WeakValueDictionary()  # vid -> the VM, to ask it if it runs
        self._key_lock = None
        self._key_check = None  # the task checking (and loading) the key, shared
        self._unload_timer = None
        self.unload_check = None  # the task of the last check (tests wait for it)
        self.busy = 0  # commands needing the key that are under way
        self.exports = 0  # exports not yet ended: their paths need the key
        try:  # a qubesd restart: an idle pool's key must not stay loaded for ever
            asyncio.get_event_loop().call_soon(self.schedule_unload)
        except RuntimeError:
            pass

    @property
    def config(self):
        return {
            "name": self.name,
            "driver": self.driver,
            "zpool_name": self.zpool_name,
            "ask_password_domain": self.ask_password_domain,
            "unload_timeout": str(int(self.unload_timeout)) if self.unload_timeout.is_integer()
            else str(self.unload_timeout),
            "revisions_to_keep": str(self.revisions_to_keep),
            "ephemeral_volatile": str(self.ephemeral_volatile),
        }

    def init_volume(self, vm, volume_config):
        volume = super().init_volume(vm, volume_config)
        self._vms[volume.vid] = vm
        return volume

    # ---- the key ----

    async def _with_passphrase(self, *qzfs_args, confirm=False):
        """Runs `qzfs ARGS --passphrase-fd 0` with the prompt's output as its input."""
        self.check()
        read_end, write_end = os.pipe()
        try:
            prompt = await asyncio.create_subprocess_exec(
                ASKPASS, self.name, self.ask_password_domain,
                *(["--confirm"] if confirm else []),
                stdin=subprocess.DEVNULL, stdout=write_end, stderr=subprocess.PIPE)
            engine = await asyncio.create_subprocess_exec(
                qzfs.BINARY, "--json", *qzfs_args, "--passphrase-fd", "0",
                stdin=read_end, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise qubes.storage.StoragePoolException(
                "pool {}: cannot ask for the passphrase: {}".format(self.name, exc)) from exc
        finally:
            os.close(read_end)
            os.close(write_end)
        (_, prompt_err), (out, err) = await asyncio.gather(prompt.communicate(),
                                                           engine.communicate())
        if prompt.returncode != 0:
            raise qubes.storage.StoragePoolException(
                "pool {}: no passphrase was given{}".format(
                    self.name, ": " + prompt_err.decode("utf-8", "replace").strip()
                    if prompt_err.strip() else ""))
        return qzfs._result(qzfs_args, engine.returncode, out, err)

    async def setup(self):
        """Creates the encryption root; the passphrase is asked twice (by the prompt)."""
        self.check()
        await self._with_passphrase("pool", "setup", self.dataset, self.name, "--encrypted",
                                    "--pbkdf2-iters", str(self.pbkdf2_iters), confirm=True)
        await self.refresh()
        self.schedule_unload()

    def _key_guard(self):
        """The lock under which the key is loaded or unloaded: an unload decided while a
        command was about to use the key would pull it from under that command."""
        if self._key_lock is None:
            self._key_lock = asyncio.Lock()
        return self._key_lock

    async def key_loaded(self):
        return (await self.qzfs("key", "status", self.dataset))["loaded"]

    async def ensure_key(self):
        """Loads the key if it is not loaded, asking for the passphrase. The volumes that
        need the key at the same time (a VM's, starting) share one check and one prompt, and
        go on together: their starts are then one qzfs run (see qzfs_batched)."""
        self.cancel_unload()
        if self._key_check is None or self._key_check.done():
            self._key_check = asyncio.ensure_future(self._load_key_if_needed())
        await asyncio.shield(self._key_check)
        self.schedule_unload()  # checked then: a VM running at that time keeps the key

    async def _load_key_if_needed(self):
        async with self._key_guard():
            if not await self.key_loaded():
                LOGGER.info("pool %s: asking for the passphrase in %s", self.name,
                            self.ask_password_domain)
                await self._with_passphrase("key", "load", self.dataset)

    # ---- forgetting the key ----

    def cancel_unload(self):
        if self._unload_timer is not None:
            self._unload_timer.cancel()
            self._unload_timer = None

    def schedule_unload(self):
        """Unloads the key unload_timeout seconds from now, if nothing uses it then."""
        self.cancel_unload()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                loop = asyncio.get_event_loop()
            except RuntimeError:
                return
        clock = self.clock or loop
        self._unload_timer = clock.call_later(self.unload_timeout, self._start_unload_check, loop)

    def _start_unload_check(self, loop):
        self._unload_timer = None
        self.unload_check = loop.create_task(self._unload_if_idle())

    def _running_vms(self):
        running = []
        for vm in list(self._vms.values()):
            try:
                if vm.is_running():
                    running.append(vm.name)
            except Exception:  # pylint: disable=broad-except
                running.append(getattr(vm, "name", "?"))  # cannot tell: keep the key
        return running

    async def _unload_if_idle(self):
        async with self._key_guard():  # judged when no command can be loading the key
            if self.busy or self.exports:  # a command or an export reschedules when done
                return
            running = self._running_vms()
            if running:
                LOGGER.info("pool %s: key stays loaded, running: %s", self.name,
                            ", ".join(running))
                return  # the last of them to stop schedules the unload again
            try:
                await self.qzfs("key", "unload", self.dataset)
                LOGGER.info("pool %s: key unloaded", self.name)
            except qubes.storage.StoragePoolException as exc:
                LOGGER.info("pool %s: key stays loaded: %s", self.name, exc)
                self.schedule_unload()  # a zvol is open (an export, a block attach)


class ZFSEncryptedVolume(ZFSZvolVolume):
    """A zvol of an encrypted pool: the key is made available before anything needs it, and
    stays while the command runs."""

    async def _volume(self, command, *args):
        if command not in _NEEDS_KEY:
            try:
                return await super()._volume(command, *args)
            finally:
                if command == "export-end":
                    self.pool.exports = max(0, self.pool.exports - 1)
                if command in ("stop", "export-end", "remove"):
                    self.pool.schedule_unload()
        self.pool.busy += 1
        try:
            await self.pool.ensure_key()
            return await super()._volume(command, *args)
        finally:
            self.pool.busy -= 1
            self.pool.schedule_unload()


ZFSEncryptedPool.volume_class = ZFSEncryptedVolume
