"""The asyncio shell shared by the edge's call watchers: actions applied later (never inside the
recorder's record), deadlines ticked, spawned work cancelled on stop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from edge.uas.watcher_driver import WatcherDriver, wait_for_media_session
from schemas import models as f


def established(call_id: str) -> f.CallEstablished:
    return f.CallEstablished(
        event_id=uuid.uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC), source="t",
        trace_id=call_id,
    )  # fmt: skip


class Echo:
    """Answers every fact with its call id; ``due`` returns what was queued for the next tick."""

    def __init__(self) -> None:
        self.queued: list[str] = []

    def observe(self, fact: Any, now: float) -> Sequence[str]:
        return [fact.call_id]

    def due(self, now: float) -> Sequence[str]:
        out, self.queued = self.queued, []
        return out


async def test_actions_are_applied_after_observe_returns_and_only_for_facts() -> None:
    applied: list[str] = []
    driver = WatcherDriver(Echo(), applied.extend, name="t")
    driver.observe(established("before-start"))  # not started: ignored
    driver.start(tick_s=10)
    driver.observe(established("c1"))
    driver.observe(object())  # a command or anything else: not the watcher's business
    assert applied == []  # not inside observe (the recorder's record)
    await asyncio.sleep(0)
    assert applied == ["c1"]
    await driver.stop()


async def test_deadlines_are_ticked_and_a_failing_apply_does_not_end_the_ticker() -> None:
    watcher = Echo()
    seen: list[str] = []

    def apply(actions: Sequence[str]) -> None:
        seen.extend(actions)
        if "boom" in actions:
            raise RuntimeError("boom")

    driver = WatcherDriver(watcher, apply, name="t")
    driver.start(tick_s=0.01)
    watcher.queued = ["boom"]
    await asyncio.sleep(0.05)
    watcher.queued = ["after"]
    await asyncio.sleep(0.05)
    assert seen == ["boom", "after"]
    await driver.stop()


async def test_stop_cancels_spawned_work() -> None:
    driver = WatcherDriver(Echo(), lambda actions: None, name="t")
    driver.start()
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    driver.spawn(forever())
    await asyncio.sleep(0)
    await driver.stop()
    assert cancelled.is_set()


async def test_waiting_for_a_media_session_gives_up_after_the_wait() -> None:
    sessions: dict[str, object] = {}

    class Engine:
        def session(self, call_id: str) -> object | None:
            return sessions.get(call_id)

    loop = asyncio.get_running_loop()
    began = loop.time()
    await wait_for_media_session(Engine(), "c1", wait_s=0.1)
    assert 0.1 <= loop.time() - began < 1.0
    loop.call_later(0.05, sessions.__setitem__, "c2", object())
    began = loop.time()
    await wait_for_media_session(Engine(), "c2", wait_s=5)
    assert loop.time() - began < 1.0  # found as soon as it opened, not at the deadline
