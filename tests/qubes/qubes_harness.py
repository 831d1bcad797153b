# SPDX-License-Identifier: BSD-2-Clause
"""A dom0 for tests: the real qubesd (offline mode) and the real `qvm-*` clients of one Qubes
release, in the mount namespace tests/qubes/run.py prepared. Tests drive the drivers only as a
user does (the clients, qubesd's Admin API); they look at ZFS with the installed `qzfs`."""

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's: qubesd's dependencies are Debian's packages
BACKEND = os.environ.get("QZFS_TEST_BACKEND", "model")
ZPOOL = os.environ.get("QZFS_TEST_ZPOOL", "tank")
MiB = 1024 * 1024
GiB = 1024 * MiB
DOM0 = None  # the Dom0 run.py made
KERNEL = "6.1.0-test"
_serial = itertools.count(1)

# the clients a test may run, each `python3 -m qubesadmin.tools.<module>` (what their RPM's
# console scripts do)
CLIENTS = ("qubes-prefs", "qvm-pool", "qvm-create", "qvm-volume", "qvm-clone", "qvm-remove", "qvm-prefs",
           "qvm-start", "qvm-ls", "qvm-features", "qvm-tags", "qvm-firewall")
# the Admin API calls qubes-core-admin implements as scripts in /etc/qubes-rpc (big payloads)
RPC_SCRIPTS = {"admin.vm.volume.Import": "admin.vm.volume.Import",
               "admin.vm.volume.ImportWithSize": "admin.vm.volume.Import"}


def _free_gid():
    used = set()
    with open("/etc/group", encoding="utf-8") as f:
        for line in f:
            used.add(line.split(":")[2])
    return next(str(g) for g in range(900, 1000) if str(g) not in used)


class QmemmanStandIn(threading.Thread):
    """qmemman's socket, granting every request: `qvm-start` asks it for the VM's memory before
    the storage starts. Memory balancing has nothing to do with storage."""

    PATH = "/run/qubes/qmemman.sock"

    def __init__(self):
        super().__init__(daemon=True)
        os.makedirs(os.path.dirname(self.PATH), exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(self.PATH)
        self.sock.listen(16)

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)
                conn.sendall(b"OK\n")
                conn.recv(1024)  # until the client closes: the memory is "held" till then


class Dom0:
    """qubesd and its clients for one release."""

    def __init__(self, release, sources, work):
        self.release = release
        self.sources = sources
        self.work = work
        self.client_times = []  # seconds each client run took (a test resets it)
        self.bin = os.path.join(work, "bin")
        self.log_path = os.path.join(work, "qubesd.log")
        self.model = os.path.join(work, "model")
        self.proc = None
        self.log = None
        self.zygote = None  # the process the clients are forked from (client_zygote.py)
        self.env = dict(os.environ)  # the clients'
        self.env.update({
            "PYTHONPATH": ":".join(os.path.join(sources, d) for d in (
                "qubes-core-admin", "qubes-core-admin-client", "qubes-core-qrexec")),
            "PATH": self.bin + ":" + os.environ["PATH"],
            "QZFS_TEST_ASKLOG": os.path.join(work, "asked"),
            "QZFS_TEST_PASSPHRASE": "correct horse battery staple",
            "QZFS_ASKPASS": os.path.join(os.path.dirname(HERE), "python", "askpass-test"),
        })
        if BACKEND == "model":
            self.env["QZFS_BACKEND"] = "model:" + self.model
            self.env["QZFS_MODEL_POOL"] = ZPOOL
        # qubesd's: Qubes' own stand-ins for the libvirt and qubesdb Python bindings (Qubes'
        # tests use them; offline mode never calls them)
        self.qubesd_env = dict(self.env, PYTHONPATH=self.env["PYTHONPATH"] + ":" + os.path.join(
            sources, "qubes-core-admin", "test-packages"))
        self._clients()

    def _clients(self):
        os.makedirs(self.bin)
        tools = {c: ("qubesadmin.tools." + c.replace("-", "_"), self.env) for c in CLIENTS}
        # the import script asks qubesd with it (it imports qubesd's package)
        tools["qubesd-query"] = ("qubes.tools.qubesd_query", self.qubesd_env)
        for name, (module, env) in tools.items():
            path = os.path.join(self.bin, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write("#!/bin/sh\nPYTHONPATH={} exec {} -m {} \"$@\"\n".format(
                    env["PYTHONPATH"], PYTHON, module))
            os.chmod(path, 0o755)
        # qvm-clone copies the VM's menu entries with qvm-appmenus (qubes-desktop-linux-manager):
        # menus, not storage
        with open(os.path.join(self.bin, "qvm-appmenus"), "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(os.path.join(self.bin, "qvm-appmenus"), 0o755)
        # the import script runs dd under sudo (to root, from the user the call came from):
        # here everything is root already
        with open(os.path.join(self.bin, "sudo"), "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\nexec \"$@\"\n")
        os.chmod(os.path.join(self.bin, "sudo"), 0o755)
        rpc = "/etc/qubes-rpc"
        os.makedirs(rpc, exist_ok=True)
        for name, script in RPC_SCRIPTS.items():
            shutil.copy(os.path.join(self.sources, "qubes-core-admin", "qubes-rpc", script),
                        os.path.join(rpc, name))
        with open("/etc/qubes-release", "w", encoding="utf-8") as f:  # the clients: "in dom0"
            f.write("Qubes release {} (tests)\n".format(self.release))
        with open("/etc/group", "a", encoding="utf-8") as f:  # qubesd's sockets belong to it
            f.write("qubes:x:{}:root\n".format(_free_gid()))  # dom0's user is in it

    def start(self):
        """A fresh qubes.xml (qubes-create) the first time; then qubesd, until it answers."""
        if not os.path.exists("/var/lib/qubes/qubes.xml"):
            subprocess.run([PYTHON, "-m", "qubes.tools.qubes_create", "--offline-mode"],
                           env=self.qubesd_env, check=True, capture_output=True)
            if not os.path.exists(QmemmanStandIn.PATH):
                QmemmanStandIn().start()
            # what Qubes' VM kernel package installs (qubesd needs a default kernel to save a
            # VM); no VM boots here, so the files can be empty
            kernel = "/var/lib/qubes/vm-kernels/" + KERNEL
            os.makedirs(kernel, exist_ok=True)
            for f in ("vmlinuz", "initramfs", "modules.img"):
                open(os.path.join(kernel, f), "wb").close()
            first = True
        else:
            first = False
        self.log = open(self.log_path, "a", encoding="utf-8")  # pylint: disable=consider-using-with
        self.log_offset = self.log.tell()
        # as systemd starts it: a session of its own (no controlling terminal), no display
        env = {k: v for k, v in self.qubesd_env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [PYTHON, os.path.join(HERE, "qubesd_offline.py"), "--offline-mode"],
            env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        while True:  # until its socket answers, or it has died
            if self.proc.poll() is not None:
                raise RuntimeError("qubesd exited ({}):\n{}".format(
                    self.proc.returncode, self.log_since_start()))
            if self.qvm("qvm-pool", check=False).returncode == 0:
                break
            time.sleep(0.2)
        if first:
            self.qvm("qubes-prefs", "default_kernel", KERNEL)

    def stop(self, sig=signal.SIGTERM):
        """Stops qubesd as systemd does (SIGTERM: it saves qubes.xml and exits)."""
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        self.proc.wait()
        self.log.close()
        self.proc = None
        return self.log_since_start()

    def restart(self):
        self.stop()
        self.start()

    def fresh(self):
        """A freshly installed dom0: qubesd stopped, qubes.xml and the file pool's VM folders
        gone, a new qubes.xml made, qubesd started (what ZFS holds stays, unreferenced)."""
        self.stop()
        os.unlink("/var/lib/qubes/qubes.xml")
        for folder in ("appvms", "vm-templates"):
            shutil.rmtree(os.path.join("/var/lib/qubes", folder), ignore_errors=True)
        self.start()

    def log_since_start(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            f.seek(self.log_offset)
            return f.read()

    def _zygote_run(self, module, prog, args, stdin):
        """Runs a client's main() in a process forked from the client zygote (started the
        first time, with the clients' environment); a CompletedProcess."""
        if self.zygote is None:
            modules = ["{}=qubesadmin.tools.{}".format(c, c.replace("-", "_")) for c in CLIENTS]
            self.zygote = subprocess.Popen(  # pylint: disable=consider-using-with
                [PYTHON, os.path.join(HERE, "client_zygote.py"), *modules], env=self.env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            if self.zygote.stdout.readline() != "ready\n":
                raise RuntimeError("the client zygote did not start")
        streams = {k: os.path.join(self.work, "client." + k) for k in ("stdin", "stdout", "stderr")}
        with open(streams["stdin"], "w", encoding="utf-8") as f:
            f.write(stdin or "")
        for k in ("stdout", "stderr"):
            open(streams[k], "w", encoding="utf-8").close()
        self.zygote.stdin.write(json.dumps(dict(streams, module=module, prog=prog,
                                                args=args)) + "\n")
        self.zygote.stdin.flush()
        answer = self.zygote.stdout.readline()
        if not answer:
            raise RuntimeError("the client zygote died")
        out = {}
        for k in ("stdout", "stderr"):
            with open(streams[k], encoding="utf-8", errors="replace") as f:
                out[k] = f.read()
        return subprocess.CompletedProcess([prog, *args], json.loads(answer)["rc"],
                                           out["stdout"], out["stderr"])

    def stop_clients(self):
        if self.zygote is not None:
            self.zygote.stdin.close()
            self.zygote.wait()
            self.zygote = None

    def qvm(self, tool, *args, check=True, stdin=None):
        """Runs a client (a qvm-* tool, or python3 -c CODE using the client library) as its
        console script would, forked from the client zygote (see client_zygote.py); check:
        fail the test with its output if it fails."""
        started = time.monotonic()
        args = [str(a) for a in args]
        if tool in CLIENTS:
            proc = self._zygote_run("qubesadmin.tools." + tool.replace("-", "_"), tool, args,
                                    stdin)
        elif tool == PYTHON and args[:1] == ["-c"]:
            proc = self._zygote_run("-c", PYTHON, args[1:], stdin)
        else:
            proc = subprocess.run([tool, *args], env=self.env, capture_output=True,
                                  text=True, check=False, input=stdin)
        self.client_times.append(time.monotonic() - started)
        if check and proc.returncode != 0:
            raise AssertionError("{} {} failed ({}): {}{}".format(
                tool, " ".join(map(str, args)), proc.returncode, proc.stdout, proc.stderr))
        return proc

    SETTINGS_PROBE = """
import json, sys, qubesadmin
app = qubesadmin.Qubes()
out = {}
for name in sys.argv[1:]:
    vm = app.domains[name]
    props = {}
    for p in vm.property_list():
        if not vm.property_is_default(p):
            props[p] = str(getattr(vm, p))
    out[name] = {"prefs": props, "features": {k: vm.features[k] for k in vm.features},
                 "tags": sorted(vm.tags),
                 "firewall": vm.qubesd_call(name, "admin.vm.firewall.Get").decode()}
print(json.dumps(out))
"""

    def set_prefs(self, vm, prefs):
        """Sets vm's properties (a list of (name, value), in order) through the Admin API, as
        qvm-prefs does, in one client process."""
        script = ("import sys, qubesadmin\nvm = qubesadmin.Qubes().domains[sys.argv[1]]\n"
                  "for i in range(2, len(sys.argv), 2):\n"
                  "    setattr(vm, sys.argv[i], sys.argv[i + 1])\n")
        self.qvm(PYTHON, "-c", script, vm, *[str(x) for pair in prefs for x in pair])

    def settings(self, *vms):
        """What the Admin API tells (as the clients read it) of each vm's settings: properties
        set (not at their default), features, tags, firewall rules. One client process for
        all: each costs seconds in the emulated test VM."""
        proc = self.qvm(PYTHON, "-c", self.SETTINGS_PROBE, *vms)
        return json.loads(proc.stdout)

    def qzfs_times(self):
        """How long each qzfs run so far took, in seconds (those that ended)."""
        try:
            with open(os.path.join(self.work, "qzfs-runs-timed"), encoding="utf-8") as f:
                return [int(line.split(None, 1)[0]) / 1000 for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def qzfs_runs(self):
        """The qzfs runs so far (their arguments), in order."""
        try:
            with open(os.path.join(self.work, "qzfs-runs"), encoding="utf-8") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def volume_ops(self, since=0):
        """The `qzfs volume` operations of the runs after the first since: (run number, the
        operation's words from its name on, as one string), each of a batch apart."""
        ops = []
        for n, run in enumerate(self.qzfs_runs()[since:], since):
            words = run.replace("--json ", "", 1) if run.startswith("--json ") else run
            if words.startswith("volume batch "):
                ops += [(n, op) for op in words[len("volume batch "):].split(" + ")]
            elif words.startswith("volume "):
                ops.append((n, words[len("volume "):]))
        return ops

    def hold_listings(self, hold=True):
        """While held, `qzfs pool volumes` waits (after writing down its run) until let go."""
        path = os.path.join(self.work, "hold-listings")
        if hold:
            open(path, "w", encoding="utf-8").close()
        elif os.path.exists(path):
            os.unlink(path)

    def run_qzfs(self, *args, check=True, stdin=None):
        """The installed qzfs as a user runs it in dom0 (their environment: the Admin API's
        client library on the path), stdin given as text; the finished process."""
        proc = subprocess.run(["/usr/bin/qzfs", *map(str, args)], env=self.env,
                              capture_output=True, text=True, check=False, input=stdin)
        if check and proc.returncode != 0:
            raise AssertionError("qzfs {} failed ({}): {}{}".format(
                " ".join(map(str, args)), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def qzfs(self, *args):
        """The installed qzfs, to look at what the drivers made (--json)."""
        proc = subprocess.run(["/usr/bin/qzfs", "--json", *map(str, args)], env=self.env,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise AssertionError("qzfs {} failed: {}".format(" ".join(map(str, args)),
                                                              proc.stderr))
        return json.loads(proc.stdout) if proc.stdout.strip() else {}


class QubesTestCase(unittest.TestCase):
    """A test with the release's dom0; names of its own for pools, datasets and VMs."""

    def setUp(self):
        self.dom0 = DOM0
        self.n = next(_serial)
        self.dom0.client_times = []
        self.qzfs_before = len(self.dom0.qzfs_times())
        # this release's datasets, apart from the other's on a shared zpool (made as a pool's
        # missing parent)
        self.root = "{}/q{}".format(ZPOOL, self.dom0.release.replace(".", ""))

    def on_the_model_only(self, why):
        """Skips the test on real ZFS, saying why (what covers it there), unless
        QZFS_QUBES_ALL=1 asks for every test: the CI's lanes in the emulated VM have room
        for each data path once."""
        if BACKEND == "real" and os.environ.get("QZFS_QUBES_ALL") != "1":
            self.skipTest(why + ": run on the model (QZFS_QUBES_ALL=1 runs it here)")

    def tearDown(self):
        """Where the test's time went: the clients it ran, and qzfs as qubesd ran it."""
        qzfs = self.dom0.qzfs_times()[self.qzfs_before:]
        print("# {} clients {:.1f} s; {} qzfs runs {:.1f} s".format(
            len(self.dom0.client_times), sum(self.dom0.client_times), len(qzfs), sum(qzfs)),
            flush=True)

    def name(self, base):
        return "{}{}".format(base, self.n)

    def qvm(self, tool, *args, **kwargs):
        return self.dom0.qvm(tool, *args, **kwargs)

    def add_pool(self, base="vms", driver="zfs_zvol", **options):
        """qvm-pool add NAME DRIVER -o K=V...; returns the pool's name."""
        name = self.name(base)
        if driver == "zfs_zvol":
            options.setdefault("dataset", "{}/{}".format(self.root, name))
        args = []
        for key, value in options.items():
            args += ["-o", "{}={}".format(key, value)]
        self.qvm("qvm-pool", "add", name, driver, *args)
        return name

    def pool_info(self, pool):
        out = self.qvm("qvm-pool", "info", pool).stdout
        return dict(line.split(None, 1) for line in out.splitlines() if line.strip())

    def volume_info(self, vm_volume):
        """qvm-volume info VM:VOLUME, as a dict of its lines."""
        out = self.qvm("qvm-volume", "info", vm_volume).stdout
        info = {}
        for line in out.splitlines():
            key, _, value = line.partition(" ")
            info[key] = value.strip()
        return info

    def volume_dataset(self, pool, vm, volume):
        return "{}/{}/{}".format(self.pool_info(pool)["dataset"], vm, volume)

    def template(self, pool, base="tpl", small=False, name=None):
        """A TemplateVM in pool: Qubes' default volume sizes (root 10 GiB, private 2 GiB), or
        with small, a root of 1 MiB from an image (qvm-create --root-copy-from, as a user makes
        a template from a file) and a private volume imported at 1 MiB (ImportWithSize). Tests
        whose clones copy every byte into a file pool use small ones: reading 12 GiB of zeros
        from a zvol takes minutes in the emulated test VM. name: this one, not one of the
        test's own made from base."""
        name = name or self.name(base)
        args = []
        if small:
            image = os.path.join(self.dom0.work, "root-{}".format(self.n))
            with open(image, "wb") as f:
                f.truncate(MiB)
            args = ["--root-copy-from", image]
        self.qvm("qvm-create", "--class", "TemplateVM", "--label", "black", "-P", pool, *args,
                 name)
        if small:
            os.unlink(image)
            self.import_bytes(name + ":private", b"", size=MiB)
        return name

    def appvm(self, pool, template, base="work"):
        name = self.name(base)
        self.qvm("qvm-create", "--class", "AppVM", "--template", template, "--label", "red",
                 "-P", pool, name)
        return name

    def volume_bytes(self, root, vm, volume, size=4096):
        """The first size bytes of the committed state of vm's volume in the pool on dataset
        root (an export)."""
        dataset = "{}/{}/{}".format(root, vm, volume)
        path = self.dom0.qzfs("volume", "export", dataset)["path"]
        try:
            with open(path, "rb") as f:
                return f.read(size)
        finally:
            self.dom0.qzfs("volume", "export-end", dataset, path)

    def start_and_stop(self, vm):
        """qvm-start in offline mode: qubesd starts the storage, fails at libvirt and stops
        the storage again. Returns the client's error (it always fails here)."""
        proc = self.qvm("qvm-start", vm, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("offline", proc.stderr)  # it got past the storage, to libvirt
        return proc.stderr

    def import_bytes(self, vm_volume, data, size=None):
        """qvm-volume import of data (then zeros, up to size): the admin.vm.volume.Import
        script with dd, as in dom0."""
        path = os.path.join(self.dom0.work, "import-{}".format(self.n))
        with open(path, "wb") as f:
            f.write(data)
            if size is not None:
                f.truncate(size)
        args = ["--size", str(size)] if size is not None else []
        self.qvm("qvm-volume", "import", *args, vm_volume, path)
        os.unlink(path)


if __name__ == "__main__":
    sys.exit("tests/qubes/qubes_harness.py is imported by tests/qubes/run.py")
