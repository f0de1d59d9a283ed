"""Polling a running system from a test: what it is waiting for, and for how long, in the failure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until(
    probe: Callable[[], Awaitable[T]], what: str, within_s: float = 60.0, interval_s: float = 0.2
) -> T:
    """Await ``probe()`` every ``interval_s`` until it returns something truthy, and return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        result = await probe()
        if result:
            return result
        assert loop.time() < deadline, f"no {what} within {within_s} s"
        await asyncio.sleep(interval_s)
