"""The worker's consumer fetches with a snapshot of Faust's active partitions (streams.fetch_guard)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from sentiric.settings import Settings
from streams.app import create_app
from streams.engines.factory import Engines
from streams.fetch_guard import GuardedConsumerThread


def test_the_worker_app_consumes_through_the_guarded_thread(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, kafka_bootstrap="127.0.0.1:9", topic_partitions=1)
    app = create_app(settings, Engines(stt=None, dialog=None, tts=None))  # type: ignore[arg-type]  # never called
    assert isinstance(app.consumer._thread, GuardedConsumerThread)  # type: ignore[attr-defined]  # faust's delegate


async def test_getmany_hands_the_thread_the_partitions_asked_for_not_the_live_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Faust mutates its active set on the event loop while the fetch waits in the consumer thread;
    the end of a table recovery empties it for a moment. The fetch must keep what was asked."""
    seen: list[Any] = []

    async def queued_fetch(self: Any, active_partitions: Any, timeout: float) -> dict[TP, list[Any]]:  # noqa: ASYNC109
        live.clear()  # what the end of the recovery does while the call is queued
        seen.append(active_partitions)
        return {}

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "getmany", queued_fetch)
    live = {TP("sentiric-dialog-changelog", 1)}
    thread = GuardedConsumerThread.__new__(GuardedConsumerThread)
    await thread.getmany(live, 1.0)
    assert seen == [frozenset({TP("sentiric-dialog-changelog", 1)})]
    assert live == set()


async def test_a_fetch_for_no_partitions_returns_nothing_without_reading_the_consumer() -> None:
    thread = GuardedConsumerThread.__new__(GuardedConsumerThread)
    assert await thread._fetch_records(None, frozenset(), timeout=1.0) == {}  # type: ignore[arg-type]  # not read
