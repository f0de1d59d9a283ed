"""Example (a) and the processor runtime on the real broker: a scripted day of calls → intents and
unanswered questions per hour, run as a user would, `sentiric processor run examples.hourly_intents:intents`
(a subprocess with the platform's settings from the environment).

The day is on the log before the processor starts: its fresh consumer group reads from offset 0. One
agent reply is published twice (an upstream republish: the same `event_id`), and it counts once. A
corrupt record sits in the middle of the call topic: it is set aside on `sentiric.deadletter` with its
topic, partition and offset, and the processor goes on (the facts after it are counted). Restarted,
the processor (state in memory, `replay=True`) counts from offset 0 again."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from examples.hourly_intents import OUTPUT, hour_of
from projections.projector import partition_counts
from projections.synthetic import day_of_calls, interleaved
from schemas import models as m
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.producer import EventProducer
from sentiric.eventlog.topics import CALLS, platform_topics
from tests.integration.deadletter import wait_dead_letters
from tests.integration.e2e.stack import PARTITIONS
from tests.integration.examples.processes import ProcessorProcess

CORRUPT = b"\x00not an avro single-object record"


def with_intents(facts: list[Any]) -> list[Any]:
    """The replies to questions given intents, one in four a fallback (no answer)."""
    intents = itertools.cycle(["opening-hours", "prices", "fallback", "opening-hours"])
    return [
        dataclasses.replace(f, intent=next(intents))
        if isinstance(f, m.AgentReplied) and f.utterance_id is not None
        else f
        for f in facts
    ]


def scripted_day() -> list[Any]:
    """A day of 36 synthetic calls, their replies with intents."""
    return with_intents(interleaved(day_of_calls(36, seed=21)))


def expected(facts: list[Any]) -> dict[str, dict[str, Any]]:
    """The hours as the processor must count them, computed here from the facts (each once)."""
    questions = {
        (f.call_id, f.utterance_id): f.text
        for f in facts
        if isinstance(f, m.UtteranceTranscribed) and f.is_final
    }
    hours: dict[str, dict[str, Any]] = {}
    for f in facts:
        if isinstance(f, m.AgentReplied) and f.utterance_id is not None:
            h = hours.setdefault(hour_of(f.occurred_at), {"intents": {}, "unanswered": []})
            h["intents"][f.intent] = h["intents"].get(f.intent, 0) + 1
            if f.intent == "fallback":
                h["unanswered"].append(questions[(f.call_id, f.utterance_id)])
    return hours


def normalized(hours: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Hours as comparable values: the unanswered questions of one hour come from several partitions,
    in no set order."""
    return {h: (s["intents"], sorted(s["unanswered"])) for h, s in hours.items()}


async def latest_summaries(kafka: str) -> dict[str, dict[str, Any]]:
    """The latest summary per hour on the output topic (every partition it has)."""
    latest: dict[str, dict[str, Any]] = {}
    if not await exists(kafka, OUTPUT):
        return latest  # the processor has not created it yet
    count = (await partition_counts([OUTPUT], bootstrap_servers=kafka))[OUTPUT]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(OUTPUT, p) for p in range(count)]
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            for msgs in (await consumer.getmany(*tps, timeout_ms=1000)).values():
                for msg in msgs:
                    latest[msg.key.decode()] = json.loads(msg.value)
    finally:
        await consumer.stop()
    return latest


async def exists(kafka: str, topic: str) -> bool:
    """Whether `topic` exists, asked without creating it. (Describing a topic that does not exist is a
    metadata request that lets the broker auto-create it, with the broker's default partition count:
    that is how an earlier version of this test made the processor's 1-partition output a 6-partition
    topic, and then read partition 0 only.)"""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        return topic in await admin.list_topics()
    finally:
        await admin.close()


@pytest.fixture
async def kafka(fresh_kafka: str) -> AsyncIterator[str]:
    specs = platform_topics(partitions=PARTITIONS, calls_retention_ms=7 * 24 * 3600 * 1000)
    await ensure_topics(specs, bootstrap_servers=fresh_kafka)
    yield fresh_kafka


async def test_intents_and_unanswered_questions_per_hour_once_each_past_a_corrupt_record(
    kafka: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    facts = scripted_day()
    want = normalized(expected(facts))
    assert any(unanswered for _, unanswered in want.values()) and len(want) > 5
    half = len(facts) // 2
    republished = next(f for f in facts[:half] if isinstance(f, m.AgentReplied) and f.utterance_id)
    async with EventProducer(bootstrap_servers=kafka, buffer_max=len(facts) + 10) as producer:
        for fact in facts[:half]:
            producer.publish(fact)
    raw = AIOKafkaProducer(bootstrap_servers=kafka)
    await raw.start()
    try:
        corrupt = await raw.send_and_wait(CALLS, key=republished.call_id.encode(), value=CORRUPT)
    finally:
        await raw.stop()
    async with EventProducer(bootstrap_servers=kafka, buffer_max=len(facts) + 10) as producer:
        for fact in facts[half:]:
            producer.publish(fact)
        producer.publish(republished)  # the same event_id again: counted once

    processor = ProcessorProcess("examples.hourly_intents:intents", kafka, tmp_path, machine_cache_dir)
    processor.start()
    try:
        got = await summaries_once_they_are(kafka, want, processor)
        assert all(s["hour"] == h for h, s in got.items())
        assert (await partition_counts([OUTPUT], bootstrap_servers=kafka))[OUTPUT] == 1  # as declared

        aside = await wait_dead_letters(kafka, origin_topic=CALLS, count=1)
        assert [(d.origin, d.consumer, d.value) for d in aside] == [
            ((CALLS, corrupt.partition, corrupt.offset), "example-hourly-intents", CORRUPT)
        ]
        assert processor.alive(), processor.tail()

        # Restarted, with one more call in an hour already counted: the fold lives in memory, so the
        # processor counts the log again from offset 0 (it never commits), and the hour's summary is its
        # whole count, not the new call's alone. The corrupt record is set aside again on the way.
        processor.stop()
        late = later_call_in(min(want))
        async with EventProducer(bootstrap_servers=kafka, buffer_max=len(late) + 10) as producer:
            for fact in late:
                producer.publish(fact)
        want_after = normalized(expected([*facts, *late]))
        assert want_after[min(want)] != want[min(want)] and set(want_after) == set(want)
        processor.start()
        await summaries_once_they_are(kafka, want_after, processor)
        aside = await wait_dead_letters(kafka, origin_topic=CALLS, count=2)
        assert {d.origin for d in aside} == {(CALLS, corrupt.partition, corrupt.offset)} and len(aside) == 2
    finally:
        processor.stop()


async def summaries_once_they_are(
    kafka: str, want: dict[str, Any], processor: ProcessorProcess, within_s: float = 120.0
) -> dict[str, dict[str, Any]]:
    got: dict[str, dict[str, Any]] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while normalized(got) != want:
        assert processor.alive(), processor.tail()
        assert loop.time() < deadline, f"{normalized(got)} != {want}\n{processor.tail()}"
        await asyncio.sleep(1.0)
        got = await latest_summaries(kafka)
    return got


def later_call_in(hour: str) -> list[Any]:
    """A new call's facts, moved to 10 minutes into `hour`, its replies with an intent."""
    call = next(c for c in day_of_calls(11, seed=99) if c.scenario == "answered" and c.turns)
    shift = datetime.fromisoformat(hour) + timedelta(minutes=10) - call.facts[0].occurred_at
    return [
        dataclasses.replace(
            f,
            occurred_at=f.occurred_at + shift,
            **({"intent": "prices"} if isinstance(f, m.AgentReplied) and f.utterance_id else {}),
        )
        for f in call.facts
    ]
