# SPDX-License-Identifier: BSD-2-Clause
"""What the driver tests share: a pool per test (on the stored model or on a real scratch
zpool), fake VMs with the volume configuration qubesd gives templates, AppVMs and
disposables, and reading and writing volumes through their block devices."""

import hashlib
import importlib
import itertools
import logging
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import qubes.storage

BACKEND = os.environ.get("QZFS_TEST_BACKEND", "model")
ZPOOL = os.environ.get("QZFS_TEST_ZPOOL", "tank")
MiB = 1024 * 1024
_serial = itertools.count(1)


class App:
    """qubesd's app, as far as storage goes: pools by name."""

    def __init__(self):
        self.pools = {}

    def get_pool(self, pool):
        return self.pools[str(pool)]


def load_pool(driver, name, **options):
    """What qubesd does for `qvm-pool add` (then setup()) and when qubes.xml loads: options are
    strings; unknown ones and missing required ones are refused (the Admin API's check)."""
    if hasattr(qubes.storage, "load_pool"):  # the stand-in
        return qubes.storage.load_pool(driver, name, **options)
    app = importlib.import_module("qubes.app")
    params = qubes.storage.driver_parameters(driver)
    if set(options) - set(params):
        raise qubes.exc.QubesValueError("unknown options {}".format(set(options) - set(params)))
    return app.Qubes._get_pool(  # pylint: disable=protected-access
        name=name, driver=driver, **{k: str(v) for k, v in options.items()})


class VM:
    """A VM with its volume config; its volumes are made by qubes.storage.Storage. It runs
    from its storage's start to its stop (storage.running, which tests may set)."""

    def __init__(self, app, name, volume_config, template=None):
        self.app = app
        self.name = name
        self.template = template
        self.volume_config = volume_config
        self.volumes = {}
        self.log = logging.getLogger("vm." + name)
        self.dir_path = tempfile.mkdtemp(prefix="qzfs-vm-")
        self.storage = qubes.storage.Storage(self)
        if not hasattr(self.storage, "running"):  # the real Storage: this VM keeps count
            self.storage.running = False
            self.storage.start = self._running_after(self.storage.start, True)
            self.storage.stop = self._running_after(self.storage.stop, False)

    def _running_after(self, call, running):
        async def wrapped(*args, **kwargs):
            result = await call(*args, **kwargs)
            self.storage.running = running
            return result
        return wrapped

    def is_running(self):
        return self.storage.running


def template_config(pool, root=64 * MiB, private=32 * MiB, volatile=16 * MiB, keep=None):
    """A TemplateVM's volumes: root and private committed at stop, volatile thrown away."""
    extra = {} if keep is None else {"revisions_to_keep": str(keep)}
    return {
        "root": {"pool": pool, "size": str(root), "rw": True, "save_on_stop": True, **extra},
        "private": {"pool": pool, "size": str(private), "rw": True, "save_on_stop": True},
        "volatile": {"pool": pool, "size": str(volatile), "rw": True},
    }


def appvm_config(pool, private=32 * MiB, volatile=16 * MiB):
    """An AppVM's volumes: root from its template's committed root; own private."""
    return {
        "root": {"pool": pool, "snap_on_start": True, "source": None, "rw": True},
        "private": {"pool": pool, "size": str(private), "rw": True, "save_on_stop": True},
        "volatile": {"pool": pool, "size": str(volatile), "rw": True},
    }


def dispvm_config(pool, volatile=16 * MiB):
    """A disposable: root and private both from its AppVM's committed state, nothing kept."""
    return {
        "root": {"pool": pool, "snap_on_start": True, "source": None, "rw": True},
        "private": {"pool": pool, "snap_on_start": True, "source": None, "rw": True},
        "volatile": {"pool": pool, "size": str(volatile), "rw": True},
    }


ERESTARTSYS = 512  # OpenZFS 2.1's zvol_open gives it when the pool lock is busy; it passes


def open_device(path, mode="rb", timeout=30.0):
    """open(path, mode), again while OpenZFS 2.1 leaks ERESTARTSYS from a zvol's open."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return open(path, mode)
        except OSError as e:
            if e.errno != ERESTARTSYS or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def write(volume, data, offset=0):
    """Writes into the volume's block device, as the VM would."""
    with open_device(volume.block_device().path, "r+b") as dev:
        dev.seek(offset)
        dev.write(data)
        dev.flush()
        os.fsync(dev.fileno())


def read(volume_or_path, size, offset=0):
    path = volume_or_path if isinstance(volume_or_path, str) else volume_or_path.block_device().path
    with open_device(path) as dev:
        dev.seek(offset)
        return dev.read(size)


def digest(path, size):
    """sha256 of the first size bytes at path."""
    h = hashlib.sha256()
    with open_device(path) as dev:
        left = size
        while left > 0:
            chunk = dev.read(min(left, MiB))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


class PoolTestCase(unittest.IsolatedAsyncioTestCase):
    """Each test gets its own pool dataset (and, on the model, its own model directory)."""

    pool_options = {}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qzfs-test-")
        self.env = {"QZFS_LOCK_DIR": os.path.join(self.tmp, "locks")}
        os.makedirs(self.env["QZFS_LOCK_DIR"])
        if hasattr(qubes.storage, "VOLUME_STATE_DIR"):  # Qubes 4.3 notes running volumes
            qubes.storage.VOLUME_STATE_DIR = os.path.join(self.tmp, "volume-state")  # in /run
            os.makedirs(qubes.storage.VOLUME_STATE_DIR)
        if BACKEND == "model":
            self.env["QZFS_BACKEND"] = "model:" + os.path.join(self.tmp, "model")
            self.env["QZFS_MODEL_POOL"] = ZPOOL
        self.saved_env = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        self.dataset = "{}/qt{}x{}".format(ZPOOL, os.getpid(), next(_serial))
        self.app = App()

    async def asyncSetUp(self):
        self.pool = await self.add_pool("vms", dataset=self.dataset, **self.pool_options)

    async def add_pool(self, name, **options):
        """qvm-pool add: options as strings, then setup()."""
        pool = load_pool("zfs_zvol", name, **options)
        await pool.setup()
        self.app.pools[name] = pool
        return pool

    def reload_pool(self, name="vms"):
        """A new pool object from the old one's config: qubesd restarting."""
        config = dict(self.app.pools[name].config)
        del config["name"], config["driver"]
        pool = load_pool("zfs_zvol", name, **config)
        self.app.pools[name] = pool
        return pool

    async def asyncTearDown(self):
        for pool in self.app.pools.values():  # background listings end with the test
            lister = getattr(pool, "_lister", None)
            if lister is not None:
                lister.join()

    def tearDown(self):
        if BACKEND == "real":
            subprocess.run(["zfs", "destroy", "-r", "-f", self.dataset], check=False,
                           stderr=subprocess.DEVNULL)
        for k, v in self.saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(self.tmp, ignore_errors=True)

    def vm(self, name, config, template=None):
        return VM(self.app, name, config, template)

    async def committed(self, volume, size=4096):
        """The first size bytes of the volume's committed data, through export()."""
        path = await volume.export()
        try:
            return read(path, size)
        finally:
            await volume.export_end(path)

    async def new_vm(self, name, config, template=None):
        """A VM whose volumes are created, as qvm-create does."""
        vm = self.vm(name, config, template)
        await vm.storage.create()
        return vm
