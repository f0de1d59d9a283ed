"""The dashboard's live feed against the real local Kafka: it follows every partition of the call topic
from its end, so a call on any partition reaches a subscriber, and one it cannot fold is set aside."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from typing import Any

from projections.web.live import LiveFeed
from schemas import models as m
from schemas.samples import sample
from sentiric.eventlog import topics
from sentiric.eventlog.admin import ensure_topics, partition_count
from sentiric.eventlog.consumer import partition_for
from sentiric.eventlog.producer import EventProducer


def call_on(partition: int, partitions: int) -> str:
    while True:
        call_id = str(uuid.uuid4())
        if partition_for(call_id, partitions) == partition:
            return call_id


async def test_calls_on_every_partition_reach_a_subscriber(kafka: str) -> None:
    client: dict[str, Any] = {"bootstrap_servers": kafka}
    await ensure_topics(topics.platform_topics(partitions=3, calls_retention_ms=3_600_000), **client)
    partitions = await partition_count(topics.CALLS, **client)  # whatever count the session made
    calls = [call_on(p, partitions) for p in range(partitions)]
    feed = LiveFeed(client)
    await feed.ensure_started()
    stream = feed.stream()
    try:
        first = await anext(stream)
        assert b"event: snapshot" in first
        async with EventProducer(**client) as producer:
            for n, call_id in enumerate(calls):
                invite = dataclasses.replace(sample(m.CallInviteReceived, call_id), caller=f"caller-{n}")
                producer.publish(invite)
            await producer.flush()
        seen: set[str] = set()
        async with asyncio.timeout(60):
            while not seen >= set(calls):
                event = await anext(stream)
                if event.startswith(b"event: call\n"):
                    data = json.loads(event.split(b"data: ", 1)[1])
                    seen.add(data["call_id"])
        assert {c for c in calls if c in feed.live.calls} == set(calls)
    finally:
        await stream.aclose()
        await feed.stop()
