# SPDX-License-Identifier: BSD-2-Clause
"""Running `qzfs`: asynchronously for everything qubesd awaits, synchronously only to fill a
cold cache. Every call asks for JSON; a failure becomes a StoragePoolException carrying the
message `qzfs` printed."""

import asyncio
import json
import os
import subprocess

import qubes.storage

#: The qzfs binary; QZFS_BINARY overrides it (tests, a development build).
BINARY = os.environ.get("QZFS_BINARY", "/usr/bin/qzfs")

#: qzfs gives ZFS sizes rounded up to a multiple of this (the volume block size).
VOLBLOCK = 16384


def volsize(size):
    """The size ZFS has for a volume qzfs was asked to make size bytes large."""
    size = int(size or 0)
    return (size + VOLBLOCK - 1) // VOLBLOCK * VOLBLOCK


def _result(args, returncode, out, err):
    if returncode != 0:
        message = err.decode("utf-8", "replace").strip()
        raise qubes.storage.StoragePoolException(
            message or "qzfs {} failed (exit {})".format(" ".join(args[:2]), returncode)
        )
    text = out.decode("utf-8", "replace").strip()
    try:
        return json.loads(text) if text else {}
    except ValueError as exc:
        raise qubes.storage.StoragePoolException(
            "qzfs {} answered something that is not JSON: {}".format(args[0], exc)
        ) from exc


def _missing(exc):
    return qubes.storage.StoragePoolException(
        "cannot run {}: {} (is qubes-storage-zfs installed?)".format(BINARY, exc.strerror)
    )


async def run(*args):
    """Runs `qzfs --json ARGS` without blocking the event loop; returns its JSON answer."""
    try:
        proc = await asyncio.create_subprocess_exec(
            BINARY, "--json", *args,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise _missing(exc) from exc
    out, err = await proc.communicate()
    return _result(args, proc.returncode, out, err)


def run_sync(*args):
    """Like run(), blocking: in a thread of its own, or for a pool's cold cache."""
    try:
        proc = subprocess.run(
            [BINARY, "--json", *args], stdin=subprocess.DEVNULL,
            capture_output=True, check=False, timeout=60,
        )
    except OSError as exc:
        raise _missing(exc) from exc
    except subprocess.TimeoutExpired as exc:
        raise qubes.storage.StoragePoolException("qzfs {} took too long".format(args[0])) from exc
    return _result(args, proc.returncode, proc.stdout, proc.stderr)
