"""A Faust agent on the real broker, in a real worker process: a record that makes its handler raise
is dead-lettered with its offset and the agent goes on with the next record.

The poison is an `UtteranceCaptured` whose sample rate is 0: the embedded STT (pocketsphinx here, as
light as the real engines get) raises `ValueError` from the resampler, which no worker expects. Before
the guard, that exception escaped the stt agent and crashed it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import models as m
from schemas.codec import CodecError, decode, encode
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.topics import CALLS, platform_topics
from streams.dialog.script import CallScript
from tests.integration.deadletter import wait_dead_letters
from tests.integration.e2e.stack import PARTITIONS, Worker


@pytest.fixture
async def kafka(fresh_kafka: str) -> AsyncIterator[str]:
    specs = platform_topics(partitions=PARTITIONS, calls_retention_ms=24 * 3600 * 1000, node_ids=("edge-7",))
    await ensure_topics(specs, bootstrap_servers=fresh_kafka)
    yield fresh_kafka


async def transcripts(kafka: str, utterance_id: str, within_s: float = 90.0) -> m.UtteranceTranscribed:
    consumer = AIOKafkaConsumer(CALLS, bootstrap_servers=kafka, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(within_s):
            async for msg in consumer:
                try:
                    fact = decode(msg.value)
                except CodecError:
                    continue
                if isinstance(fact, m.UtteranceTranscribed) and fact.utterance_id == utterance_id:
                    return fact
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


async def test_a_record_that_makes_the_stt_agent_raise_is_dead_lettered_and_the_agent_goes_on(
    kafka: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    worker = Worker(kafka, tmp_path / "worker", machine_cache_dir, SENTIRIC_STT_ENGINE="pocketsphinx")
    script = CallScript("call-poison-1", edge="edge-7")
    silence = b"\x00\x00" * 8000
    poison = script.fact(m.UtteranceCaptured, utterance_id="u-poison", sample_rate=0, pcm=silence)
    good = script.fact(m.UtteranceCaptured, utterance_id="u-good", sample_rate=8000, pcm=silence)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True)
    await producer.start()
    worker.start()
    try:
        await worker.ready()
        sent = await producer.send_and_wait(CALLS, encode(poison), key=script.call_id.encode())
        await producer.send_and_wait(CALLS, encode(good), key=script.call_id.encode())
        heard = await transcripts(kafka, "u-good")
        assert heard.engine == "pocketsphinx-grammar"  # transcribed after the poison: the agent lived on
        letters = await wait_dead_letters(kafka, origin_topic=CALLS, count=1)
        assert worker.alive(), worker.tail()
    finally:
        await producer.stop()
        worker.stop()
    (letter,) = [d for d in letters if d.consumer == "stt"]
    assert letter.origin == (CALLS, sent.partition, sent.offset)
    assert letter.value == encode(poison) and letter.error.startswith("ValueError")
