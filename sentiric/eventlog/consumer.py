"""Consumer helpers: decode records, set aside the ones a consumer cannot use, read one call.

One bad record never stops a consumer. A record that does not decode, or decodes and then fails to
apply (the consumer's handler raised), is *set aside*: logged with its topic/partition/offset and the
error, counted in ``sentiric_log_dead_lettered_total{topic,consumer,reason}``, copied byte for byte to
``sentiric.deadletter`` with its origin, the error and the consumer's name in headers (when the
consumer has a producer; a read-only view only logs and counts), and skipped. Every consumer uses
`DeadLetters` for this, so there is one metric and one header layout whatever the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Protocol

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import Counter

from schemas.codec import Codec, CodecError, default_codec
from sentiric.eventlog import topics

log = structlog.get_logger(__name__)

DEAD_LETTERED = Counter(
    "sentiric_log_dead_lettered_total",
    "Records a consumer set aside (undecodable, or unappliable: handling raised); dead-lettered or skipped",
    ["topic", "consumer", "reason"],
)
UNDECODABLE: Final = "undecodable"
UNAPPLIABLE: Final = "unappliable"
MAX_ERROR_CHARS: Final = 1000


class RawPublisher(Protocol):
    """What dead-lettering needs from a producer (`EventProducer` satisfies it)."""

    def publish_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: tuple[tuple[str, bytes], ...] = ()
    ) -> None: ...


class LogRecord(Protocol):
    """Where a record sits and what it holds: aiokafka's ConsumerRecord and Faust's Message both fit."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def describe(exc: BaseException) -> str:
    """An exception as one bounded line for logs and dead-letter headers."""
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded record and where it sits on the log."""

    record: Any
    topic: str
    partition: int
    offset: int
    timestamp_ms: int


class DeadLetters:
    """Sets records aside for one consumer: log, count, and copy to the dead-letter topic.

    Without a producer (a read-only view) the record is logged and counted only. A dead-letter copy
    that the producer cannot take (its buffer is full) is logged as an error and the consumer goes on
    — unless ``strict``: then the error propagates, for a consumer that must not move its offsets past
    a record whose copy is not on the log (the CDR projector retries the batch instead).
    """

    def __init__(
        self,
        producer: RawPublisher | None,
        consumer_name: str,
        *,
        topic: str = topics.DEADLETTER,
        strict: bool = False,
    ) -> None:
        self._producer = producer
        self.consumer_name = consumer_name
        self.topic = topic
        self.strict = strict
        self.count = 0

    def send(self, msg: LogRecord, error: str, *, reason: str = UNDECODABLE) -> None:
        error = error[:MAX_ERROR_CHARS]
        self.count += 1
        log.warning(
            "record set aside",
            consumer=self.consumer_name,
            reason=reason,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            error=error,
            dead_lettered=self._producer is not None,
        )
        DEAD_LETTERED.labels(msg.topic, self.consumer_name, reason).inc()
        if self._producer is None:
            return
        try:
            self._producer.publish_raw(self.topic, msg.key, msg.value, self.headers(msg, error))
        except Exception as exc:  # BufferFull, or a producer that is not running
            if self.strict:
                raise
            log.error("dead-letter copy refused", topic=msg.topic, offset=msg.offset, error=describe(exc))

    def headers(self, msg: LogRecord, error: str) -> tuple[tuple[str, bytes], ...]:
        return (
            (topics.DLQ_TOPIC, msg.topic.encode()),
            (topics.DLQ_PARTITION, str(msg.partition).encode()),
            (topics.DLQ_OFFSET, str(msg.offset).encode()),
            (topics.DLQ_ERROR, error.encode("utf-8", "replace")),
            (topics.DLQ_CONSUMER, self.consumer_name.encode()),
        )

    def set_aside(self, msg: LogRecord, exc: BaseException) -> None:
        """A decoded record whose handling raised ``exc``."""
        self.send(msg, describe(exc), reason=UNAPPLIABLE)

    @contextlib.contextmanager
    def guard(self, msg: LogRecord) -> Iterator[None]:
        """``with dead_letters.guard(msg): handle(msg)`` — an exception (not a cancellation) while
        handling sets ``msg`` aside and is swallowed, so the loop around goes on to the next record."""
        try:
            yield
        except Exception as exc:
            self.set_aside(msg, exc)


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
            DEAD_LETTERED.labels(msg.topic, "reader", UNDECODABLE).inc()
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
    return DefaultPartitioner()(key.encode(), list(range(partitions)), list(range(partitions)))  # type: ignore[no-any-return]  # aiokafka is untyped


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
