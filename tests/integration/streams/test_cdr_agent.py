"""The CDR agent in a real worker process on the real broker, against the PostgreSQL projection.

A synthetic day of calls goes onto `sentiric.calls`; the worker (its dialog and speech agents adding
their own facts) folds every call into `sentiric.cdr`. The worker is SIGKILLed while it is still
folding and restarted: it reads again from its last committed offsets, and its table (restored from
the changelog) drops the facts it had folded already. Once the log is quiet, the latest record of
every call on `sentiric.cdr` must equal the call's `calls` row that the projector (exactly once, from
offset 0) wrote to PostgreSQL, field by field, and count each distinct fact once. A clean restart with
no new facts then changes no call's record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from projections.pool import open_pool
from projections.projector import Projector
from projections.synthetic import day_of_calls, interleaved
from schemas import models as m
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.consumer import read_partition_until_end
from sentiric.eventlog.producer import EventProducer
from sentiric.eventlog.topics import CALLS, CDR, platform_topics
from tests.integration.e2e.stack import PARTITIONS, Worker
from tests.integration.projections.conftest import create_database, drop_database

CALLS_TODAY = day_of_calls(40, seed=11)


@pytest.fixture
async def kafka(fresh_kafka: str) -> AsyncIterator[str]:
    specs = platform_topics(partitions=PARTITIONS, calls_retention_ms=24 * 3600 * 1000)
    await ensure_topics(specs, bootstrap_servers=fresh_kafka)
    yield fresh_kafka


async def latest_records(kafka: str) -> dict[str, m.CallDetailRecord]:
    """The compacted topic as a processor sees it: the last record per call id."""
    latest: dict[str, m.CallDetailRecord] = {}
    for p in range(PARTITIONS):
        for d in await read_partition_until_end(CDR, p, bootstrap_servers=kafka):
            assert isinstance(d.record, m.CallDetailRecord)
            assert d.partition == p
            latest[d.record.call_id] = d.record
    return latest


async def distinct_facts(kafka: str) -> tuple[dict[str, int], int]:
    """Per call, the distinct call facts (by event id) on the call topic; and the topic's length."""
    ids: dict[str, set[Any]] = {}
    total = 0
    for p in range(PARTITIONS):
        for d in await read_partition_until_end(CALLS, p, bootstrap_servers=kafka):
            total += 1
            if isinstance(d.record, m.Fact):
                ids.setdefault(d.record.call_id, set()).add(d.record.event_id)
    return {k: len(v) for k, v in ids.items()}, total


async def settled(kafka: str, worker: Worker, within_s: float = 180.0) -> dict[str, m.CallDetailRecord]:
    """Once the call topic stops growing and every call's record counts all its distinct facts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    last_total = -1
    while True:
        counts, total = await distinct_facts(kafka)
        records = await latest_records(kafka)
        done = {c: r.event_count for c, r in records.items()} == counts
        if done and total == last_total:
            return records
        assert worker.alive(), worker.tail()
        assert loop.time() < deadline, f"not settled: {len(records)} records, {len(counts)} calls"
        last_total = total
        await asyncio.sleep(1.0)


async def project(kafka: str, admin_dsn: str) -> tuple[str, dict[str, dict[str, Any]]]:
    dsn = await create_database(admin_dsn)
    pool = await open_pool(dsn, max_size=2)
    try:
        await Projector(pool, topics=[CALLS], client={"bootstrap_servers": kafka}).run(stop_at_end=True)
        async with pool.acquire() as conn:
            rows = {r["call_id"]: dict(r) for r in await conn.fetch("SELECT * FROM calls")}
    finally:
        await pool.close()
    return dsn, rows


async def test_the_latest_cdr_of_every_call_equals_its_row_across_a_killed_worker(
    kafka: str, postgres_dsn: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    worker = Worker(kafka, tmp_path / "worker", machine_cache_dir, SENTIRIC_STT_ENGINE="pocketsphinx")
    worker.start()
    dsn = None
    try:
        await worker.ready()
        facts = interleaved(CALLS_TODAY)
        async with EventProducer(bootstrap_servers=kafka, buffer_max=len(facts) + 10) as producer:
            for fact in facts:
                producer.publish(fact)
        # Mid-stream: some calls have a record, not every fact is folded yet.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while not await latest_records(kafka):
            assert loop.time() < deadline, worker.tail()
            await asyncio.sleep(0.1)
        worker.kill()
        worker.start()
        await worker.ready()
        records = await settled(kafka, worker)

        dsn, rows = await project(kafka, postgres_dsn)
        assert set(records) == set(rows) == {c.call_id for c in CALLS_TODAY}
        for call_id, record in records.items():
            assert record.to_record() == rows[call_id], call_id  # every column, the log position too
        assert {r.disposition for r in records.values()} == {c.disposition for c in CALLS_TODAY}

        worker.stop()  # a clean restart with nothing new: the records stand
        worker.start()
        await worker.ready()
        assert await settled(kafka, worker) == records
    finally:
        worker.stop()
        if dsn is not None:
            await drop_database(postgres_dsn, dsn)
