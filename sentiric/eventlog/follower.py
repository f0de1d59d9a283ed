"""Follow every partition of one topic without a consumer group: the edge's command, config and
call-tail readers.

``TopicFollower(topic, on_record, **client)``: ``start()`` assigns all partitions (waiting for a
just-created topic's metadata), positions the consumer at the end — or, with ``from_beginning``, reads
from the beginning up to the current end before it returns (a table loaded before the edge takes
calls) — and then hands every later record to ``on_record`` (plain or async) in a background task
until ``stop()``. Positions are resolved before ``start()`` returns, so records produced after it are
seen. Nothing is committed: a follower always starts from the topic's end or beginning.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from sentiric.eventlog.admin import partition_count

OnRecord = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[None] | None]


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
        self, topic: str, on_record: OnRecord, *, name: str, from_beginning: bool = False, **client: Any
    ) -> None:
        self.topic = topic
        self.name = name
        self.from_beginning = from_beginning
        self._on_record = on_record
        self._client = client
        self._consumer = AIOKafkaConsumer(enable_auto_commit=False, **client)
        self._task: asyncio.Task[None] | None = None

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
                await consumer.position(tp)
        self._task = asyncio.create_task(self._follow(tps), name=self.name)

    async def _follow(self, tps: list[TopicPartition]) -> None:
        while True:
            await self._deliver(await self._consumer.getmany(*tps, timeout_ms=1000))

    async def _deliver(self, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        for messages in batch.values():
            for msg in messages:
                result = self._on_record(msg)
                if inspect.isawaitable(result):
                    await result

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
