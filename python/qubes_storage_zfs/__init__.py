# SPDX-License-Identifier: BSD-2-Clause
"""Qubes OS storage pool drivers on ZFS.

The drivers are thin: every ZFS change is made by the `qzfs` program (C, libzfs_core); this
package only forwards qubesd's calls to it and caches what it answers.
"""

__version__ = "0.1.0"


def pool_dataset(driver, config):
    """The dataset under which a pool of ours (its driver and its config, as qubes.xml keeps
    them) holds its volumes; None for other drivers."""
    if driver == "zfs_zvol":
        return config.get("dataset")
    if driver == "zfs_encrypted":
        return "{}/encryption/{}".format(config["zpool_name"], config["name"])
    return None
