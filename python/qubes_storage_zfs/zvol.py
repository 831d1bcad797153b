# SPDX-License-Identifier: BSD-2-Clause
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
import threading

import qubes.storage
import qubes.utils

from . import qzfs

LOGGER = logging.getLogger("qubes.storage.zfs_zvol")

_DATASET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)*$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

#: what qubesd asks of all of a VM's volumes at once: one qzfs run does them together
_BATCHED = ("create", "verify", "start", "stop", "remove")


def _parse_devices(value):
    """block_devices: paths separated by spaces, commas or semicolons."""
    return [d for d in re.split(r"[\s,;]+", str(value or "")) if d]


def parse_bool(value):
    """An option given as a bool or as qubes.xml and qvm-pool give it (Qubes 4.2 hands the
    string over unconverted: "False" must not count as true). ValueError otherwise."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ValueError(value)


def parse_keep(value):
    """revisions_to_keep: -1 (no snapshots at all), 0 or N. ValueError otherwise."""
    keep = int(str(value).strip())
    if keep < -1:
        raise ValueError(value)
    return keep


class ZFSZvolPool(qubes.storage.Pool):
    """A Qubes pool living in a ZFS dataset. Building it never fails and touches nothing:
    a bad option or a missing ZFS makes a degraded pool that says what is wrong when used."""

    driver = "zfs_zvol"
    volume_class = None  # set below: ZFSZvolVolume

    def __init__(self, *, name, dataset, block_devices=None, revisions_to_keep=1,
                 ephemeral_volatile=False):
        self._problem = None
        try:
            keep = parse_keep(revisions_to_keep)
        except (TypeError, ValueError):
            keep = 1
            self._problem = "revisions_to_keep must be -1, 0 or a positive number, not {!r}".format(
                revisions_to_keep)
        try:
            ephemeral = parse_bool(ephemeral_volatile)
        except ValueError:
            ephemeral = False
            self._problem = "ephemeral_volatile must be True or False, not {!r}".format(
                ephemeral_volatile)
        super().__init__(name=name, revisions_to_keep=keep, ephemeral_volatile=ephemeral)
        self.dataset = str(dataset).strip("/")
        self.block_devices = _parse_devices(block_devices)
        if not _DATASET.match(self.dataset) or len(self.dataset) > 200:
            self._problem = "{!r} is not a ZFS dataset name".format(dataset)
        self._lock = threading.Lock()  # the cache, shared with the background listing
        self._cache = None  # what `qzfs pool volumes` said, updated after each change
        self._listed = 0  # the ticket of the listing the cache holds
        self._tickets = 0  # listings started
        self._stale = False  # changed since the last full listing
        self._said = None  # the failed listing last said to be failed
        self._lister = None  # the background listing's thread, while one runs
        self._changes = 0  # changes reported by qzfs commands, and when each volume's was
        self._changed = {}
        self._volumes = {}  # vid -> volume, for the volumes qubesd configured
        self._batch = {}  # VM's dataset -> its volume operations asked for in this turn
        self._batches = set()  # the tasks running batches, until they end
        # qubesd loads qubes.xml and then reads sizes and revisions synchronously: the listing
        # starts now, beside the event loop, so that those reads find it made
        self._list_in_background()

    def __repr__(self):
        return "<{} {!r} on {}>".format(type(self).__name__, self.name, self.dataset)

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

    async def qzfs_batched(self, *args):
        """Runs `qzfs volume ARGS` (one of _BATCHED: COMMAND DATASET ...) together with the
        others asked for the same VM in the same turn of the event loop, in one qzfs run:
        qubesd asks for all of a VM's volumes at once (it gathers their coroutines), so a VM's
        start, stop or removal is one process. VMs started together run side by side, each
        its own process. Returns this operation's answer, or raises its own failure."""
        self.check()
        loop = asyncio.get_running_loop()
        if not self._batch:  # runs after every call made in this turn
            loop.call_soon(self._send_batches)
        future = loop.create_future()
        vm_dataset = args[1].rsplit("/", 1)[0]
        self._batch.setdefault(vm_dataset, []).append((args, future))
        return await future

    def _send_batches(self):
        batches, self._batch = self._batch, {}
        for batch in batches.values():
            task = asyncio.ensure_future(self._run_batch(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    @staticmethod
    async def _run_batch(batch):
        ops = [args for args, _ in batch]
        answers = []
        try:
            if len(ops) == 1:
                answers = [await qzfs.run("volume", *ops[0])]
            else:
                answers = await qzfs.run_batch(ops)
        except qubes.storage.StoragePoolException as exc:  # qzfs did not run
            answers = [qubes.storage.StoragePoolException(str(exc)) for _ in ops]
        finally:  # every caller gets an answer, even if this task is cancelled
            answers += [qubes.storage.StoragePoolException(
                "qzfs volume {}: no answer".format(op[0])) for op in ops[len(answers):]]
            for (_, future), answer in zip(batch, answers):
                if future.done():  # its caller was cancelled
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)

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
        """The cached listing. A cold cache waits for the listing under way (started when the
        pool was loaded); only a read that comes before any listing was possible lists here,
        blocking (logged: qubesd's event loop waits for it). A failure is remembered, and
        explained by the pool's next asynchronous call."""
        lister = self._lister
        if self._cache is None and lister is not None:
            lister.join()
        if self._cache is None and not self._problem:
            LOGGER.warning("pool %s: read before its listing was made: qzfs runs on qubesd's "
                           "event loop", self.name)
        if self._cache is None:
            self._list_now()
        state = self._cache
        # said once a failed listing is read, not when it is made: the one a pool makes when
        # it is loaded fails for `qvm-pool add`, which builds the pool before setup() makes
        # its dataset
        if "error" in state and self._said is not state:
            LOGGER.warning("pool %s is unavailable: %s", self.name, state["error"])
            self._said = state
        return state

    def _begin_listing(self):
        with self._lock:
            self._tickets += 1
            return self._tickets, self._changes

    def _keep_listing(self, ticket, started, fresh):
        """Takes a listing made since ticket was issued, unless a newer one is there. A volume
        whose state a command reported while the listing ran keeps that newer state."""
        with self._lock:
            if ticket < self._listed:
                return
            if self._cache is not None and "error" not in self._cache and "error" not in fresh:
                old, new = self._cache.get("volumes", {}), fresh.setdefault("volumes", {})
                for dataset, when in self._changed.items():
                    if when > started:
                        if dataset in old:
                            new[dataset] = old[dataset]
                        else:
                            new.pop(dataset, None)
            self._cache, self._listed = fresh, ticket
            self._stale = self._changes != started

    def _list_now(self):
        """Lists the pool, blocking (the background thread; the logged fallback)."""
        ticket, started = self._begin_listing()
        try:
            self.check()
            fresh = qzfs.run_sync("pool", "volumes", self.dataset)
        except qubes.storage.StoragePoolException as exc:
            fresh = {"error": str(exc), "volumes": {}}  # said when read (see _state)
        self._keep_listing(ticket, started, fresh)

    def _list_in_background(self):
        """Lists the pool in a thread of its own (never a task of qubesd's loop: none is left
        pending when qubesd exits), unless one is under way."""
        if self._problem or (self._lister is not None and self._lister.is_alive()):
            return
        self._lister = threading.Thread(target=self._list_now, daemon=True,
                                        name="qzfs list " + self.name)
        self._lister.start()

    async def refresh(self):
        """Reads the whole pool again (one qzfs call), awaited."""
        ticket, started = self._begin_listing()
        fresh = await self.qzfs("pool", "volumes", self.dataset)
        self._keep_listing(ticket, started, fresh)

    def remember(self, dataset, info):
        """Stores the state of one volume that a qzfs command answered. A commit makes the
        volumes started from an older state of it outdated at once; other figures (the pool's
        usage) are listed again in the background when next asked."""
        with self._lock:
            self._changes += 1
            self._changed[dataset] = self._changes
            if self._cache is not None and "name" in info:
                volumes = self._cache.setdefault("volumes", {})
                if info.get("exists"):
                    volumes[dataset] = info
                else:
                    volumes.pop(dataset, None)
                current = info.get("current")
                for name, other in volumes.items():
                    if other.get("source") == dataset and current:
                        other["outdated"] = other.get("source_state") != current
                        self._changed[name] = self._changes  # newer than a listing under way
            self._stale = True

    def _fresh_state(self):
        """The cached state; if a change made it stale, a listing starts in the background
        (qubesd's synchronous calls never wait for ZFS) and what we have is answered now."""
        state = self._state()
        if self._stale:
            self._list_in_background()
        return state

    def known(self, dataset):
        """What the cache holds of the volume with that dataset ({"exists": False} if it is
        not there), never waiting for a listing: None while the cache is cold or failed."""
        state = self._cache
        if state is None or "error" in state:
            return None
        return state.get("volumes", {}).get(dataset, {"exists": False})

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
        self._keep, self._bad_keep = None, None
        super().__init__(*args, **kwargs)
        self._device = None  # the block device path qzfs reported at start
        self._importing = None  # the size import_data was given, until import_data_end
        self._qzfs_lock = asyncio.Lock()
        self._problem = self._bad_keep
        if not all(_NAME.match(part) for part in self.vid.split("/")):
            self._problem = "{!r} cannot name a zvol".format(self.vid)

    @property
    def dataset(self):
        return self.pool.dataset + "/" + self.vid

    @property
    def revisions_to_keep(self):
        return self._keep

    @revisions_to_keep.setter
    def revisions_to_keep(self, value):
        """qubesd sets it (qvm-volume config, qubes.xml); fewer revisions than there are take
        effect at once, in the background: old states must not serve exports and clones."""
        before = self._keep
        try:
            keep = parse_keep(value)
        except (TypeError, ValueError):
            if before is not None:
                raise
            keep = 1  # while qubes.xml loads nothing may raise: the volume says so when used
            self._bad_keep = "revisions_to_keep {!r} is not -1, 0 or N".format(value)
        self._keep = keep
        if before is None:
            return  # qubesd making the volume
        if (keep < before if keep >= 0 and before >= 0 else keep < 0 <= before):
            threading.Thread(target=self._prune, daemon=True, name="qzfs prune").start()

    def _prune(self):
        try:
            self.pool.remember(self.dataset, qzfs.run_sync(
                "volume", "prune", self.dataset, *self._config_args()))
        except qubes.storage.StoragePoolException as exc:
            LOGGER.warning("volume %s: revisions_to_keep %s not applied yet: %s", self.vid,
                           self._keep, exc)

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
        run = self.pool.qzfs_batched if command in _BATCHED else self.pool.qzfs
        prefix = () if command in _BATCHED else ("volume",)
        async with self._qzfs_lock:
            result = await run(*prefix, command, self.dataset, *args, *self._config_args())
        if "name" in result:
            self.pool.remember(self.dataset, result)
            # ZFS's size, unless it is the size qubesd gave rounded up to the volume block
            if result.get("exists") and result.get("size"):
                if qzfs.volsize(self._size) != int(result["size"]):
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
        """Commits or discards, unless the pool's listing or this volume's last command shows
        it stopped already: qubesd stops every volume of a halted VM (before removing it, when
        it starts), and each such stop would be a qzfs run that does nothing. A volume left
        started by a crash shows as started (dirty, or its volatile data still there)."""
        if self._known_stopped():
            return
        await self._volume("stop")

    def _known_stopped(self):
        info = self.pool.known(self.dataset)
        if info is None:
            return False
        if self.save_on_stop:
            return bool(info.get("exists")) and not info.get("dirty")
        return not info.get("exists")

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
        """Grows the volume, also while its VM runs; shrinking is refused (data would be cut).
        A volume made at start (snapshot, volatile) gets the size then."""
        await self._volume("resize", str(int(size)))
        self._size = int(size)

    async def revert(self, revision=None):
        await self._volume("revert", *([str(revision)] if revision is not None else []))

    async def export(self):
        return (await self._volume("export"))["path"]

    async def export_end(self, path):
        await self._volume("export-end", path)

    async def import_data(self, size):
        path = (await self._volume("import-data", str(int(size))))["path"]
        self._importing = int(size)
        return path

    async def import_data_end(self, success):
        await self._volume("import-data-end", "ok" if success else "fail")
        if success and self._importing:
            self._size = self._importing  # the image's size, as given
        self._importing = None

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
        if self.revisions_to_keep < 0:  # what a switch to -1 drops, in the background
            return {}
        return dict(self._info().get("revisions", {}))

    @property
    def size(self):
        """The size qubesd gave, while ZFS has it (rounded up to the volume block size)."""
        have = int(self._info().get("size") or 0)
        if not have or qzfs.volsize(self._size) == have:
            return self._size
        return have

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
