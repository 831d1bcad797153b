# SPDX-License-Identifier: BSD-2-Clause
"""Runs the Python driver tests and prints TAP (what scripts/test counts).

    python3 tests/python/run.py [PATTERN]

The driver is used from the source tree, with the real `qubes` package of the qubes-core-admin
tree QZFS_QUBES_CORE names (scripts/test: Qubes 4.2 and 4.3), or else with our stand-in (kept
for Python 3.13, where Debian 12 has no lxml for the real one); its entry points
are written from pyproject.toml into a temporary dist-info (scripts/dist_info.py), so the driver is found the way qubesd
finds it (importlib.metadata, group qubes.storage). Environment: QZFS_BINARY (the qzfs to
run), QZFS_TEST_BACKEND=model|real, QZFS_TEST_ZPOOL (real: a scratch zpool)."""

import logging
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import dist_info  # noqa: E402  (scripts/dist_info.py)
from run_tap import TapResult  # noqa: E402


def main():
    logging.basicConfig(level=logging.INFO, format="# log %(name)s: %(message)s")
    # IsolatedAsyncioTestCase runs its loop in debug mode, whose INFO lines (one per subprocess
    # pipe) would bury the results
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="qzfs-py-") as site:
        dist_info.write(site)
        # the real qubes package (qubes-core-admin of one release, with Qubes' own test
        # stand-ins for libvirt and qubesdb) when QZFS_QUBES_CORE names its tree; else ours
        real = os.environ.get("QZFS_QUBES_CORE")
        qubes_path = [real, os.path.join(real, "test-packages")] if real else [
            os.path.join(HERE, "standin")]
        sys.path[:0] = [site, os.path.join(ROOT, "python"), *qubes_path, HERE]
        pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
        suite = unittest.defaultTestLoader.discover(HERE, pattern=pattern, top_level_dir=HERE)
        print("1..{}".format(suite.countTestCases()), flush=True)
        with open(os.devnull, "w", encoding="utf-8") as quiet:
            runner = unittest.TextTestRunner(stream=quiet, resultclass=TapResult, verbosity=0)
            result = runner.run(suite)
        print("# python {}.{}: {} run, {} failed".format(
            *sys.version_info[:2], result.testsRun, len(result.failures) + len(result.errors)))
        return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
