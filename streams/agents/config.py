"""The knowledge base as this worker sees it: materialized from the compacted `sentiric.config` topic.

Every worker needs every entry, so the config topic is read by a plain consumer with no group, from
the beginning, assigned all partitions (not by a Faust agent, whose group would split them). Keys are
`knowledge:<entity_id>`; a tombstone (no value) deletes. Until the topic holds any knowledge entry,
the entries of `knowledge_file` (default: the sample business) are used. A record whose application
raises is set aside (logged with its offset, counted, dead-lettered) and the follower goes on; if
the follower itself fails (the broker went away), it starts again from the beginning after a pause.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.codec import CodecError, decode
from schemas.models import KnowledgeEntry
from sentiric.eventlog.consumer import DeadLetters
from sentiric.eventlog.topics import CONFIG
from streams.engines.knowledge import SAMPLE_PATH, load_knowledge

log = logging.getLogger("sentiric.streams.config")
PREFIX = b"knowledge:"


class KnowledgeStore:
    def __init__(self, fallback_file: Path | None = None) -> None:
        self._fallback = tuple(load_knowledge(fallback_file or SAMPLE_PATH))
        self._entries: dict[str, KnowledgeEntry] = {}
        self._snapshot: tuple[KnowledgeEntry, ...] | None = None

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None or not key.startswith(PREFIX):
            return
        entity_id = key[len(PREFIX) :].decode(errors="replace")
        if value is None:
            self._entries.pop(entity_id, None)
        else:
            try:
                record = decode(value)
            except CodecError as exc:
                log.warning("config %s undecodable: %s", key, exc)
                return
            if not isinstance(record, KnowledgeEntry):
                return
            self._entries[entity_id] = record
        self._snapshot = None

    def entries(self) -> Sequence[KnowledgeEntry]:
        if self._snapshot is None:
            live = tuple(self._entries[k] for k in sorted(self._entries))
            self._snapshot = live or self._fallback
        return self._snapshot


async def follow_config(
    store: KnowledgeStore, *, retry_s: float = 2.0, dead_letters: DeadLetters | None = None, **client: Any
) -> None:
    """Keep `store` current with the config topic, forever. `client`: `client_options(settings)`."""
    aside = dead_letters or DeadLetters(None, "knowledge")
    while True:
        try:
            await _follow(store, aside, retry_s, client)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broker error: re-read the (compacted) topic from the beginning
            log.warning("knowledge follower failed, restarting in %.1f s: %r", retry_s, exc)
            await asyncio.sleep(retry_s)


async def _follow(store: KnowledgeStore, aside: DeadLetters, retry_s: float, client: dict[str, Any]) -> None:
    consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **client)
    await consumer.start()
    try:
        while True:
            parts = consumer.partitions_for_topic(CONFIG)
            if parts:
                break
            await consumer._client.force_metadata_update()  # the topic may be created later
            await asyncio.sleep(retry_s)
        tps = [TopicPartition(CONFIG, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        async for msg in consumer:
            with aside.guard(msg):
                store.apply(msg.key, msg.value)
    finally:
        await consumer.stop()
