# SPDX-License-Identifier: BSD-2-Clause
"""Stand-in for qubes.storage: the driver base classes, and `Storage`, which calls a VM's
volumes the way qubesd does (all volumes of a VM concurrently; ephemeral volumes through
start_encrypted/stop_encrypted; stop_encrypted for every volume at stop)."""

import importlib.metadata
import inspect

import qubes.config
import qubes.utils
from qubes.exc import QubesValueError, QubesVMError, StoragePoolException

STORAGE_ENTRY_POINT = "qubes.storage"

__all__ = ["BlockDevice", "Pool", "Storage", "StoragePoolException", "Volume",
           "driver_parameters", "load_pool", "pool_drivers"]


class BlockDevice:
    """What libvirt's <disk> is made from."""

    def __init__(self, path, name, script=None, rw=True, domain=None, devtype="disk"):
        assert path and name and script is None
        self.path = path
        self.name = name
        self.rw = rw
        self.domain = domain
        self.devtype = devtype


class Volume:
    """Base of a driver's volumes: the configuration qubes.xml holds."""

    devtype = "disk"
    domain = None
    usage = 0

    def __init__(self, name, pool, vid, *, revisions_to_keep=0, rw=False, save_on_stop=False,
                 size=0, snap_on_start=False, source=None, ephemeral=None, **kwargs):
        super().__init__(**kwargs)  # unknown keys fail here, as in qubesd
        assert isinstance(pool, Pool)
        assert source is None or (isinstance(source, Volume) and source.pool == pool)
        if snap_on_start != (source is not None):
            raise StoragePoolException(
                "{!r}: snap_on_start and source go together".format(name))
        self.name = str(name)
        self.pool = pool
        self.vid = vid
        self.revisions_to_keep = int(revisions_to_keep)
        self.rw = rw
        self.save_on_stop = save_on_stop
        self.snap_on_start = snap_on_start
        self.source = source
        self._size = int(size)
        self._ephemeral = ephemeral

    def __eq__(self, other):
        if isinstance(other, Volume):
            return other.pool == self.pool and other.vid == self.vid
        return NotImplemented

    def __hash__(self):
        return hash((str(self.pool), self.vid))

    def __str__(self):
        return str(self.vid)

    @property
    def ephemeral(self):
        if self._ephemeral is not None:
            return self._ephemeral
        if self.snap_on_start or self.save_on_stop or self.domain is not None or not self.rw:
            return False
        return self.pool.ephemeral_volatile

    @property
    def size(self):
        return self._size

    @property
    def revisions(self):
        raise NotImplementedError("revisions")

    @property
    def snapshots_disabled(self):
        return self.revisions_to_keep == -1 and self.save_on_stop and not self.snap_on_start

    @property
    def config(self):
        result = {"name": self.name, "pool": str(self.pool), "vid": self.vid,
                  "revisions_to_keep": self.revisions_to_keep, "rw": self.rw,
                  "save_on_stop": self.save_on_stop, "snap_on_start": self.snap_on_start}
        if self._ephemeral is not None:
            result["ephemeral"] = self.ephemeral
        if self.size:
            result["size"] = self.size
        if self.source:
            result["source"] = str(self.source)
        return result

    def encrypted_volume_path(self, qube_name, device_name):
        escaped = qube_name.replace("_", "_u").replace("-", "_d")
        return "/dev/mapper/vm-volatile-{}-crypt@{}".format(escaped, device_name)

    async def start_encrypted(self, name):
        raise AssertionError("the generic dm-crypt path must not be used: " + name)

    async def stop_encrypted(self, name):
        # qubesd's generic version closes a dm-crypt device if there is one, then stops
        await qubes.utils.coro_maybe(self.stop())

    def make_encrypted_device(self, device, qube_name):
        return BlockDevice(self.encrypted_volume_path(qube_name, device.name), device.name,
                           rw=device.rw)

    def block_device(self):
        raise NotImplementedError("block_device")

    def is_dirty(self):
        raise NotImplementedError("is_dirty")

    def is_outdated(self):
        raise NotImplementedError("is_outdated")


class VolumesCollection:
    """pool.volumes: lookups by vid through the pool."""

    def __init__(self, pool):
        self._pool = pool

    def __getitem__(self, vid):
        if isinstance(vid, Volume):
            vid = vid.vid
        return self._pool.get_volume(vid)

    def __iter__(self):
        return iter(self._pool.list_volumes())

    def __contains__(self, vid):
        try:
            self[vid]
            return True
        except KeyError:
            return False

    def keys(self):
        return [v.vid for v in self]


class Pool:
    """Base of a driver's pools."""

    private_img_size = qubes.config.defaults["private_img_size"]
    root_img_size = qubes.config.defaults["root_img_size"]

    def __init__(self, *, name, revisions_to_keep=1, ephemeral_volatile=False):
        self.name = name
        self.revisions_to_keep = revisions_to_keep
        self.ephemeral_volatile = qubes.utils.parse_bool(ephemeral_volatile)
        self.volumes = VolumesCollection(self)

    def __eq__(self, other):
        if isinstance(other, Pool):
            return self.name == other.name
        if isinstance(other, str):
            return self.name == other
        return NotImplemented

    def __hash__(self):
        return hash(self.name)

    def __str__(self):
        return self.name

    @property
    def size(self):
        return None

    @property
    def usage(self):
        return None

    @property
    def usage_details(self):
        details = {}
        if self.usage is not None:
            details["data_usage"] = self.usage
        if self.size is not None:
            details["data_size"] = self.size
        return details


def pool_drivers():
    """The driver names installed in the qubes.storage entry-point group."""
    return [ep.name for ep in importlib.metadata.entry_points(group=STORAGE_ENTRY_POINT)]


def _driver_class(driver):
    found = [ep for ep in importlib.metadata.entry_points(group=STORAGE_ENTRY_POINT)
             if ep.name == driver]
    if len(found) != 1:
        raise QubesValueError("no storage driver {!r}".format(driver))
    return found[0].load()


def driver_parameters(driver):
    """{option: required} from the driver's __init__, as admin.pool.Add checks them."""
    params = inspect.signature(_driver_class(driver).__init__).parameters
    return {p.name: p.default is inspect.Parameter.empty for p in params.values()
            if p.name not in ("self", "name", "kwargs")}


def load_pool(driver, name, **options):
    """What qubesd does for `qvm-pool add` (then setup()) and when qubes.xml loads: options
    are strings, unknown ones and missing required ones are refused."""
    params = driver_parameters(driver)
    unknown = set(options) - set(params)
    missing = {p for p, required in params.items() if required} - set(options)
    if unknown or missing:
        raise QubesValueError("bad options: unknown {}, missing {}".format(unknown, missing))
    return _driver_class(driver)(name=name, **{k: str(v) for k, v in options.items()})


class Storage:
    """A VM's volumes, driven the way qubesd drives them. vm needs: name, volume_config
    ({name: config}), template (or None), app.get_pool(name), volumes (a dict)."""

    def __init__(self, vm):
        self.vm = vm
        self.running = False
        for name, conf in vm.volume_config.items():
            self.init_volume(name, conf)  # as qubesd: the config gets the source resolved

    def init_volume(self, name, config):
        config.setdefault("name", name)
        if "source" in config and config["source"] is None:
            # snap_on_start: the template's volume; if that is itself a snapshot (the root of
            # a disposable's AppVM), the one it comes from, up the template chain
            template = self.vm.template
            while True:
                source = template.volumes[name]
                config["source"], config["pool"] = source, source.pool
                config["size"] = source.size
                if source.source is None:
                    break
                template = template.template
        pool = self.vm.app.get_pool(config["pool"])
        volume = pool.init_volume(self.vm, config)
        self.vm.volumes[name] = volume
        return volume

    async def create(self):
        await qubes.utils.void_coros_maybe(v.create() for v in self.vm.volumes.values())

    async def verify(self):
        await qubes.utils.void_coros_maybe(v.verify() for v in self.vm.volumes.values())
        return True

    async def start(self):
        for vol in self.vm.volumes.values():
            src = vol.source
            if src is not None and src.snapshots_disabled and getattr(src, "_running", False):
                raise QubesVMError(self.vm, "volume {} is running".format(src.vid))
        await qubes.utils.void_coros_maybe(
            vol.start_encrypted(vol.encrypted_volume_path(self.vm.name, name))
            if vol.ephemeral else vol.start()
            for name, vol in self.vm.volumes.items())
        for vol in self.vm.volumes.values():
            vol._running = True  # qubesd keeps a state file per started volume
        self.running = True

    async def stop(self):
        await qubes.utils.void_coros_maybe(
            vol.stop_encrypted(vol.encrypted_volume_path(self.vm.name, name))
            for name, vol in self.vm.volumes.items())
        for vol in self.vm.volumes.values():
            vol._running = False
        self.running = False

    def block_devices(self):
        for vol in self.vm.volumes.values():
            dev = vol.block_device()
            if dev is not None:
                yield vol.make_encrypted_device(dev, self.vm.name) if vol.ephemeral else dev

    async def clone_volume(self, src_vm, name):
        """qvm-clone: a new volume from the config, create(), import_volume(source)."""
        config = dict(self.vm.volume_config[name])
        config.setdefault("name", name)
        dst = self.vm.app.get_pool(config["pool"]).init_volume(self.vm, config)
        await qubes.utils.coro_maybe(dst.create())
        src = src_vm.volumes[name]
        if getattr(src, "_running", False) and src.snapshots_disabled:
            raise StoragePoolException("volume {} must be stopped first".format(src.vid))
        result = await qubes.utils.coro_maybe(dst.import_volume(src))
        self.vm.volumes[name] = result
        return result

    async def remove(self):
        await self.stop()
        await qubes.utils.void_coros_maybe(v.remove() for v in self.vm.volumes.values())
