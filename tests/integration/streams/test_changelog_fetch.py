"""Table changelogs stop being fetched once a worker has recovered its tables (real broker, Faust in-process).

Without `stop_fetching_changelogs`, the first record our own table writes to a changelog partition is
fetched by aiokafka and never drained (Faust leaves "paused" partitions out of what it reads), and
aiokafka holds back all fetching for 100 ms while that record is young.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaProducer

from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.topics import TopicSpec
from streams.changelog_fetch import stop_fetching_changelogs


def make_app(bootstrap: str, home: Path, *, fix: bool) -> tuple[faust.App, str, asyncio.Event]:
    app_id = f"changelog-it-{uuid.uuid4().hex[:8]}"
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        datadir=str(home / app_id),
        topic_partitions=2,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
    )
    if fix:
        app.on_rebalance_complete.connect(stop_fetching_changelogs)
    source = f"{app_id}-in"
    topic = app.topic(source, key_type=bytes, value_type=bytes, partitions=2)
    table = app.Table("counts", default=None, partitions=2, key_type=bytes, value_type=bytes)
    written = asyncio.Event()

    @app.agent(topic, concurrency=1)
    async def count(stream: Any) -> None:
        async for event in stream.events():
            table[event.key] = event.value
            written.set()

    return app, source, written


async def run(bootstrap: str, home: Path, *, fix: bool) -> tuple[set[str], set[str]]:
    """Start the app, write the table once, and return (changelog partitions paused in aiokafka,
    changelog partitions holding fetched records)."""
    app, source, written = make_app(bootstrap, home, fix=fix)
    await ensure_topics([TopicSpec(source, 2)], bootstrap_servers=bootstrap)
    await app.start()
    try:
        await asyncio.wait_for(app.tables.recovery.completed.wait(), 60)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for key in (b"a", b"b", b"c", b"d"):  # both partitions
                await producer.send_and_wait(source, key=key, value=b"1")
        finally:
            await producer.stop()
        await asyncio.wait_for(written.wait(), 60)
        await asyncio.sleep(1.5)  # the changelog records reach the broker, and aiokafka if it fetches them
        consumer = app.consumer._thread._ensure_consumer()
        changelogs = app.tables.changelog_topics
        paused = {f"{tp.topic}:{tp.partition}" for tp in consumer.paused() if tp.topic in changelogs}
        held = {f"{tp.topic}:{tp.partition}" for tp in consumer._fetcher._records if tp.topic in changelogs}
        assert len({tp for tp in app.consumer.assignment() if tp.topic in changelogs}) == 2
        return paused, held
    finally:
        await app.stop()


async def test_changelogs_are_paused_in_the_client_after_recovery(kafka: str, tmp_path: Path) -> None:
    paused, held = await run(kafka, tmp_path, fix=True)
    assert len(paused) == 2 and held == set()


async def test_without_the_fix_the_changelog_records_are_fetched_and_held(kafka: str, tmp_path: Path) -> None:
    """The control: proves the test above observes the problem it claims to fix."""
    paused, held = await run(kafka, tmp_path, fix=False)
    assert paused == set() and len(held) >= 1
