"""Example (a) and the processor runtime on the real broker: a scripted day of calls → intents and
unanswered questions per hour, run as a user would, `sentiric processor run examples.hourly_intents:intents`
(a subprocess with the platform's settings from the environment).

The day is on the log before the processor starts: its fresh consumer group reads from offset 0. One
agent reply is published twice (an upstream republish: the same `event_id`), and it counts once. A
corrupt record sits in the middle of the call topic: it is set aside on `sentiric.deadletter` with its
topic, partition and offset, and the processor goes on (the facts after it are counted)."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

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

INTENTS = itertools.cycle(["opening-hours", "prices", "fallback", "opening-hours"])
CORRUPT = b"\x00not an avro single-object record"


def scripted_day() -> list[Any]:
    """A day of synthetic calls whose replies carry intents, one in four a fallback (no answer)."""
    facts = interleaved(day_of_calls(36, seed=21))
    return [
        dataclasses.replace(f, intent=next(INTENTS))
        if isinstance(f, m.AgentReplied) and f.utterance_id is not None
        else f
        for f in facts
    ]


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
    count = (await partition_counts([OUTPUT], bootstrap_servers=kafka)).get(OUTPUT, 0)
    if not count:
        return latest  # the processor has not created it yet
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
        got: dict[str, dict[str, Any]] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while normalized(got) != want:
            assert processor.alive(), processor.tail()
            assert loop.time() < deadline, f"{normalized(got)} != {want}\n{processor.tail()}"
            await asyncio.sleep(1.0)
            got = await latest_summaries(kafka)
        assert all(s["hour"] == h for h, s in got.items())
        assert (await partition_counts([OUTPUT], bootstrap_servers=kafka))[OUTPUT] == 1  # as declared

        aside = await wait_dead_letters(kafka, origin_topic=CALLS, count=1)
        assert [(d.origin, d.consumer, d.value) for d in aside] == [
            ((CALLS, corrupt.partition, corrupt.offset), "example-hourly-intents", CORRUPT)
        ]
        assert processor.alive(), processor.tail()
    finally:
        processor.stop()
