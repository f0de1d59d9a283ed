"""The idempotent fact producer: `publish()` never blocks the caller's event loop.

Facts are encoded at once (so a bad record fails in the caller, not later) and appended to a bounded
in-memory buffer; one sender task drains it into an idempotent aiokafka producer (`acks=all`,
`enable_idempotence=True`), keyed by call_id so one call's facts stay in order on one partition. If the
broker is slow or away, facts wait in the buffer and are retried: a record leaves the buffer only
when its own batch is acknowledged, so when one partition's leader dies only that partition's records
are sent again, never the ones the log already holds. The buffer is bounded by records and by bytes
(`buffer_max_bytes`, the edge's `edge_fact_buffer_bytes`): during a broker outage an edge keeps every
fact of its established calls up to that bound, and they reach the log, each once, when it returns.
Past the bound a record is dropped, never silently: counted (`sentiric_log_buffer_overflow_total`,
`sentiric_log_buffer_dropped_bytes_total{topic}`) and logged as an error naming its topic, key (the
call) and type. The edge watches `fill_ratio` (the fuller of the two bounds) and answers new INVITEs
503 long before that, so established calls keep going.

Waiting for the log is bounded where a caller needs an answer: `flush(within_s)` raises `FlushTimeout`
when the log has not acknowledged in time (the records stay buffered and are still retried: they may
yet be written), and `SenderStopped` at once when the sender task is not running (never started,
closed, or died on an unexpected error: nothing buffered will be written by this producer). Without
that check a dead sender left every `flush()` waiting for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import Counter, Gauge

from schemas.codec import Codec, default_codec, type_name
from sentiric.eventlog import topics

log = structlog.get_logger(__name__)

PUBLISHED = Counter("sentiric_log_published_total", "Records acknowledged by the log", ["topic"])
OVERFLOWED = Counter("sentiric_log_buffer_overflow_total", "Records refused because the buffer was full")
SEND_ERRORS = Counter("sentiric_log_send_errors_total", "Failed send attempts (retried)")
BUFFERED = Gauge("sentiric_log_buffered", "Records waiting to be acknowledged by the log")
BUFFERED_BYTES = Gauge("sentiric_log_buffered_bytes", "Bytes of the records waiting for the log")
DROPPED_BYTES = Counter(
    "sentiric_log_buffer_dropped_bytes_total",
    "Bytes of records dropped because the buffer was full",
    ["topic"],
)

RETRY_BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0)


class BufferFull(RuntimeError):
    """The producer's bounded buffer is full; the record was not accepted."""


class LogUnavailable(RuntimeError):
    """A wait for the log's acknowledgement ended without it. `buffered`: records still waiting."""

    def __init__(self, message: str, *, buffered: int) -> None:
        super().__init__(message)
        self.buffered = buffered


class FlushTimeout(LogUnavailable):
    """The log did not acknowledge in time. The records stay buffered and are still retried: they may
    still be written after the caller gave up."""


class SenderStopped(LogUnavailable):
    """The producer's sender task is not running (not started, closed, or died): what is buffered will
    not be written by this producer."""


@dataclass(frozen=True, slots=True)
class _Pending:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def size(self) -> int:
        """What this record holds in memory, near enough: key, value and headers."""
        extra = sum(len(k) + len(v) for k, v in self.headers)
        return len(self.key or b"") + len(self.value or b"") + extra + 64


def record_key(record: Any) -> str:
    """The Kafka key of a record: call_id for call records, `<kind>:<entity_id>` for config, the worker
    id for a worker heartbeat, the window start for a KPI window (the platform's; ``<start>/<tenant>`` for
    a tenant's)."""
    call_id = getattr(record, "call_id", None)
    if call_id is not None:
        return call_id  # type: ignore[no-any-return]  # records are typed Any here; call_id is a str field
    entity_id = getattr(record, "entity_id", None)
    if entity_id is not None:
        return topics.config_key(type_name(record).lower(), entity_id)
    worker_id = getattr(record, "worker_id", None)
    if worker_id is not None:
        return str(worker_id)
    start = str(record.window_start.isoformat())
    tenant = getattr(record, "tenant", "*")
    return start if tenant == "*" else f"{start}/{tenant}"  # a tenant's window beside the platform's


class EventProducer:
    """A buffered, idempotent producer. Use as `async with EventProducer(...) as p: p.publish(fact)`."""

    def __init__(
        self,
        *,
        buffer_max: int = 10_000,
        buffer_max_bytes: int | None = None,
        codec: Codec | None = None,
        linger_ms: int = 2,
        **client: Any,
    ) -> None:
        self._client = client
        self._codec = codec or default_codec()
        self._buffer: deque[_Pending] = deque()
        self._buffer_max = buffer_max
        self._buffer_max_bytes = buffer_max_bytes
        self._bytes = 0
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._producer = AIOKafkaProducer(
            enable_idempotence=True,
            acks="all",
            linger_ms=linger_ms,
            max_request_size=topics.MAX_MESSAGE_BYTES,
            **client,
        )
        self._task: asyncio.Task[None] | None = None
        self._partitions: dict[str, list[int]] = {}
        self._partitioner = DefaultPartitioner()
        self._round_robin = 0
        self._closing = False
        self.overflowed = 0
        self.dropped_bytes = 0
        self.published = 0

    async def start(self) -> None:
        try:
            await self._producer.start()
        except BaseException:
            # A start that failed or was cut short (a caller's deadline) has bootstrapped aiokafka's
            # client already: close it, or its metadata task runs on for ever.
            with contextlib.suppress(Exception):
                await self._producer.stop()
            raise
        self._task = asyncio.create_task(self._drain(), name="sentiric-producer")
        self._task.add_done_callback(self._sender_ended)

    def _sender_ended(self, task: asyncio.Task[None]) -> None:
        if not self._closing and not task.cancelled() and task.exception() is not None:
            # Loud, once: from now on every flush() raises SenderStopped and publish() only buffers.
            log.error("log sender task died", error=repr(task.exception()), buffered=len(self._buffer))

    async def stop(self, flush_timeout: float = 10.0, close_timeout: float = 10.0) -> None:
        """Flush what is buffered (up to `flush_timeout` seconds), then close (up to `close_timeout`)."""
        with contextlib.suppress(LogUnavailable):
            await self.flush(flush_timeout)
        self._closing = True
        self._wakeup.set()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task  # a task that died already re-raises its error here: logged above
        if self._buffer:
            log.error("producer closed with unpublished records", count=len(self._buffer))
        await self._close_client(close_timeout)

    async def _close_client(self, within_s: float) -> None:
        """aiokafka's stop() waits until every batch it holds is acknowledged, and an idempotent producer
        retries them for ever: with the log away that is a shutdown that never ends. After `within_s`,
        fail those batches so that stop() can finish."""
        stopping = asyncio.ensure_future(self._producer.stop())
        done, _ = await asyncio.wait({stopping}, timeout=within_s)
        if not done:
            log.error("log producer did not close in time; dropping its unacknowledged batches")
            accumulator = getattr(self._producer, "_message_accumulator", None)  # aiokafka internals
            if accumulator is not None:
                accumulator.fail_all(KafkaConnectionError("producer closed before the log acknowledged"))
        await stopping

    async def __aenter__(self) -> EventProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def buffered_bytes(self) -> int:
        return self._bytes

    @property
    def fill_ratio(self) -> float:
        ratio = len(self._buffer) / self._buffer_max
        if self._buffer_max_bytes:
            ratio = max(ratio, self._bytes / self._buffer_max_bytes)
        return ratio

    def publish(
        self,
        record: Any,
        *,
        topic: str = topics.CALLS,
        key: str | None = None,
        headers: tuple[tuple[str, bytes], ...] = (),
    ) -> None:
        """Queue a record for the log. Never blocks; raises `BufferFull` (counted) when full.
        `headers`: Kafka record headers (a turn's ``traceparent``, `sentiric.tracing`)."""
        value = self._codec.encode(record)
        key_bytes = (key or record_key(record)).encode()
        self.publish_raw(topic, key_bytes, value, headers, kind=type_name(record))

    def publish_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: tuple[tuple[str, bytes], ...] = (),
        *,
        kind: str | None = None,
    ) -> None:
        pending = _Pending(topic, key, value, headers)
        over_bytes = (
            self._buffer_max_bytes is not None and self._bytes + pending.size > self._buffer_max_bytes
        )
        if len(self._buffer) >= self._buffer_max or over_bytes:
            self.overflowed += 1
            self.dropped_bytes += pending.size
            OVERFLOWED.inc()
            DROPPED_BYTES.labels(topic).inc(pending.size)
            log.error(
                "log buffer full, record dropped",
                topic=topic,
                key=(key or b"").decode(errors="replace"),
                type=kind,
                bytes=pending.size,
                buffered=len(self._buffer),
                buffered_bytes=self._bytes,
            )
            bound = f"{self._buffer_max_bytes} bytes" if over_bytes else f"{self._buffer_max} records"
            raise BufferFull(f"producer buffer full ({bound})")
        self._buffer.append(pending)
        self._bytes += pending.size
        BUFFERED.set(len(self._buffer))
        BUFFERED_BYTES.set(self._bytes)
        self._idle.clear()
        self._wakeup.set()

    def tombstone(self, topic: str, key: str) -> None:
        """Delete a key from a compacted topic."""
        self.publish_raw(topic, key.encode(), None)

    async def flush(self, within_s: float | None = None) -> None:
        """Wait until everything published so far is acknowledged by the log.

        Raises `SenderStopped` as soon as the sender task is not running (it would wait for ever), and
        `FlushTimeout` after `within_s` seconds (None: no limit, for background loops that must not move
        on before the log has their records)."""
        loop = asyncio.get_running_loop()
        deadline = None if within_s is None else loop.time() + within_s
        while not self._idle.is_set():
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                break
            sender = self._running_sender()
            idle = asyncio.ensure_future(self._idle.wait())
            try:
                await asyncio.wait({idle, sender}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                idle.cancel()
            # Woken with the log idle, another task may have published before this one resumed (the
            # idle flag is cleared again): what this flush waited for is acknowledged, the newer
            # records are waited for too, until the deadline — never a timeout reported early.
        if self._idle.is_set():
            return
        self._running_sender()  # raises if it died while we waited
        raise FlushTimeout(
            f"the log did not acknowledge within {within_s:g} s; {len(self._buffer)} records still "
            "buffered and retried",
            buffered=len(self._buffer),
        )

    def _running_sender(self) -> asyncio.Task[None]:
        task = self._task
        if task is None:
            why = "the producer was not started"
        elif not task.done():
            return task
        elif task.cancelled():
            why = "the producer's sender task was cancelled (the producer is closed)"
        else:
            why = f"the producer's sender task died: {task.exception()!r}"
        raise SenderStopped(
            f"{why}; {len(self._buffer)} records will not be written", buffered=len(self._buffer)
        )

    async def publish_and_wait(
        self,
        record: Any,
        *,
        topic: str = topics.CALLS,
        key: str | None = None,
        within_s: float | None = None,
    ) -> None:
        """Publish, then `flush(within_s)`: raises what `publish` and `flush` raise."""
        self.publish(record, topic=topic, key=key)
        await self.flush(within_s)

    async def _partition(self, p: _Pending) -> int:
        partitions = self._partitions.get(p.topic)
        if partitions is None:
            partitions = sorted(await self._producer.partitions_for(p.topic))
            self._partitions[p.topic] = partitions
        if p.key is None:
            self._round_robin += 1
            return partitions[self._round_robin % len(partitions)]
        return self._partitioner(p.key, partitions, partitions)  # type: ignore[no-any-return]  # aiokafka's partitioner is untyped

    async def _send_batches(
        self, pending: list[_Pending], sent: list[tuple[asyncio.Future[Any], list[int]]]
    ) -> None:
        """Hand `pending` to aiokafka as one record batch per partition (more when a batch fills up);
        appends each batch's delivery future and the indices of its records to `sent`, as it goes, so
        a failure half way still tells which records are in flight."""
        groups: dict[tuple[str, int], list[int]] = {}
        for i, p in enumerate(pending):
            groups.setdefault((p.topic, await self._partition(p)), []).append(i)
        for (topic, partition), indices in groups.items():
            batch = self._producer.create_batch()
            members: list[int] = []
            for i in indices:
                p = pending[i]
                headers = list(p.headers)
                if batch.append(key=p.key, value=p.value, timestamp=None, headers=headers) is None:
                    batch.close()
                    sent.append((await self._producer.send_batch(batch, topic, partition=partition), members))
                    batch, members = self._producer.create_batch(), []
                    batch.append(key=p.key, value=p.value, timestamp=None, headers=headers)
                members.append(i)
            batch.close()
            sent.append((await self._producer.send_batch(batch, topic, partition=partition), members))

    async def _drain(self) -> None:
        attempt = 0
        while not self._closing:
            if not self._buffer:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            # Hand aiokafka whole record batches per partition (its per-message send() costs ~10x more),
            # then await the acknowledgements. Records keep their buffer order within each partition.
            batch = [self._buffer[i] for i in range(min(len(self._buffer), 2000))]
            sent: list[tuple[asyncio.Future[Any], list[int]]] = []
            error: BaseException | None = None
            try:
                await self._send_batches(batch, sent)
            except KafkaError as exc:  # e.g. no metadata yet: what was handed over is still in flight
                error = exc
            results = await asyncio.gather(*(f for f, _ in sent), return_exceptions=True)
            acked: set[int] = set()
            for result, (_, members) in zip(results, sent, strict=True):
                if not isinstance(result, BaseException):
                    acked.update(members)
                elif isinstance(result, KafkaError):
                    error = error or result
                else:
                    raise result
            self._settle(batch, acked)
            if error is not None:
                SEND_ERRORS.inc()
                delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)]
                attempt += 1
                # Only what the log did not acknowledge is sent again: a partition whose leader died
                # must not duplicate the facts of the partitions whose batches went through.
                log.warning("log send failed, retrying", error=str(error), retry_in_s=delay)
                await asyncio.sleep(delay)
                continue
            attempt = 0

    def _settle(self, batch: list[_Pending], acked: set[int]) -> None:
        """Drop the acknowledged records of `batch` (the buffer's head); the others stay at the head, in
        order, for the next attempt."""
        for _ in batch:
            self._buffer.popleft()
        self._buffer.extendleft(reversed([p for i, p in enumerate(batch) if i not in acked]))
        for i in acked:
            PUBLISHED.labels(batch[i].topic).inc()
            self._bytes -= batch[i].size
        self.published += len(acked)
        BUFFERED.set(len(self._buffer))
        BUFFERED_BYTES.set(self._bytes)
