"""Reading `sentiric.deadletter` back in integration tests: what a consumer set aside, with its origin."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from sentiric.eventlog import topics
from sentiric.eventlog.admin import partition_count


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    @property
    def origin(self) -> tuple[str, int, int]:
        h = self.headers
        return h[topics.DLQ_TOPIC].decode(), int(h[topics.DLQ_PARTITION]), int(h[topics.DLQ_OFFSET])

    @property
    def consumer(self) -> str:
        return self.headers[topics.DLQ_CONSUMER].decode()

    @property
    def error(self) -> str:
        return self.headers[topics.DLQ_ERROR].decode()


async def dead_letters(kafka: str, *, origin_topic: str) -> list[DeadLetter]:
    """Everything on the dead-letter topic (now) that came from ``origin_topic``."""
    # earliest: a background "latest" reset after assign() can race seek_to_beginning() (seen here)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    out: list[DeadLetter] = []
    try:
        count = await partition_count(topics.DEADLETTER, bootstrap_servers=kafka)
        tps = [TopicPartition(topics.DEADLETTER, p) for p in range(count)]
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(*tps, timeout_ms=1000)
            for msg in (m for msgs in batch.values() for m in msgs):
                headers = dict(msg.headers or ())
                if headers.get(topics.DLQ_TOPIC) == origin_topic.encode():
                    out.append(DeadLetter(msg.key, msg.value, headers))
    finally:
        await consumer.stop()
    return out


async def wait_dead_letters(
    kafka: str, *, origin_topic: str, count: int, within_s: float = 60.0
) -> list[DeadLetter]:
    """Until at least ``count`` records from ``origin_topic`` are on the dead-letter topic."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        found = await dead_letters(kafka, origin_topic=origin_topic)
        if len(found) >= count or loop.time() > deadline:
            return found
        await asyncio.sleep(0.5)
