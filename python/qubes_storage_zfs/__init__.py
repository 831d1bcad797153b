# SPDX-License-Identifier: BSD-2-Clause
"""Qubes OS storage pool drivers on ZFS.

The drivers are thin: every ZFS change is made by the `qzfs` program (C, libzfs_core); this
package only forwards qubesd's calls to it and caches what it answers.
"""

__version__ = "0.1.0"
