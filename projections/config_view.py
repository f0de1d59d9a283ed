"""The compacted config topic, materialized: the latest record per key, tombstones delete.

Keys are `<lowercased type name>:<entity_id>` (`producer.record_key`). The API's admin reads and the
webhook dispatcher's subscription list come from here; the admin writes apply to it at once as well
(read-your-writes), and the follower then sees the same record on the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.codec import Codec, CodecError, default_codec
from sentiric.eventlog.producer import record_key

log = structlog.get_logger(__name__)
T = TypeVar("T")
Listener = Callable[[str, Any | None], None]


class ConfigView:
    def __init__(self) -> None:
        self._records: dict[str, Any] = {}
        self._listeners: list[Listener] = []
        self.ready = asyncio.Event()

    def subscribe(self, listener: Listener) -> None:
        """`listener(key, record_or_None)` after every change."""
        self._listeners.append(listener)

    def put(self, record: Any) -> None:
        self.apply(record_key(record), record)

    def apply(self, key: str, record: Any | None) -> None:
        if record is None:
            if self._records.pop(key, None) is None:
                return
        else:
            self._records[key] = record
        for listener in self._listeners:
            listener(key, record)

    def get(self, model: type[T], entity_id: str) -> T | None:
        record = self._records.get(f"{model.__name__.lower()}:{entity_id}")
        return record if isinstance(record, model) else None

    def all(self, model: type[T]) -> list[T]:
        prefix = f"{model.__name__.lower()}:"
        return [r for k, r in sorted(self._records.items()) if k.startswith(prefix) and isinstance(r, model)]

    async def follow(self, topic: str, *, codec: Codec | None = None, **client: Any) -> None:
        """Read the topic from the beginning and keep following it; `ready` is set once the records
        present at the start are loaded. Runs until cancelled."""
        codec = codec or default_codec()
        consumer = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest", **client)
        await consumer.start()
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            if end == 0:
                self.ready.set()
            while True:
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=1000)
                for msg in batch.get(tp, []):
                    key = msg.key.decode("utf-8", "replace") if msg.key else ""
                    if msg.value is None:
                        self.apply(key, None)
                        continue
                    try:
                        self.apply(key, codec.decode(msg.value))
                    except CodecError as exc:
                        log.warning("undecodable config record skipped", key=key, error=str(exc))
                if not self.ready.is_set() and await consumer.position(tp) >= end:
                    self.ready.set()
        finally:
            await consumer.stop()

    async def wait_ready(self, within_s: float = 30.0) -> None:
        await asyncio.wait_for(self.ready.wait(), within_s)
