"""The projector against the real broker and PostgreSQL: a synthetic day, crashes, rebuild."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import sys

from aiokafka import AIOKafkaConsumer, TopicPartition

from projections import rebuild as rebuild_module
from projections import store
from projections.projector import Projector
from projections.synthetic import SCENARIOS, day_of_calls, interleaved
from schemas import models as m
from schemas.codec import encode
from schemas.samples import sample
from sentiric.eventlog.consumer import read_partition_until_end
from sentiric.eventlog.producer import EventProducer
from tests.integration.deadletter import dead_letters, wait_dead_letters

from .conftest import PARTITIONS

DAY = day_of_calls(330, seed=3)


async def project_to_end(env, pool) -> int:
    return await Projector(pool, topics=env.topics.projected, client=env.client, batch_max=500).run(
        stop_at_end=True
    )


async def test_a_synthetic_day_is_projected_and_rows_match_the_facts(env):
    facts = interleaved(DAY)
    await env.produce(facts)
    pool = await env.pool()
    try:
        applied = await project_to_end(env, pool)
        assert applied == len(facts)
        async with pool.acquire() as conn:
            rows = {r["call_id"]: r for r in await conn.fetch("SELECT * FROM calls")}
            turns = await conn.fetch("SELECT call_id, speaker FROM transcript_turns")
            dtmf = await conn.fetch("SELECT call_id, digit FROM dtmf ORDER BY call_id, at")
        assert len(rows) == len(DAY)
        assert {r["disposition"] for r in rows.values()} == {c.disposition for c in DAY}
        for call in DAY:
            row = rows[call.call_id]
            assert row["disposition"] == call.disposition, call.scenario
            assert row["event_count"] == len(call.facts)
            assert row["caller"] == call.facts[0].caller
            assert row["invite_at"] == call.facts[0].occurred_at
            assert row["log_topic"] == env.topics.calls
            ended = [f for f in call.facts if isinstance(f, m.CallEnded)]
            if ended:
                assert row["ended_at"] == ended[0].occurred_at
                assert row["end_reason"] == ended[0].reason
        assert sum(1 for t in turns if t["speaker"] == "caller") == sum(c.turns for c in DAY)
        digits: dict[str, str] = {}
        for d in dtmf:
            digits[d["call_id"]] = digits.get(d["call_id"], "") + d["digit"]
        assert digits == {c.call_id: c.digits for c in DAY if c.digits}
        assert len(SCENARIOS) < len(DAY)
    finally:
        await pool.close()


async def live_checksum(env, dsn: str | None = None) -> str:
    pool = await env.pool(dsn)
    try:
        await project_to_end(env, pool)
        return await rebuild_module.projection_checksum(pool)
    finally:
        await pool.close()


async def test_rebuild_from_offset_zero_gives_the_live_checksum(env):
    await env.produce(interleaved(DAY[:120]))
    live = await live_checksum(env)
    pool = await env.pool()
    try:
        first = await rebuild_module.rebuild_pool(pool, topics=env.topics, client=env.client)
        second = await rebuild_module.rebuild_pool(pool, topics=env.topics, client=env.client, batch_max=37)
    finally:
        await pool.close()
    assert first.checksum == live
    assert second.checksum == live
    assert first.counts["calls"] == 120


async def test_duplicated_facts_on_the_log_and_corrupt_messages_change_nothing(env):
    calls = DAY[:40]
    clean = interleaved(calls)
    await env.produce(clean)
    reference = await live_checksum(env)
    # The same facts published again (an upstream republish) plus garbage: same tables.
    await env.produce(clean[::3])
    async with EventProducer(bootstrap_servers=env.kafka) as producer:
        producer.publish_raw(env.topics.calls, calls[0].call_id.encode(), b"\xc3\x01garbage-not-avro")
        pool = await env.pool()
        try:
            projector = Projector(pool, topics=env.topics.projected, client=env.client, dead_letters=producer)
            await projector.run(stop_at_end=True)
            assert await rebuild_module.projection_checksum(pool) == reference
            async with pool.acquire() as conn:
                stored = await store.stored_offsets(conn, env.topics.projected)
        finally:
            await pool.close()
    ends = await end_offsets(env)
    assert stored == {k: v for k, v in ends.items() if v}


async def end_offsets(env) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=env.kafka)
    await consumer.start()
    try:
        tps = [TopicPartition(env.topics.calls, p) for p in range(PARTITIONS)]
        tps.append(TopicPartition(env.topics.metrics, 0))
        return {(tp.topic, tp.partition): o for tp, o in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def committed(pool) -> int:
    return await pool.fetchval("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets")


async def test_cancelled_at_random_points_the_restarted_projector_gives_the_same_tables(env):
    facts = interleaved(DAY[:150])
    await env.produce(facts)
    reference = await live_checksum(env)
    dsn = await env.new_database()
    rng = random.Random(5)
    thresholds = sorted(rng.sample(range(len(facts) // 20, len(facts) * 9 // 10), 6))
    pool = await env.pool(dsn)
    try:
        for threshold in [*thresholds, None]:
            projector = Projector(pool, topics=env.topics.projected, client=env.client, batch_max=10)
            task = asyncio.create_task(projector.run(stop_at_end=True))
            if threshold is None:
                await task
                break
            while await committed(pool) < threshold:
                assert not task.done(), "the projector finished before it could be cancelled"
                await asyncio.sleep(0.001)
            await asyncio.sleep(rng.uniform(0, 0.01))  # between or inside a transaction
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert await committed(pool) == len(facts)
        assert await rebuild_module.projection_checksum(pool) == reference
    finally:
        await pool.close()


KILLABLE = """
import asyncio, sys
from projections.logtopics import LogTopics
from projections.pool import open_pool
from projections.projector import Projector

async def main(dsn, kafka, calls, metrics):
    pool = await open_pool(dsn)
    topics = (calls, metrics)
    projector = Projector(pool, topics=topics, client={"bootstrap_servers": kafka}, batch_max=10)
    await projector.run(stop_at_end=True)
    print("caught-up", flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


async def test_killed_process_at_random_points_restarts_without_duplicates_or_gaps(env):
    facts = interleaved(DAY[:300])
    await env.produce(facts)
    reference = await live_checksum(env)
    dsn = await env.new_database()
    rng = random.Random(9)
    # SIGKILL once the child has committed past each of these log positions, plus a random few ms so
    # the kill lands anywhere: between transactions or inside one.
    thresholds = sorted(rng.sample(range(len(facts) // 20, len(facts) * 9 // 10), 4))
    args = [sys.executable, "-c", KILLABLE, dsn, env.kafka, env.topics.calls, env.topics.metrics]
    pool = await env.pool(dsn)
    try:
        for threshold in [*thresholds, None]:
            proc = await asyncio.create_subprocess_exec(
                *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
            )
            if threshold is None:
                out, _ = await proc.communicate()
                assert proc.returncode == 0 and b"caught-up" in out
                break
            while await committed(pool) < threshold:
                assert proc.returncode is None, "the projector finished before it could be killed"
                await asyncio.sleep(0.002)
            await asyncio.sleep(rng.uniform(0, 0.02))
            proc.kill()  # SIGKILL: no cleanup, no rollback by the client
            await proc.wait()
        assert await committed(pool) == len(facts)
        assert await rebuild_module.projection_checksum(pool) == reference
    finally:
        await pool.close()


async def test_the_rebuild_command_prints_the_live_checksum(env):
    from projections.logtopics import LogTopics
    from sentiric.eventlog.admin import ensure_topics

    topics = LogTopics()
    await ensure_topics(topics.specs(6, 24 * 3600 * 1000), bootstrap_servers=env.kafka)
    await env.produce(interleaved(day_of_calls(30, seed=int(random.random() * 1e9))), topic=topics.calls)
    pool = await env.pool()
    try:
        await Projector(pool, topics=topics.projected, client=env.client).run(stop_at_end=True)
        live = await rebuild_module.projection_checksum(pool)
    finally:
        await pool.close()
    for command in (("projections", "rebuild"), ("replay", "rebuild")):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sentiric.cli", *command,
            env=dict(os.environ, SENTIRIC_KAFKA_BOOTSTRAP=env.kafka, SENTIRIC_DATABASE_URL=env.dsn),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()[-2000:]
        assert f"checksum {live}" in out.decode()


async def test_a_rebuild_while_the_live_projector_runs_leaves_it_projecting(env):
    from projections.projector import run_projector

    await env.produce(interleaved(DAY[:60]))
    pool = await env.pool()
    live = Projector(pool, topics=env.topics.projected, client=env.client, batch_max=50)
    task = asyncio.create_task(run_projector(live))
    try:
        await asyncio.wait_for(live.caught_up.wait(), 60)
        rebuild_pool = await env.pool()
        try:
            rebuilt = await rebuild_module.rebuild_pool(rebuild_pool, topics=env.topics, client=env.client)
        finally:
            await rebuild_pool.close()
        assert rebuilt.counts["calls"] == 60
        # Facts arriving after the rebuild still reach the tables through the live projector.
        await env.produce(interleaved(DAY[60:90]))
        async with asyncio.timeout(60):
            while await pool.fetchval("SELECT count(*) FROM calls") < 90:  # noqa: ASYNC110 - polls the DB
                await asyncio.sleep(0.2)
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pool.close()
    # And the tables equal a fresh projection of the whole log.
    fresh = await env.new_database()
    assert await live_checksum(env, fresh) == await live_checksum(env)


async def test_a_record_the_projector_cannot_apply_is_dead_lettered_and_the_projection_goes_on(env):
    """Facts from a producer that bypasses the edge's recorder: one the tables refuse (a 20 KB caller
    no btree index can hold), one with an int the column cannot hold (on the metrics topic), and one
    with NUL in its text (what facts looked like before the edge escaped wire text). The first two
    are dead-lettered with their offsets, the NUL one projects with NUL escaped, the calls around
    them all land, and a rebuild from offset 0 gives the same tables."""
    before, after = DAY[:30], DAY[30:60]
    rng = random.Random(5)
    huge = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20_000))
    too_big = dataclasses.replace(sample(m.CallInviteReceived, call_id="poison-index"), caller=huge)
    nul = dataclasses.replace(sample(m.CallInviteReceived, call_id="nul-text", n=2), caller="\x00evil\x00")
    overflow = dataclasses.replace(sample(m.KpiWindowReported, n=3), calls_offered=2**40)
    await env.produce(interleaved(before))
    await env.produce([too_big, nul])
    await env.produce([overflow], topic=env.topics.metrics)
    await env.produce(interleaved(after))
    positions = {
        d.record.call_id: (d.topic, d.partition, d.offset)
        for p in range(PARTITIONS)
        for d in await read_partition_until_end(env.topics.calls, p, bootstrap_servers=env.kafka)
    }
    pool = await env.pool()
    try:
        async with EventProducer(bootstrap_servers=env.kafka) as producer:
            projector = Projector(
                pool, topics=env.topics.projected, client=env.client, dead_letters=producer, batch_max=500
            )
            await asyncio.wait_for(projector.run(stop_at_end=True), 120)
        async with pool.acquire() as conn:
            rows = {r["call_id"]: r for r in await conn.fetch("SELECT call_id, caller FROM calls")}
            windows = await conn.fetchval("SELECT count(*) FROM kpi_windows")
            stored = await store.stored_offsets(conn, env.topics.projected)
        live = await rebuild_module.projection_checksum(pool)
        rebuilt = await rebuild_module.rebuild_pool(pool, topics=env.topics, client=env.client)
    finally:
        await pool.close()
    assert projector.set_aside == 2
    assert {c.call_id for c in before + after} <= set(rows)
    assert "poison-index" not in rows
    assert rows["nul-text"]["caller"] == "\\x00evil\\x00"
    assert windows == 0
    assert stored == {k: v for k, v in (await end_offsets(env)).items() if v}  # moved past everything
    assert rebuilt.checksum == live  # a rebuild skips the same records: the same tables

    letters = await wait_dead_letters(env.kafka, origin_topic=env.topics.calls, count=1)
    (index,) = [d for d in letters if d.consumer == "projector"]
    assert index.origin == positions["poison-index"]
    assert index.value == encode(too_big) and "ProgramLimitExceeded" in index.error
    got = await dead_letters(env.kafka, origin_topic=env.topics.metrics)
    (kpi,) = [d for d in got if d.consumer == "projector"]
    assert kpi.origin == (env.topics.metrics, 0, 0) and "DataError" in kpi.error
