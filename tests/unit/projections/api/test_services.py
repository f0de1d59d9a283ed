"""The API's lifespan never waits for ever: a start step that does not answer fails naming what it
waited for; a background task that ignores its cancel is left behind (and logged) after the deadline."""

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


async def test_stop_tasks_waits_for_the_cancelled_and_leaves_a_stubborn_task_behind() -> None:
    release = asyncio.Event()
    stopped: list[str] = []

    async def polite() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append("polite")

    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # swallows its cancel, then waits on
            await asyncio.Event().wait()
        await release.wait()

    tasks = [asyncio.create_task(polite(), name="polite"), asyncio.create_task(stubborn(), name="stubborn")]
    await asyncio.sleep(0)  # both started
    loop = asyncio.get_running_loop()
    began = loop.time()
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(stop_tasks(tasks, within_s=0.3), 10)
    assert loop.time() - began < 5
    assert stopped == ["polite"] and tasks[0].cancelled() and not tasks[1].done()
    assert [(e["event"], e["task"]) for e in logs if e["log_level"] == "error"] == [
        ("background task did not stop after its cancel", "stubborn")
    ]
    release.set()
    await tasks[1]
