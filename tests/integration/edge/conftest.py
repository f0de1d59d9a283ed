"""Shared pieces of the edge's SIP integration tests: an in-process edge per test on free ports, with the
real local Kafka, and its facts read back from ``sentiric.calls``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from edge.app import EdgeApp
from sentiric.eventlog import topics
from sentiric.eventlog.consumer import partition_counts, read_partition_until_end
from sentiric.eventlog.producer import EventProducer
from tests.support.sipp import edge_settings

SIP_FACTS = {
    "CallInviteReceived",
    "DialplanResolved",
    "CallRejected",
    "MediaPortAllocated",
    "CallAnswered",
    "CallEstablished",
    "CallMediaUpdated",
    "CallCancelled",
    "CallTransferred",
    "CallEnded",
    "MediaPortReleased",
}
BASIC = [
    "CallInviteReceived",
    "DialplanResolved",
    "MediaPortAllocated",
    "CallAnswered",
    "CallEstablished",
    "CallEnded",
    "MediaPortReleased",
]

StartEdge = Callable[..., Awaitable[EdgeApp]]


@pytest.fixture
async def start_edge(kafka: str, tmp_path: Path) -> AsyncIterator[StartEdge]:
    apps: list[EdgeApp] = []

    async def start(**overrides: Any) -> EdgeApp:
        app = EdgeApp(edge_settings(kafka, tmp_path / "home", **overrides))
        await app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.stop()


@pytest.fixture
async def config(kafka: str) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    """Publish config records (trunks, users, dialplans) for one test; they are tombstoned afterwards,
    since every edge of the session reads the same config topic. Publish before starting the edge."""
    keys: list[str] = []

    async def publish(*records: Any) -> None:
        async with EventProducer(bootstrap_servers=kafka) as producer:
            for record in records:
                producer.publish(record, topic=topics.CONFIG)
                keys.append(f"{type(record).__name__.lower()}:{record.entity_id}")
            await producer.flush()

    yield publish
    if keys:
        async with EventProducer(bootstrap_servers=kafka) as producer:
            for key in keys:
                producer.tombstone(topics.CONFIG, key)
            await producer.flush()


async def node_facts(
    app: EdgeApp, kafka: str, expect_calls: int, wait_s: float = 30.0
) -> dict[str, list[Any]]:
    """This edge's SIP facts on the log, per call, in log order; waits for every call to end."""
    await app.producer.flush()
    deadline = asyncio.get_running_loop().time() + wait_s
    # the topic's own partition count: a test of another package may have created it with another one
    counts = await partition_counts(lambda names: [topics.CALLS], bootstrap_servers=kafka)
    partitions = counts.get(topics.CALLS, app.settings.topic_partitions)
    while True:
        parts = await asyncio.gather(
            *(read_partition_until_end(topics.CALLS, p, bootstrap_servers=kafka) for p in range(partitions))
        )
        calls: dict[str, list[Any]] = {}
        for part in parts:
            for d in part:
                if d.record.source == app.settings.node_id:
                    calls.setdefault(d.record.call_id, []).append(d.record)
        ended = [c for c in calls.values() if any(type(r).__name__ == "MediaPortReleased" for r in c)]
        if len(ended) >= expect_calls or asyncio.get_running_loop().time() > deadline:
            return calls
        await asyncio.sleep(0.3)
        await app.producer.flush()


def sip_only(records: list[Any]) -> list[Any]:
    """The SIP side's facts (the media engine adds MediaQualityReported and others)."""
    return [r for r in records if type(r).__name__ in SIP_FACTS]


def sip_names(records: list[Any]) -> list[str]:
    return [type(r).__name__ for r in sip_only(records)]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Authed:
    """A MediaService stub whose every call carries ``authorization: Bearer <token>`` metadata."""

    def __init__(self, stub: Any, token: str) -> None:
        self._stub = stub
        self._metadata = (("authorization", f"Bearer {token}"),)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._stub, name)

        def call(*args: Any, metadata: tuple[tuple[str, str], ...] = (), **kwargs: Any) -> Any:
            return method(*args, metadata=(*metadata, *self._metadata), **kwargs)

        return call
