"""The API's lifespan never waits for ever: a start step that does not answer fails naming what it
waited for; a background task that lost its cancel is cancelled again, and one that ignores every
cancel is left behind (and logged) at the deadline."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import structlog

from projections.api.services import ServiceStartError, start_step, stop_tasks


async def test_a_start_step_that_never_answers_fails_naming_it() -> None:
    never = asyncio.Event()
    with pytest.raises(ServiceStartError, match=r"the log \(producer start\) did not answer within 0\.2 s"):
        await asyncio.wait_for(start_step("the log (producer start)", never.wait(), within_s=0.2), 10)


async def test_stop_tasks_cancels_again_a_task_that_lost_its_cancel_and_leaves_a_deaf_one() -> None:
    stopped: list[str] = []
    release = asyncio.Event()

    async def polite() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append("polite")

    async def lost_one() -> None:  # as a task whose cancel aiokafka's close() swallowed
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        try:
            await asyncio.Event().wait()  # a follower that now just follows: only a second cancel ends it
        finally:
            stopped.append("lost_one")

    async def deaf() -> None:  # swallows every cancel until released
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    tasks = [asyncio.create_task(f(), name=f.__name__) for f in (polite, lost_one, deaf)]
    await asyncio.sleep(0)  # all started
    loop = asyncio.get_running_loop()
    began = loop.time()
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(stop_tasks(tasks, within_s=1.0, recancel_s=0.2), 10)
    assert 1.0 <= loop.time() - began < 5
    assert stopped == ["polite", "lost_one"] and tasks[0].cancelled() and tasks[1].cancelled()
    assert not tasks[2].done()
    assert [(e["event"], e["task"]) for e in logs if e["log_level"] == "error"] == [
        ("background task did not stop after its cancel", "deaf")
    ]
    release.set()
    await tasks[2]
