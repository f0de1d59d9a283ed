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

One record never stops the projection. A batch that fails with a *data* error — PostgreSQL refusing a
value (asyncpg `DataError`: `CharacterNotInRepertoireError`, `UntranslatableCharacterError`, a value out
of range...), an integrity or size limit, or the pure CDR fold raising anything at all (`FoldError`) —
is applied again in one transaction by bisection: halves, then quarters, each under a savepoint, until
every record that fails alone is found. Those are set aside (logged with topic/partition/offset,
counted, dead-lettered with the error; the copies acknowledged before the commit), everything else is
applied in log order, and the offsets move past the whole batch in the same transaction: still
exactly once, and the rows are those of the log without the poison records. Only *transient* errors
(the connection, the server going away: `OSError`, `InterfaceError`, any other `PostgresError`) rewind
and retry with backoff, as before. Text reaching PostgreSQL never holds NUL (`store.without_nul`), so
facts written before the edge escaped wire text still project.
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
from projections.cdr import LogPosition, Projection
from projections.connection import Connection
from schemas.codec import Codec, default_codec
from sentiric.eventlog.consumer import DeadLetters, decode_message, describe
from sentiric.eventlog.producer import EventProducer

log = structlog.get_logger(__name__)

APPLIED = Counter("sentiric_projection_events_total", "Records applied to the projection tables")
DUPLICATES = Counter("sentiric_projection_duplicates_total", "Records dropped as already applied")
BATCH_SECONDS = Histogram("sentiric_projection_batch_seconds", "Time to apply and commit one batch")
LAG = Gauge("sentiric_projection_lag_records", "Records on the log not yet projected")
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)
DATA_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.DataError,  # class 22: a value PostgreSQL (or asyncpg's encoder) refuses
    asyncpg.IntegrityConstraintViolationError,  # class 23
    asyncpg.ProgramLimitExceededError,  # class 54: e.g. a value too large for an index
    ValueError,  # the fold, or a codec (UnicodeError is one)
    TypeError,
    KeyError,
    AttributeError,
    ArithmeticError,
)
"""Errors a record causes, every time it is applied: set it aside rather than retry forever."""


class FoldError(ValueError):
    """The pure CDR fold raised on a record: whatever the exception, the record is the cause."""


Item = tuple[Any, LogPosition, ConsumerRecord[bytes, bytes]]


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
        self._dead_letters = DeadLetters(dead_letters, name, strict=True)  # a copy on the log, or a retry
        self._batch_max = batch_max
        self._poll_ms = poll_ms
        self._codec = codec or default_codec()
        self._next: dict[TopicPartition, int | None] = {}
        self.applied = 0
        self.batches = 0
        self.set_aside = 0
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
        items: list[Item] = []
        dead = 0
        for tp in sorted(batch):
            for msg in batch[tp]:
                d = decode_message(msg, self._codec, self._dead_letters)
                if d is None:
                    dead += msg.value is not None
                    continue
                items.append((store.without_nul(d.record), LogPosition(d.topic, d.partition, d.offset), msg))
        if dead and self._dlq_producer is not None:
            await self._dlq_producer.flush()  # the copies are on the log before the offsets move
        moved = {tp: msgs[-1].offset + 1 for tp, msgs in batch.items() if msgs}
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                projections = [await self._write(conn, items)]
                await self._advance(conn, moved)
        except DATA_ERRORS as exc:
            log.warning(
                "projection batch refused a record; isolating it", error=describe(exc), records=len(items)
            )
            async with self._pool.acquire() as conn, conn.transaction():
                projections, poison = await self._bisect(conn, items)
                for (_, _, msg), error in poison:
                    self._dead_letters.set_aside(msg, error)
                if poison and self._dlq_producer is not None:
                    await self._dlq_producer.flush()  # acknowledged before the offsets move past them
                await self._advance(conn, moved)
            self.set_aside += len(poison)
        self._next.update(moved)
        applied = sum(len(p.new_events) for p in projections)
        self.applied += applied
        self.batches += 1
        self.last_progress = time.monotonic()
        APPLIED.inc(applied)
        DUPLICATES.inc(sum(p.duplicates for p in projections))
        BATCH_SECONDS.observe(time.perf_counter() - started)

    async def _write(self, conn: Connection, items: list[Item]) -> Projection:
        """Fold `items` over their stored rows and write the result (inside the caller's transaction)."""
        call_ids = [r.call_id for r, _, _ in items if hasattr(r, "call_id")]
        projection = await store.load(conn, call_ids, [r.event_id for r, _, _ in items])
        for record, pos, _ in items:
            try:
                projection.apply(record, pos)
            except Exception as exc:  # the fold is pure: no I/O error can come from it
                raise FoldError(f"{type(exc).__name__}: {exc}") from exc
        await store.save(conn, projection)
        return projection

    async def _bisect(
        self, conn: Connection, items: list[Item]
    ) -> tuple[list[Projection], list[tuple[Item, BaseException]]]:
        """Write `items` in log order, each half under its own savepoint, down to the single records
        that fail alone. Returns what was written and the poison records with their errors."""
        try:
            async with conn.transaction():  # a savepoint: a failure rolls back this part only
                return [await self._write(conn, items)], []
        except DATA_ERRORS as exc:
            if len(items) <= 1:
                return [], [(item, exc) for item in items]
            mid = len(items) // 2
            first, bad_first = await self._bisect(conn, items[:mid])
            second, bad_second = await self._bisect(conn, items[mid:])
            return first + second, bad_first + bad_second

    async def _advance(self, conn: Connection, moved: dict[TopicPartition, int]) -> None:
        for tp, next_offset in sorted(moved.items()):
            await store.advance_offset(conn, tp.topic, tp.partition, self._next.get(tp), next_offset)


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
