"""`raise_if_cancelled()` re-raises a cancel that library code swallowed, and only such a cancel."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from sentiric.eventlog.cancel import raise_if_cancelled


async def swallowing_close() -> None:
    """As aiokafka's `AIOKafkaClient.close()`: awaits a cancelled helper task inside suppress()."""
    helper = asyncio.create_task(asyncio.Event().wait())
    helper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await helper


async def test_a_swallowed_cancel_is_raised_again() -> None:
    reached: list[str] = []

    async def owner() -> None:
        await swallowing_close()
        reached.append("after close")
        raise_if_cancelled()
        reached.append("after the check")

    task = asyncio.create_task(owner())
    await asyncio.sleep(0)  # the owner waits inside the close
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert reached == ["after close"]  # the close swallowed it; the check raised it


async def test_no_cancel_or_a_withdrawn_one_does_not_raise() -> None:
    raise_if_cancelled()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.01):  # its cancel is withdrawn (uncancel) as it becomes a TimeoutError
            await asyncio.Event().wait()
    raise_if_cancelled()
