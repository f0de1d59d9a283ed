"""Example (c) on the real broker: `sentiric processor run examples.parquet_export:cdrs` writes the
finished calls' CDRs (from `sentiric.cdr`) and their transcript turns (from `sentiric.calls`) of a
scripted day as Parquet files; the test reads the files back with pyarrow.

The day's facts are on the call topic and its CDRs on the CDR topic — partial records of the running
calls, and one final record published twice (at least once) — before the processor starts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from projections.synthetic import day_of_calls, interleaved
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.producer import EventProducer
from sentiric.eventlog.topics import platform_topics
from tests.integration.e2e.stack import PARTITIONS
from tests.integration.examples.cdrs import final_record, publish_cdrs
from tests.integration.examples.processes import ProcessorProcess

CALLS = day_of_calls(33, seed=9)
ENDED = ("answered", "transferred", "cancelled", "failed")  # the scenarios whose calls end (CallEnded)


def read_rows(directory: Path) -> list[dict[str, Any]]:
    files = sorted(directory.glob("*.parquet")) if directory.exists() else []
    return [row for f in files for row in pq.read_table(f).to_pylist()]


@pytest.fixture
async def kafka(fresh_kafka: str) -> AsyncIterator[str]:
    specs = platform_topics(partitions=PARTITIONS, calls_retention_ms=7 * 24 * 3600 * 1000)
    await ensure_topics(specs, bootstrap_servers=fresh_kafka)
    yield fresh_kafka


async def test_cdrs_and_turns_of_a_day_read_back_from_parquet(
    kafka: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    records = {c.call_id: final_record(c) for c in CALLS}
    finished = {k: r for k, r in records.items() if r.finished_at is not None}
    running = {c.call_id for c in CALLS if c.scenario == "in-progress"}
    assert running and set(records) - set(finished) == running
    facts = interleaved(CALLS)
    async with EventProducer(bootstrap_servers=kafka, buffer_max=len(facts) + 10) as producer:
        for fact in facts:
            producer.publish(fact)
    await publish_cdrs(kafka, [*records.values(), next(iter(finished.values()))])

    export = tmp_path / "export"
    processor = ProcessorProcess(
        "examples.parquet_export:cdrs", kafka, tmp_path, machine_cache_dir, EXPORT_DIR=str(export),
        EXPORT_FLUSH_S="1",
    )  # fmt: skip
    # The calls that talked and ended (an in-progress call never ends: none of its turns is exported),
    # each with its greeting, then a question and its answer per turn.
    ended_talking = [c for c in CALLS if c.turns and c.scenario != "in-progress"]
    want_turns = sum(2 * c.turns + 1 for c in ended_talking)
    assert want_turns > 0
    processor.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while True:
            cdrs, turns = read_rows(export / "cdrs"), read_rows(export / "turns")
            if {r["call_id"] for r in cdrs} == set(finished) and len(turns) >= want_turns:
                break
            assert processor.alive(), processor.tail()
            assert loop.time() < deadline, f"{len(cdrs)} cdrs, {len(turns)} turns\n{processor.tail()}"
            await asyncio.sleep(1.0)
        await asyncio.sleep(2.0)  # a flush or two more: nothing else may come
        cdrs, turns = read_rows(export / "cdrs"), read_rows(export / "turns")
    finally:
        processor.stop()

    # Every finished call, field for field; no running call. The record published twice is in one row,
    # or in two identical ones when a flush fell between the twins (at least once, as documented).
    assert {r["call_id"] for r in cdrs} == set(finished)
    assert len(cdrs) - len(finished) in (0, 1)
    for row in cdrs:
        assert row == finished[row["call_id"]].to_record(), row["call_id"]

    # The turns of every call that talked and ended, in the order they were spoken.
    assert len(turns) == want_turns
    by_call: dict[str, list[dict[str, Any]]] = {}
    for t in turns:
        by_call.setdefault(t["call_id"], []).append(t)
    assert set(by_call) == {c.call_id for c in ended_talking}
    for call in ended_talking:
        rows = by_call[call.call_id]
        assert [r["speaker"] for r in rows] == ["agent"] + ["caller", "agent"] * call.turns
        assert [r["text"] for r in rows if r["speaker"] == "caller"] == [
            f"question {i + 1}" for i in range(call.turns)
        ]
        assert [r["text"] for r in rows if r["speaker"] == "agent"][1:] == [
            f"answer {i + 1}" for i in range(call.turns)
        ]
        assert all(r["at"] is not None and r["at"].tzinfo is not None for r in rows)
