"""Follow every partition of one topic without a consumer group — the one follow loop of the platform:
the edge's command consumer and worker-heartbeat reader, the config view every process keeps
(`config_view.py`), the dashboard's live feed (`projections.web.live`) and `sentiric replay tail`.

``TopicFollower(topic, on_record, **client)``: ``start()`` assigns all partitions (waiting for a
just-created topic's metadata), positions the consumer at the end — or, with ``from_beginning``, reads
from the beginning up to the current end before it returns (a table loaded before the edge takes
calls) — and then hands every later record to ``on_record`` (plain or async) in a background task
until ``stop()``. Positions are resolved before ``start()`` returns, so records produced after it are
seen. Nothing is committed: a follower always starts from the topic's end or beginning.

Nothing stops a follower but ``stop()``:

* a record whose ``on_record`` raises is set aside (logged with topic/partition/offset, counted,
  dead-lettered when a `DeadLetters` with a producer is given) and the next one is handled;
* when the read loop itself fails (the broker went away, the consumer broke, a bug), it is logged,
  counted in ``sentiric_log_follower_restarts_total{follower}``, and restarted after a backoff
  (0.5 s doubling to 10 s) with a fresh consumer that resumes exactly after the last record handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Final

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prometheus_client import Counter

from sentiric.eventlog.admin import partition_count
from sentiric.eventlog.cancel import raise_if_cancelled
from sentiric.eventlog.consumer import DeadLetters

log = structlog.get_logger(__name__)

OnRecord = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[None] | None]
RESTARTS = Counter(
    "sentiric_log_follower_restarts_total", "Follower read loops restarted after an error", ["follower"]
)
RESTART_BACKOFF_S: Final = (0.5, 1.0, 2.0, 5.0, 10.0)


async def topic_partitions(topic: str, client: dict[str, Any], wait_s: float = 15.0) -> int:
    """The partition count of ``topic``, waiting for a just-created topic's metadata to appear."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        try:
            count = await partition_count(topic, **client)
        except Exception as exc:  # the admin client raises various errors while the topic settles
            if loop.time() > deadline:
                raise RuntimeError(f"topic {topic} is not available: {exc}") from exc
            count = 0
        if count:
            return count
        if loop.time() > deadline:
            raise RuntimeError(f"topic {topic} has no partitions")
        await asyncio.sleep(0.2)


class TopicFollower:
    def __init__(
        self,
        topic: str,
        on_record: OnRecord,
        *,
        name: str,
        from_beginning: bool = False,
        dead_letters: DeadLetters | None = None,
        **client: Any,
    ) -> None:
        self.topic = topic
        self.name = name
        self.from_beginning = from_beginning
        self.dead_letters = dead_letters or DeadLetters(None, name)
        self.restarts = 0
        self._on_record = on_record
        self._client = client
        self._consumer = self._new_consumer()
        self._task: asyncio.Task[None] | None = None
        self._next: dict[TopicPartition, int] = {}  # next offset to hand over, per partition

    async def start(self) -> None:
        consumer = self._consumer
        tps = [TopicPartition(self.topic, p) for p in range(await topic_partitions(self.topic, self._client))]
        await consumer.start()
        consumer.assign(tps)
        if self.from_beginning:
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
                await self._deliver(await consumer.getmany(*tps, timeout_ms=500))
        else:
            await consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the positions now: records produced after start() are seen
            self._next[tp] = await consumer.position(tp)
        # A cancel that aiokafka swallowed on the way (its close() methods do, see cancel.py) must not
        # turn into a follower that runs on after its owner was told to stop.
        raise_if_cancelled()
        self._task = asyncio.create_task(self._follow(tps), name=self.name)

    async def _follow(self, tps: list[TopicPartition]) -> None:
        failures = 0
        while True:
            try:
                if failures:
                    await self._reopen(tps)
                while True:
                    await self._deliver(await self._consumer.getmany(*tps, timeout_ms=1000))
                    failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)]
                failures += 1
                self.restarts += 1
                RESTARTS.labels(self.name).inc()
                log.error(
                    "follower failed, restarting", follower=self.name, error=repr(exc), retry_in_s=delay
                )
                await asyncio.sleep(delay)

    async def _reopen(self, tps: list[TopicPartition]) -> None:
        """A fresh consumer, positioned just after the last record handed over."""
        with contextlib.suppress(Exception):
            await self._consumer.stop()
        raise_if_cancelled()  # stop() may have swallowed the cancel of stop() (cancel.py)
        self._consumer = self._new_consumer()
        await self._consumer.start()
        self._consumer.assign(tps)
        for tp in tps:
            self._consumer.seek(tp, self._next[tp])

    def _new_consumer(self) -> AIOKafkaConsumer:
        # The reset policy matches the seek: after assign(), a background reset to the default
        # ("latest") can land after seek_to_beginning() and leave a loading follower at the end.
        reset = "earliest" if self.from_beginning else "latest"
        return AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset=reset, **self._client)

    async def _deliver(self, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        for tp, messages in batch.items():
            for msg in messages:
                try:
                    result = self._on_record(msg)
                    if inspect.isawaitable(result):
                        await result
                except Exception as exc:  # one bad record never stops the follower
                    self.dead_letters.set_aside(msg, exc)
                self._next[tp] = msg.offset + 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
