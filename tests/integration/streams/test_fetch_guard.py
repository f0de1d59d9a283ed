"""No fetch drains partitions Faust did not ask for, and the seek back reaches a committed 0 (real broker).

The successor of a killed worker sometimes handled nothing (issue 11): a fetch queued while Faust's
active-partition set was non-empty ran after the end of the table recovery had emptied it, aiokafka
read the empty set as "every partition" and drained the call topic, and Faust dropped those records;
the seek to the committed offset that would have fetched them again skips offset 0, which is what
`streams.offsets` seeds for a fresh group. The controls run Faust's own thread on the same state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.topics import TopicSpec
from streams.fetch_guard import GuardedConsumerThread
from streams.offsets import seed_group_offsets

RECORDS = 5


@dataclass
class Fetched:
    consumer: AIOKafkaConsumer
    tp: TopicPartition  # holds RECORDS records, fetched by aiokafka and not yet handed out


def thread_over(cls: type[AIOKafkaConsumerThread], consumer: AIOKafkaConsumer) -> AIOKafkaConsumerThread:
    """The consumer thread's fetch and seek methods, over a real aiokafka consumer, without Faust's app
    around it (those methods use only the consumer and Faust's flow flag)."""
    thread = cls.__new__(cls)
    thread.consumer = SimpleNamespace(flow_active=True)  # type: ignore[assignment]  # the one attribute read
    thread._consumer = consumer
    return thread


@pytest.fixture
async def fetched(kafka: str) -> AsyncIterator[Fetched]:
    topic, group = f"guard-{uuid.uuid4().hex[:8]}", f"guard-{uuid.uuid4().hex[:8]}"
    await ensure_topics([TopicSpec(topic, 2)], replication=1, bootstrap_servers=kafka)
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        for i in range(RECORDS):
            await producer.send_and_wait(topic, f"fact-{i}".encode(), partition=1)
    finally:
        await producer.stop()
    # a fresh group on a fresh topic: seeded at offset 0, as the first worker of a fresh install is
    assert await seed_group_offsets(group, topic, 900.0, bootstrap_servers=kafka) == {0: 0, 1: 0}
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group, enable_auto_commit=False)
    await consumer.start()
    tp = TopicPartition(topic, 1)
    consumer.assign([TopicPartition(topic, 0), tp])
    try:
        async with asyncio.timeout(60):
            while tp not in consumer._fetcher._records:  # noqa: ASYNC110 - aiokafka's background fetch fills it
                await asyncio.sleep(0.05)
        assert await consumer.position(tp) == 0
        yield Fetched(consumer, tp)
    finally:
        await consumer.stop()


async def test_a_fetch_for_no_partitions_takes_nothing(fetched: Fetched) -> None:
    thread = thread_over(GuardedConsumerThread, fetched.consumer)
    assert await thread._fetch_records(fetched.consumer, set(), timeout=0.5) == {}
    assert await fetched.consumer.position(fetched.tp) == 0
    # the records are still there for the fetch that asks for their partition
    got = await thread._fetch_records(fetched.consumer, {fetched.tp}, timeout=5.0)
    assert [r.value for r in got[fetched.tp]] == [f"fact-{i}".encode() for i in range(RECORDS)]


async def test_without_the_guard_a_fetch_for_no_partitions_drains_them_all(fetched: Fetched) -> None:
    """The control: Faust's own thread hands an empty set to aiokafka, which takes it as 'all'."""
    thread = thread_over(AIOKafkaConsumerThread, fetched.consumer)
    got = await thread._fetch_records(fetched.consumer, set(), timeout=0.5)
    assert len(got[fetched.tp]) == RECORDS
    assert await fetched.consumer.position(fetched.tp) == RECORDS


async def test_the_seek_to_committed_offsets_rewinds_to_a_committed_zero(fetched: Fetched) -> None:
    drain = thread_over(AIOKafkaConsumerThread, fetched.consumer)
    await drain._fetch_records(fetched.consumer, {fetched.tp}, timeout=5.0)  # records lost downstream
    assert await fetched.consumer.position(fetched.tp) == RECORDS

    await fetched.consumer.seek_to_committed()  # what Faust's thread does: skips offset 0
    assert await fetched.consumer.position(fetched.tp) == RECORDS

    guarded = thread_over(GuardedConsumerThread, fetched.consumer)
    committed = await guarded._seek_to_committed()  # type: ignore[attr-defined]  # ours
    assert committed[fetched.tp] == 0
    assert await fetched.consumer.position(fetched.tp) == 0
    got = await guarded._fetch_records(fetched.consumer, {fetched.tp}, timeout=10.0)
    assert len(got.get(fetched.tp, [])) == RECORDS
