"""Call detail records of a scripted day, as the worker's CDR agent would publish them on `sentiric.cdr`
(the same pure fold, `projections.cdr.fold_call`), for the examples that read CDRs."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from projections.cdr import CallRow, LogPosition, fold_call
from projections.synthetic import SyntheticCall
from schemas import models as m
from sentiric.eventlog.producer import EventProducer
from sentiric.eventlog.topics import CALLS, CDR
from streams.agents.cdr import to_record


def final_record(call: SyntheticCall, offset: int = 0) -> m.CallDetailRecord:
    """The call's record once all its facts are folded (log position made up: one offset per fact)."""
    row = CallRow(call_id=call.call_id)
    for i, fact in enumerate(call.facts):
        row = fold_call(row, fact, LogPosition(CALLS, 0, offset + i))
    return to_record(row)


def retimed(record: m.CallDetailRecord, finished_at: datetime, **changes: Any) -> m.CallDetailRecord:
    return dataclasses.replace(record, finished_at=finished_at, **changes)


async def publish_cdrs(kafka: str, records: Iterable[m.CallDetailRecord]) -> None:
    async with EventProducer(bootstrap_servers=kafka) as producer:
        for record in records:
            producer.publish(record, topic=CDR, key=record.call_id)


async def caught_up(kafka: str, group: str, topic: str, partitions: int) -> bool:
    """The group has committed every partition of `topic` up to its end (it handled all of it)."""
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
    except KafkaError:  # a fresh broker: no group coordinator until the offsets topic exists
        return False
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return all(committed.get(tp) is not None and committed[tp].offset >= ends[tp] for tp in tps)


async def wait_caught_up(kafka: str, group: str, topic: str, partitions: int, within_s: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not await caught_up(kafka, group, topic, partitions):
        assert loop.time() < deadline, f"group {group} did not catch up on {topic}"
        await asyncio.sleep(0.5)
