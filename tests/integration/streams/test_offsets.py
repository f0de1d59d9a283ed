"""A fresh consumer group starts `max_age_s` back on the real broker: no live call missed, no week
replayed; a group with offsets is left alone."""

from __future__ import annotations

import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.topics import TopicSpec
from streams.offsets import seed_group_offsets


async def test_a_fresh_group_starts_max_age_back_and_an_existing_one_is_left_alone(kafka: str) -> None:
    topic, group = f"offsets-{uuid.uuid4().hex[:8]}", f"group-{uuid.uuid4().hex[:8]}"
    await ensure_topics([TopicSpec(topic, 2)], replication=1, bootstrap_servers=kafka)
    now_ms = int(time.time() * 1000)
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        # partition 0: two calls of last week, then two of the last minute; partition 1: only old ones
        for i, age_s in enumerate((7 * 86400, 7200, 60, 5)):
            await producer.send_and_wait(
                topic, f"p0-{i}".encode(), partition=0, timestamp_ms=now_ms - age_s * 1000
            )
        for i in range(3):
            await producer.send_and_wait(
                topic, f"p1-{i}".encode(), partition=1, timestamp_ms=now_ms - 86400_000
            )
    finally:
        await producer.stop()

    seeded = await seed_group_offsets(group, topic, 900.0, bootstrap_servers=kafka)
    assert seeded == {0: 2, 1: 3}  # the first record of the last 15 minutes; the end where none is

    consumer = AIOKafkaConsumer(topic, group_id=group, bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
        while not any(batch.values()):
            batch = await consumer.getmany(timeout_ms=10_000)
        values = [r.value for records in batch.values() for r in records]
        assert values == [b"p0-2", b"p0-3"]  # the live calls, and nothing older
        await consumer.commit({TopicPartition(topic, 0): 3})
    finally:
        await consumer.stop()

    # the group has offsets now: a restarted worker resumes where it was, not max_age back
    assert await seed_group_offsets(group, topic, 900.0, bootstrap_servers=kafka) == {}
    check = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group)
    await check.start()
    try:
        assert await check.committed(TopicPartition(topic, 0)) == 3
    finally:
        await check.stop()
