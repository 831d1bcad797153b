# SPDX-License-Identifier: BSD-2-Clause
"""The helpers of qubes.utils that storage code calls."""

import asyncio


def parse_bool(value):
    """True/False from a bool or from the strings qubes.xml and qvm-pool use."""
    if isinstance(value, bool):
        return value
    if value in ("True", "1", "on"):
        return True
    if value in ("False", "0", "off", ""):
        return False
    raise ValueError("not a boolean: {!r}".format(value))


async def coro_maybe(value):
    """Awaits value if it is a coroutine (drivers may implement methods either way)."""
    if asyncio.iscoroutine(value):
        return await value
    return value


async def void_coros_maybe(values):
    """Runs the coroutines among values concurrently, to the end; then re-raises the first
    failure in the order given (the others are not cancelled)."""
    tasks = [asyncio.ensure_future(v) for v in values if asyncio.iscoroutine(v)]
    if not tasks:
        return
    await asyncio.wait(tasks)
    failures = [t.exception() for t in tasks if t.exception() is not None]
    if failures:
        raise failures[0]
