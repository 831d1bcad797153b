"""The `zfs_zvol` driver: every volume of a VM is a ZFS zvol under the pool's dataset.

    qvm-pool add vms zfs_zvol -o dataset=tank/qubes
    qvm-pool add vms zfs_zvol -o dataset=tank/qubes -o block_devices=/dev/sdb

A volume `VM/NAME` is the zvol `DATASET/VM/NAME`. All ZFS work is done by `qzfs volume ...`
(see the README for what each kind of volume does at start and stop); this module forwards
qubesd's calls and caches what `qzfs` answers, so that the synchronous properties qubesd reads
(size, usage, revisions, dirty, outdated) never touch ZFS after the first look.
"""

import asyncio
import logging
import re

import qubes.storage
import qubes.utils

from . import qzfs

LOGGER = logging.getLogger("qubes.storage.zfs_zvol")

_DATASET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)*$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _parse_devices(value):
    """block_devices: paths separated by spaces, commas or semicolons."""
    return [d for d in re.split(r"[\s,;]+", str(value or "")) if d]


class ZFSZvolPool(qubes.storage.Pool):
    """A Qubes pool living in a ZFS dataset. Building it never fails and touches nothing:
    a bad option or a missing ZFS makes a degraded pool that says what is wrong when used."""

    driver = "zfs_zvol"
    volume_class = None  # set below: ZFSZvolVolume

    def __init__(self, *, name, dataset, block_devices=None, revisions_to_keep=1,
                 ephemeral_volatile=False):
        self._problem = None
        try:
            keep = int(revisions_to_keep)
            if keep < -1:
                raise ValueError(revisions_to_keep)
        except (TypeError, ValueError):
            keep = 1
            self._problem = "revisions_to_keep must be -1, 0 or a positive number, not {!r}".format(
                revisions_to_keep)
        try:
            super().__init__(name=name, revisions_to_keep=keep,
                             ephemeral_volatile=ephemeral_volatile)
        except ValueError:
            super().__init__(name=name, revisions_to_keep=keep)
            self._problem = "ephemeral_volatile must be True or False, not {!r}".format(
                ephemeral_volatile)
        self.dataset = str(dataset).strip("/")
        self.block_devices = _parse_devices(block_devices)
        if not _DATASET.match(self.dataset) or len(self.dataset) > 200:
            self._problem = "{!r} is not a ZFS dataset name".format(dataset)
        self._cache = None  # what `qzfs pool volumes` said, updated after each change
        self._stale = False  # changed since the last full listing
        self._refreshing = None  # the background refresh, while one runs
        self._changes = 0  # changes reported by qzfs commands, and when each volume's was
        self._changed = {}
        self._volumes = {}  # vid -> volume, for the volumes qubesd configured

    @property
    def config(self):
        config = {
            "name": self.name,
            "driver": self.driver,
            "dataset": self.dataset,
            "revisions_to_keep": str(self.revisions_to_keep),
            "ephemeral_volatile": str(self.ephemeral_volatile),
        }
        if self.block_devices:
            config["block_devices"] = " ".join(self.block_devices)
        return config

    def check(self):
        """Raises the pool's configuration problem, if it has one."""
        if self._problem:
            raise qubes.storage.StoragePoolException(
                "pool {}: {}".format(self.name, self._problem))

    async def qzfs(self, *args):
        """Runs a qzfs command for this pool (refused while the pool is misconfigured)."""
        self.check()
        return await qzfs.run(*args)

    async def setup(self):
        args = ["pool", "setup", self.dataset, self.name]
        if self.block_devices:
            args += ["--block-devices", ",".join(self.block_devices)]
        await self.qzfs(*args)
        await self.refresh()

    async def destroy(self):
        """Removes the pool's own, empty datasets; never a zpool, never data of others."""
        await self.qzfs("pool", "destroy", self.dataset)
        self._cache = None

    # ---- the cache behind the synchronous surface ----

    def _state(self):
        """The cached listing; a cold cache is filled by one synchronous call (at most once:
        a failure is remembered, and explained by the pool's next asynchronous call)."""
        if self._cache is None:
            try:
                self.check()
                self._cache = qzfs.run_sync("pool", "volumes", self.dataset)
            except qubes.storage.StoragePoolException as exc:
                LOGGER.warning("pool %s is unavailable: %s", self.name, exc)
                self._cache = {"error": str(exc), "volumes": {}}
        return self._cache

    async def refresh(self):
        """Reads the whole pool again (one qzfs call). A volume whose state a command reported
        while the listing ran keeps that newer state."""
        started = self._changes
        fresh = await self.qzfs("pool", "volumes", self.dataset)
        if self._cache is not None and "error" not in self._cache:
            old, new = self._cache.get("volumes", {}), fresh.setdefault("volumes", {})
            for dataset, when in self._changed.items():
                if when > started:
                    if dataset in old:
                        new[dataset] = old[dataset]
                    else:
                        new.pop(dataset, None)
        self._cache = fresh
        self._stale = self._changes != started

    def remember(self, dataset, info):
        """Stores the state of one volume that a qzfs command answered. A change may change
        what other volumes report (outdated clones, the pool's usage): the cache is then read
        again in the background when next asked."""
        self._changes += 1
        self._changed[dataset] = self._changes
        if self._cache is not None and "name" in info:
            volumes = self._cache.setdefault("volumes", {})
            if info.get("exists"):
                volumes[dataset] = info
            else:
                volumes.pop(dataset, None)
        self._stale = True

    def _fresh_state(self):
        """The cached state; if a change made it stale, a refresh starts in the background
        (qubesd's synchronous calls never wait for ZFS) and what we have is answered now."""
        state = self._state()
        if self._stale and self._refreshing is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                self._refreshing = loop.create_task(self._refresh_quietly())
        return state

    async def _refresh_quietly(self):
        try:
            await self.refresh()
        except qubes.storage.StoragePoolException as exc:
            LOGGER.warning("pool %s: %s", self.name, exc)
        finally:
            self._refreshing = None

    def info(self, dataset):
        """The cached state of the volume with that dataset, or None."""
        return self._fresh_state().get("volumes", {}).get(dataset)

    def _figure(self, key):
        return self._fresh_state().get(key)

    @property
    def size(self):
        return self._figure("size")

    @property
    def usage(self):
        return self._figure("usage")

    @property
    def usage_details(self):
        details = super().usage_details
        health = self._figure("health")
        if health is not None:
            details["zpool_health"] = health
        return details

    # ---- volumes ----

    _VOLUME_KEYS = ("name", "vid", "revisions_to_keep", "rw", "save_on_stop", "size",
                    "snap_on_start", "source", "ephemeral")

    def init_volume(self, vm, volume_config):
        config = {k: v for k, v in volume_config.items() if k in self._VOLUME_KEYS}
        config.setdefault("vid", "{}/{}".format(vm.name, config["name"]))
        config.setdefault("revisions_to_keep", self.revisions_to_keep)
        volume = self.volume_class(pool=self, **config)
        self._volumes[volume.vid] = volume
        return volume

    def list_volumes(self):
        prefix = self.dataset + "/"
        vids = [ds[len(prefix):] for ds in self._state().get("volumes", {})
                if ds.startswith(prefix)]
        return [self.get_volume(vid) for vid in sorted(vids)]

    def get_volume(self, vid):
        if vid in self._volumes:
            return self._volumes[vid]
        if self.info(self.dataset + "/" + vid) is None:
            raise KeyError(vid)
        # a volume no VM configured (yet): enough to show it and to remove it
        return self.volume_class(name=vid.rsplit("/", 1)[-1], pool=self, vid=vid,
                                 revisions_to_keep=self.revisions_to_keep)

    def forget(self, vid):
        self._volumes.pop(vid, None)

    def included_in(self, app):
        return None


class ZFSZvolVolume(qubes.storage.Volume):
    """One zvol; every coroutine is one `qzfs volume` command under this volume's lock."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._device = None  # the block device path qzfs reported at start
        self._qzfs_lock = asyncio.Lock()
        self._problem = None
        if not all(_NAME.match(part) for part in self.vid.split("/")):
            self._problem = "{!r} cannot name a zvol".format(self.vid)

    @property
    def dataset(self):
        return self.pool.dataset + "/" + self.vid

    def _config_args(self):
        """The volume's configuration, as qzfs takes it on every call."""
        args = ["--revisions-to-keep", str(self.revisions_to_keep)]
        if self.save_on_stop:
            args.append("--save-on-stop")
        if self.snap_on_start:
            args += ["--snap-on-start", "--source", self.source.dataset]
        if self._size:
            args += ["--size", str(self._size)]
        if self.ephemeral:
            args.append("--ephemeral")
        return args

    async def _volume(self, command, *args):
        """Runs `qzfs volume COMMAND DATASET ARGS CONFIG` and caches the state it reports."""
        if self._problem:
            raise qubes.storage.StoragePoolException(self._problem)
        async with self._qzfs_lock:
            result = await self.pool.qzfs("volume", command, self.dataset, *args,
                                          *self._config_args())
        if "name" in result:
            self.pool.remember(self.dataset, result)
            if result.get("exists") and result.get("size"):
                self._size = int(result["size"])
            self._device = result.get("device", self._device)
        return result

    async def create(self):
        await self._volume("create")

    async def remove(self):
        await self._volume("remove")
        self.pool.forget(self.vid)

    async def start(self):
        await self._volume("start")

    async def stop(self):
        await self._volume("stop")

    # ephemeral volatile volumes are encrypted by ZFS itself (a key that is never stored):
    # no dm-crypt device, libvirt gets the zvol
    async def start_encrypted(self, name):
        await self.start()

    async def stop_encrypted(self, name):
        await self.stop()

    def make_encrypted_device(self, device, qube_name):
        return device

    async def verify(self):
        await self._volume("verify")
        return True

    async def resize(self, size):
        """Grows the volume, also while its VM runs; shrinking is refused (data would be cut)."""
        await self._volume("resize", str(int(size)))

    async def revert(self, revision=None):
        await self._volume("revert", *([str(revision)] if revision is not None else []))

    async def export(self):
        return (await self._volume("export"))["path"]

    async def export_end(self, path):
        await self._volume("export-end", path)

    async def import_data(self, size):
        return (await self._volume("import-data", str(int(size))))["path"]

    async def import_data_end(self, success):
        await self._volume("import-data-end", "ok" if success else "fail")

    async def import_volume(self, src_volume):
        """Copies the source's committed state in: a clone or a ZFS send from our pools, a
        sparse copy of its export from any other pool. Only save_on_stop volumes have a state
        of their own (qvm-clone also passes volatile and snapshot volumes: nothing to copy)."""
        if not src_volume.save_on_stop:
            return self
        if isinstance(src_volume, ZFSZvolVolume):
            await self._volume("import-volume", src_volume.dataset)
            return self
        src_path = await qubes.utils.coro_maybe(src_volume.export())
        try:
            target = await self.import_data(src_volume.size)
            copied = False
            try:
                await _copy(src_path, target)
                copied = True
            finally:
                await self.import_data_end(copied)
        finally:
            await qubes.utils.coro_maybe(src_volume.export_end(src_path))
        return self

    # ---- the synchronous surface, from the pool's cache ----

    def _info(self):
        return self.pool.info(self.dataset) or {}

    def is_dirty(self):
        return bool(self._info().get("dirty"))

    def is_outdated(self):
        return bool(self._info().get("outdated"))

    @property
    def revisions(self):
        return dict(self._info().get("revisions", {}))

    @property
    def size(self):
        return int(self._info().get("size") or self._size)

    @property
    def usage(self):
        return int(self._info().get("usage") or 0)

    def block_device(self):
        path = self._device or "/dev/zvol/" + self.dataset
        return qubes.storage.BlockDevice(path, self.name, None, self.rw, self.domain,
                                         self.devtype)


ZFSZvolPool.volume_class = ZFSZvolVolume


async def _copy(src, dst):
    """Copies src into the existing dst, leaving holes where src reads as zeros."""
    proc = await asyncio.create_subprocess_exec(
        "dd", "if=" + src, "of=" + dst, "bs=1M", "conv=sparse,notrunc,nocreat", "status=none",
        stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise qubes.storage.StoragePoolException(
            "copying {} failed: {}".format(src, err.decode("utf-8", "replace").strip()))
