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


async def _spawn(args):
    """Runs `qzfs --json ARGS` without blocking the event loop: (exit code, stdout, stderr)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            BINARY, "--json", *args,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise _missing(exc) from exc
    out, err = await proc.communicate()
    return proc.returncode, out, err


async def run(*args):
    """Runs `qzfs --json ARGS` without blocking the event loop; returns its JSON answer."""
    return _result(args, *await _spawn(args))


async def run_batch(ops):
    """Runs `qzfs --json volume batch` with ops (each the arguments of a `qzfs volume`
    command: create, verify, start, stop or remove) in one process, without blocking the
    event loop; returns, for each op in order, its JSON answer or the StoragePoolException
    of its failure."""
    args = ["volume", "batch"]
    for op in ops:
        args += (["+"] if len(args) > 2 else []) + list(op)
    returncode, out, err = await _spawn(args)
    try:
        answers = json.loads(out.decode("utf-8", "replace"))["volumes"]
        if len(answers) != len(ops) or not all(isinstance(a, dict) for a in answers):
            raise ValueError("not one answer per volume")
    except (ValueError, KeyError, TypeError):  # refused as a whole: each op fails with it
        try:
            _result(args, returncode or 1, b"", err)
        except qubes.storage.StoragePoolException as exc:
            return [qubes.storage.StoragePoolException(str(exc)) for _ in ops]
    return [qubes.storage.StoragePoolException(
        "qzfs volume {}: {}".format(op[0], a["error"])) if "error" in a else a
            for op, a in zip(ops, answers)]


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
