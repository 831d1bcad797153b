# SPDX-License-Identifier: BSD-2-Clause
"""The `qubes` tier for one Qubes release: the real qubesd and the real `qvm-*` clients drive
the installed drivers. Prints TAP. Run by tests/qubes/run.sh, which prepares what this needs:

    unshare -m -u --propagation private python3 run.py RELEASE SOURCES INSTALL_ROOT WORK [PATTERN]

RELEASE is 4.2 or 4.3; SOURCES a prepared copy of that release's Qubes trees (egg-info made);
INSTALL_ROOT what `make install DESTDIR=...` wrote; WORK a scratch folder. This process must be
in a mount namespace of its own: it lays over /usr the project as installed, gives /etc a
writable layer (qubesd's /etc/qubes-release, the admin API's import scripts) and mounts empty
tmpfs on /run, /var/lib/qubes, /var/log/qubes and /var/lib/qubes-storage-zfs (dom0's backup
records, 0700 as the package makes it), so nothing of the machine is touched.

Environment: QZFS_TEST_BACKEND=model|real, QZFS_TEST_ZPOOL (real: a scratch zpool)."""

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
import qubes_harness  # noqa: E402
from run_tap import TapResult  # noqa: E402  (tests/python/run_tap.py)


QZFS_WINDOW = """#!/bin/sh
echo "$*" >>{runs}
case "$*" in *"pool volumes"*) while [ -e {hold} ]; do sleep 0.05; done ;; esac
t0=$(date +%s%N)
{qzfs} "$@"
rc=$?
echo "$(( ($(date +%s%N) - t0) / 1000000 )) $*" >>{runs}-timed
exit $rc
"""


def mount(*args):
    subprocess.run(["mount", *args], check=True)


def isolate(install_root, sources, work):
    """Makes this mount namespace a fresh dom0's: our package installed, Qubes' state empty."""
    if os.readlink("/proc/self/ns/mnt") == os.readlink("/proc/{}/ns/mnt".format(os.getppid())):
        sys.exit("run.py: not in a mount namespace of its own (run it under unshare -m)")
    mount("--make-rprivate", "/")
    # the package as `make install` put it, over the machine's /usr (read-only, as an RPM's);
    # beside it the libvirt templates qubes-core-admin's package installs (qubesd renders a
    # VM's libvirt XML before it asks libvirt to start it)
    qubes_usr = os.path.join(work, "qubes-usr")
    shutil.copytree(os.path.join(sources, "qubes-core-admin", "templates"),
                    os.path.join(qubes_usr, "share", "qubes", "templates"))
    mount("-t", "overlay", "overlay", "-o", "lowerdir={}:{}:/usr".format(
        os.path.join(install_root, "usr"), qubes_usr), "/usr")
    layer = os.path.join(work, "etc-layer")  # on a tmpfs: an overlay's upper dir cannot be on
    os.makedirs(layer)                      # another overlay (the test VM's root is one)
    mount("-t", "tmpfs", "tmpfs", layer)
    upper, scratch = os.path.join(layer, "upper"), os.path.join(layer, "work")
    os.makedirs(upper)
    os.makedirs(scratch)
    mount("-t", "overlay", "overlay", "-o",
          "lowerdir={}:/etc,upperdir={},workdir={}".format(
              os.path.join(install_root, "etc"), upper, scratch), "/etc")
    # /usr/bin/qzfs as installed, seen through a window: each run is written down (what
    # qubesd made the drivers run), and a test may hold pool listings until it lets them go
    window = os.path.join(work, "qzfs-window")
    with open(window, "w", encoding="utf-8") as f:
        f.write(QZFS_WINDOW.format(runs=os.path.join(work, "qzfs-runs"),
                                   hold=os.path.join(work, "hold-listings"),
                                   qzfs=os.path.join(install_root, "usr", "bin", "qzfs")))
    os.chmod(window, 0o755)
    mount("--bind", window, "/usr/bin/qzfs")
    socket.sethostname("dom0")  # a UTS namespace of its own: the clients find dom0 by it
    for path, mode in (("/run", "0755"), ("/var/lib/qubes", "0755"), ("/var/log/qubes", "0755"),
                       ("/var/lib/qubes-storage-zfs", "0700")):
        os.makedirs(path, exist_ok=True)
        mount("-t", "tmpfs", "-o", "mode=" + mode, "tmpfs", path)


def _each(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _each(t)
        else:
            yield t


def main():
    release, sources, install_root, work = sys.argv[1:5]
    pattern = sys.argv[5] if len(sys.argv) > 5 else "test_*.py"
    suite = unittest.defaultTestLoader.discover(HERE, pattern=pattern, top_level_dir=HERE)
    only = os.environ.get("QZFS_QUBES_ONLY")  # a part of the names of the tests to run
    if only:
        suite = unittest.TestSuite(t for t in _each(suite) if only in t.id())
    TapResult.prefix = release + ": "
    print("1..{}".format(suite.countTestCases()), flush=True)  # what did not run counts failed
    try:
        isolate(install_root, sources, work)
        logging.basicConfig(level=logging.INFO, format="# log %(name)s: %(message)s")
        dom0 = qubes_harness.Dom0(release, sources, work)
        qubes_harness.DOM0 = dom0
        dom0.start()
    except Exception as exc:  # pylint: disable=broad-except
        print("# {}: a dom0 could not be made: {}".format(release, exc), flush=True)
        raise
    try:
        with open(os.devnull, "w", encoding="utf-8") as quiet:
            result = unittest.TextTestRunner(stream=quiet, resultclass=TapResult,
                                             verbosity=0).run(suite)
    finally:
        dom0.stop()
        dom0.stop_clients()
    print("# qubes {}: {} run, {} failed".format(
        release, result.testsRun, len(result.failures) + len(result.errors)), flush=True)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        sys.exit(main())
