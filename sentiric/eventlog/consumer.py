"""Consumer helpers: decode records, shunt undecodable ones to the dead-letter topic, read one call.

A corrupt message never stops a consumer: it is logged with its topic/partition/offset, copied byte for
byte to `sentiric.deadletter` with its origin in headers, and skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import Counter

from schemas.codec import Codec, CodecError, default_codec
from sentiric.eventlog import topics
from sentiric.eventlog.producer import EventProducer

log = structlog.get_logger(__name__)

DEAD_LETTERED = Counter(
    "sentiric_log_dead_lettered_total", "Undecodable records moved to the dead-letter topic", ["topic"]
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded record and where it sits on the log."""

    record: Any
    topic: str
    partition: int
    offset: int
    timestamp_ms: int


class DeadLetters:
    """Moves undecodable messages to the dead-letter topic, keeping their origin."""

    def __init__(self, producer: EventProducer, consumer_name: str) -> None:
        self._producer = producer
        self._consumer_name = consumer_name

    def send(self, msg: ConsumerRecord[bytes, bytes], error: str) -> None:
        log.warning(
            "undecodable record dead-lettered",
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            error=error,
        )
        DEAD_LETTERED.labels(msg.topic).inc()
        self._producer.publish_raw(
            topics.DEADLETTER,
            msg.key,
            msg.value,
            (
                (topics.DLQ_TOPIC, msg.topic.encode()),
                (topics.DLQ_PARTITION, str(msg.partition).encode()),
                (topics.DLQ_OFFSET, str(msg.offset).encode()),
                (topics.DLQ_ERROR, error.encode()),
                (topics.DLQ_CONSUMER, self._consumer_name.encode()),
            ),
        )


def decode_message(
    msg: ConsumerRecord[bytes, bytes], codec: Codec, dead_letters: DeadLetters | None
) -> Decoded | None:
    """The decoded record, or None after dead-lettering (or, without a DLQ, logging) a corrupt one."""
    if msg.value is None:  # a tombstone on a compacted topic
        return None
    try:
        record = codec.decode(msg.value)
    except CodecError as exc:
        if dead_letters is not None:
            dead_letters.send(msg, str(exc))
        else:
            log.warning(
                "undecodable record skipped",
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                error=str(exc),
            )
        return None
    return Decoded(record, msg.topic, msg.partition, msg.offset, msg.timestamp)


async def decoded_stream(
    consumer: AIOKafkaConsumer,
    *,
    dead_letters: DeadLetters | None = None,
    codec: Codec | None = None,
) -> AsyncIterator[Decoded]:
    """Follow a started consumer, yielding decoded records; corrupt ones go to the dead-letter topic."""
    codec = codec or default_codec()
    async for msg in consumer:
        decoded = decode_message(msg, codec, dead_letters)
        if decoded is not None:
            yield decoded


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2) puts `key` on, as producers do."""
    return DefaultPartitioner()(key.encode(), list(range(partitions)), list(range(partitions)))


async def read_partition_until_end(
    topic: str,
    partition: int,
    *,
    start_offset: int = 0,
    codec: Codec | None = None,
    **client: Any,
) -> list[Decoded]:
    """Everything on one partition from `start_offset` to the end as it is now."""
    codec = codec or default_codec()
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **client)
    await consumer.start()
    out: list[Decoded] = []
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        if end <= start_offset:
            return out
        consumer.seek(tp, start_offset)
        while True:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
            for msg in batch.get(tp, []):
                decoded = decode_message(msg, codec, None)
                if decoded is not None:
                    out.append(decoded)
            if await consumer.position(tp) >= end:
                return out
    finally:
        await consumer.stop()


async def partition_counts(select: Callable[[list[str]], list[str]], **client: Any) -> dict[str, int]:
    """Partition counts of the existing topics that `select` picks from the cluster's topic names."""
    admin = AIOKafkaAdminClient(**client)
    await admin.start()
    try:
        names = sorted(await admin.list_topics())
        wanted = [t for t in select(names) if t in names]
        described = await admin.describe_topics(wanted) if wanted else []
        return {d["topic"]: len(d["partitions"]) for d in described}
    finally:
        await admin.close()


async def read_call(call_id: str, *, include_commands: bool = True, **client: Any) -> list[Decoded]:
    """One call's records in order: its facts from `sentiric.calls` and, by default, the commands sent
    to its edge. Reads only the call's partition (the key decides it), up to the current end."""
    counts = await partition_counts(
        lambda names: [
            topics.CALLS,
            *(n for n in names if include_commands and n.startswith(topics.COMMANDS_PREFIX)),
        ],
        **client,
    )
    reads = [read_partition_until_end(t, partition_for(call_id, n), **client) for t, n in counts.items() if n]
    parts = await asyncio.gather(*reads)
    facts: list[Decoded] = []
    commands: list[Decoded] = []
    for part in parts:
        for d in part:
            if d.record.call_id == call_id:
                (facts if d.topic == topics.CALLS else commands).append(d)
    return merge_timeline(facts, commands)


def merge_timeline(facts: list[Decoded], commands: list[Decoded]) -> list[Decoded]:
    """Facts keep their log order (the truth); commands, from other producers, are slotted in by
    occurrence time. A command stamped with the same time as a fact comes after it: the dialog stamps
    the commands it sends with the time of the fact that caused them."""
    commands = sorted(commands, key=lambda d: (d.record.occurred_at, d.offset))
    out: list[Decoded] = []
    i = 0
    for fact in facts:
        while i < len(commands) and commands[i].record.occurred_at < fact.record.occurred_at:
            out.append(commands[i])
            i += 1
        out.append(fact)
    out.extend(commands[i:])
    return out
