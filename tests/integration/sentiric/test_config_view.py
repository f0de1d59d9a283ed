"""The one config view against the real local Kafka: every partition loaded before `start()` returns,
the edge's table and the worker's knowledge fed from it, a corrupt record set aside, changes followed."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable

from edge.config_table import ConfigTable
from schemas import models
from schemas.samples import sample
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.config_view import ConfigView
from sentiric.eventlog.consumer import DeadLetters, partition_for
from sentiric.eventlog.producer import EventProducer, record_key
from sentiric.eventlog.topics import TopicSpec
from streams.agents.config import KnowledgeStore
from streams.engines.knowledge import load_knowledge

PARTITIONS = 3


async def until(condition: Callable[[], bool], what: str, within_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_every_partition_is_loaded_then_followed_into_each_process_index(kafka: str) -> None:
    topic = f"test.config.{uuid.uuid4().hex[:8]}"
    await ensure_topics(
        [TopicSpec(topic, PARTITIONS, {"cleanup.policy": "compact"})], bootstrap_servers=kafka
    )
    base = load_knowledge()[0]
    entries = [dataclasses.replace(base, entity_id=f"kb-{n}", answer=f"answer {n}") for n in range(12)]
    assert {partition_for(record_key(e), PARTITIONS) for e in entries} == set(range(PARTITIONS))
    user = dataclasses.replace(sample(models.SipUser), entity_id="alice", username="alice", realm="sentiric")
    async with EventProducer(bootstrap_servers=kafka) as producer:
        for record in [*entries, user]:
            producer.publish(record, topic=topic)
        await producer.flush()

        view, store, table = ConfigView(name="test-view"), KnowledgeStore(), ConfigTable()
        view.subscribe(store.apply)
        view.subscribe(table.apply)
        aside = DeadLetters(None, "test-view")
        await view.start(topic, dead_letters=aside, bootstrap_servers=kafka)
        try:
            # Loaded before start() returned, from every partition: no waiting.
            assert view.ready.is_set()
            assert sorted(e.entity_id for e in store.entries()) == sorted(e.entity_id for e in entries)
            assert table.user("alice", "sentiric") is not None
            assert view.get(models.SipUser, "alice") == user

            producer.publish_raw(topic, b"knowledgeentry:broken", b"not avro at all")
            added = dataclasses.replace(base, entity_id="added", answer="added later")
            producer.publish(added, topic=topic)
            producer.tombstone(topic, record_key(entries[0]))
            producer.tombstone(topic, record_key(user))
            await producer.flush()
            await until(lambda: view.get(models.KnowledgeEntry, "added") == added, "the added entry")
            await until(lambda: table.user("alice", "sentiric") is None, "the user's tombstone")
            await until(lambda: len(store.entries()) == len(entries), "the knowledge tombstone")
            assert "kb-0" not in {e.entity_id for e in store.entries()}
            assert aside.count == 1  # the corrupt record, set aside; the view went on
            assert view.restarts == 0
        finally:
            await view.stop()
