#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Writes the dist-info of the Python package (metadata and the qubes.storage entry points,
read from pyproject.toml) into a site directory, which is all importlib.metadata needs to find
the drivers. Used by `make install` (no pip or wheel at build time) and by the tests.

    scripts/dist_info.py SITE_DIR"""

import os
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(site):
    """Writes SITE/qubes_storage_zfs-VERSION.dist-info; returns its path."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    info = os.path.join(site, "qubes_storage_zfs-{}.dist-info".format(project["version"]))
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as f:
        f.write("Metadata-Version: 2.1\nName: {}\nVersion: {}\nSummary: {}\n".format(
            project["name"], project["version"], project["description"]))
    with open(os.path.join(info, "entry_points.txt"), "w", encoding="utf-8") as f:
        for group, points in project["entry-points"].items():
            f.write("[{}]\n".format(group))
            for name, target in points.items():
                f.write("{} = {}\n".format(name, target))
    with open(os.path.join(info, "INSTALLER"), "w", encoding="utf-8") as f:
        f.write("make\n")
    return info


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: dist_info.py SITE_DIR")
    print(write(sys.argv[1]))
