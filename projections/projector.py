"""The CDR projector: the call and metrics topics → PostgreSQL, with exactly-once effect.

No consumer group and no Kafka offset commits. The projector assigns itself every partition, starts
each at the `next_offset` stored in `consumer_offsets` (offset 0 when there is none), and writes each
batch's rows, its processed event ids and the new offsets in ONE transaction. A crash anywhere —
before, inside or after that transaction — loses the uncommitted batch entirely, and the restart
reads it again from the stored offsets: no duplicate row, no gap. Facts delivered twice on the log
(an upstream republish) are dropped by `processed_events`.

Offsets move by compare-and-set (`store.advance_offset`), so a second projector against the same
database fails its first batch (`FencedError`) instead of double-applying.

A corrupt message is copied to the dead-letter topic (and that copy acknowledged) before the
transaction that moves the offset past it commits; after a crash it may be dead-lettered twice, never
zero times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Counter, Gauge, Histogram

from projections import store
from projections.cdr import LogPosition
from schemas.codec import Codec, default_codec
from sentiric.eventlog.consumer import DeadLetters, decode_message
from sentiric.eventlog.producer import EventProducer

log = structlog.get_logger(__name__)

APPLIED = Counter("sentiric_projection_events_total", "Records applied to the projection tables")
DUPLICATES = Counter("sentiric_projection_duplicates_total", "Records dropped as already applied")
BATCH_SECONDS = Histogram("sentiric_projection_batch_seconds", "Time to apply and commit one batch")
LAG = Gauge("sentiric_projection_lag_records", "Records on the log not yet projected")
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)


async def partition_counts(topics: Sequence[str], **client: Any) -> dict[str, int]:
    """Partition count of each topic that exists (missing topics are left out)."""
    admin = AIOKafkaAdminClient(**client)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return {d["topic"]: len(d["partitions"]) for d in described if d["error_code"] == 0 and d["partitions"]}


class Projector:
    """Projects `topics` into the database behind `pool`. `run()` until cancelled (or caught up)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        topics: Sequence[str],
        client: dict[str, Any],
        dead_letters: EventProducer | None = None,
        batch_max: int = 2000,
        poll_ms: int = 100,
        codec: Codec | None = None,
        name: str = "projector",
    ) -> None:
        self._pool = pool
        self._topics = tuple(topics)
        self._client = client
        self._dlq_producer = dead_letters
        self._dead_letters = DeadLetters(dead_letters, name) if dead_letters is not None else None
        self._batch_max = batch_max
        self._poll_ms = poll_ms
        self._codec = codec or default_codec()
        self._next: dict[TopicPartition, int | None] = {}
        self.applied = 0
        self.batches = 0
        self.last_progress = time.monotonic()
        self.caught_up = asyncio.Event()

    async def run(self, *, stop_at_end: bool = False) -> int:
        """Project until cancelled; with `stop_at_end`, return once the log's end as of the start is
        reached. Returns the number of records applied."""
        consumer = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest", **self._client)
        await consumer.start()
        try:
            partitions = await self._partitions(consumer)
            await self._assign(consumer, partitions)
            end = await consumer.end_offsets(partitions) if stop_at_end else None
            attempt = 0
            while True:
                if await self._reached(consumer, partitions, end):
                    self.caught_up.set()
                    if stop_at_end:
                        return self.applied
                batch = await consumer.getmany(timeout_ms=self._poll_ms, max_records=self._batch_max)
                if not batch:
                    continue
                try:
                    await self._apply(batch)
                    attempt = 0
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]
                    attempt += 1
                    log.warning("projection batch failed, retrying", error=str(exc), retry_in_s=delay)
                    await self._rewind(consumer)
                    await asyncio.sleep(delay)
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        while True:
            found = await partition_counts(self._topics, **self._client)
            missing = [t for t in self._topics if not found.get(t)]
            if not missing:
                return sorted(TopicPartition(t, p) for t, n in found.items() for p in range(n))
            log.info("waiting for topics", missing=missing)
            await asyncio.sleep(1.0)

    async def _assign(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        async with self._pool.acquire() as conn:
            stored = await store.stored_offsets(conn, self._topics)
        consumer.assign(partitions)
        self._next = {tp: stored.get((tp.topic, tp.partition)) for tp in partitions}
        await self._rewind(consumer)
        log.info("projector assigned", partitions=len(partitions), resumed=len(stored))

    async def _rewind(self, consumer: AIOKafkaConsumer) -> None:
        """Point the consumer back at the last committed offsets (after a failed batch)."""
        for tp, offset in self._next.items():
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)

    async def _reached(
        self,
        consumer: AIOKafkaConsumer,
        partitions: list[TopicPartition],
        end: dict[TopicPartition, int] | None,
    ) -> bool:
        lag = 0
        for tp in partitions:
            position = await consumer.position(tp)
            high = end[tp] if end is not None else consumer.highwater(tp)
            if high is None:
                return False
            lag += max(0, high - position)
        LAG.set(lag)
        return lag == 0

    async def _apply(self, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        started = time.perf_counter()
        decoded: list[tuple[Any, LogPosition]] = []
        dead = 0
        for tp in sorted(batch):
            for msg in batch[tp]:
                d = decode_message(msg, self._codec, self._dead_letters)
                if d is None:
                    dead += msg.value is not None
                    continue
                decoded.append((d.record, LogPosition(d.topic, d.partition, d.offset)))
        if dead and self._dlq_producer is not None:
            await self._dlq_producer.flush()  # the copies are on the log before the offsets move
        call_ids = [r.call_id for r, _ in decoded if hasattr(r, "call_id")]
        event_ids = [r.event_id for r, _ in decoded]
        async with self._pool.acquire() as conn, conn.transaction():
            projection = await store.load(conn, call_ids, event_ids)
            for record, pos in decoded:
                projection.apply(record, pos)
            await store.save(conn, projection)
            moved = {tp: msgs[-1].offset + 1 for tp, msgs in batch.items() if msgs}
            for tp, next_offset in sorted(moved.items()):
                await store.advance_offset(conn, tp.topic, tp.partition, self._next.get(tp), next_offset)
        self._next.update(moved)
        applied = len(projection.new_events)
        self.applied += applied
        self.batches += 1
        self.last_progress = time.monotonic()
        APPLIED.inc(applied)
        DUPLICATES.inc(projection.duplicates)
        BATCH_SECONDS.observe(time.perf_counter() - started)


async def run_projector(projector: Projector) -> None:
    """Run until cancelled, restarting after unexpected errors (logged) — never a silent stop."""
    while True:
        try:
            await projector.run()
        except store.FencedError:
            # Another projector (a `replay rebuild`) moved the stored offsets: this one's batch rolled
            # back whole, so resuming from what is stored now neither duplicates nor skips anything.
            log.warning("offsets moved by another projector (a rebuild?); resuming from the stored offsets")
            await asyncio.sleep(2.0)
        except Exception:
            log.exception("projector crashed, restarting in 2 s")
            await asyncio.sleep(2.0)
