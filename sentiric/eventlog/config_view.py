"""The compacted config topic, materialized: the latest record per key, tombstones delete. One type for
every process.

Keys are `<lowercased type name>:<entity_id>` (`producer.record_key`): `dialplan:`, `sipuser:`,
`trunk:`, `apitoken:`, `knowledge:`, `webhooksubscription:` … Every process reads the whole topic (all
partitions, from the beginning, through one `TopicFollower`) into a `ConfigView`; what differs is the
index it keeps over it, fed by `subscribe`: the edge's `ConfigTable` (plans, users, trunks, tokens by
lookup key), the worker's `KnowledgeStore`, and the API's admin reads and webhook subscription list,
which read the view itself. The admin writes apply to the API's view at once (read-your-writes), and
the follower then sees the same record on the log.

A record that does not decode, or whose application raises (in a listener, say), is set aside —
logged with its offset, counted, dead-lettered when a producer is given — and the view goes on; the
read loop restarts itself after a broker error (`sentiric.eventlog.follower`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from aiokafka import ConsumerRecord

from schemas.codec import Codec, default_codec
from sentiric.eventlog import topics
from sentiric.eventlog.consumer import DeadLetters, RawPublisher, decode_message
from sentiric.eventlog.follower import TopicFollower
from sentiric.eventlog.producer import record_key

log = structlog.get_logger(__name__)
T = TypeVar("T")
Listener = Callable[[str, Any | None], None]
START_RETRY_S = 2.0  # `follow()`: pause between attempts while the topic or the broker is not there yet


class ConfigView:
    def __init__(self, name: str = "config-view") -> None:
        self.name = name  # the follower's name: its restart metric and its dead letters' consumer header
        self._records: dict[str, Any] = {}
        self._listeners: list[Listener] = []
        self._follower: TopicFollower | None = None
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

    def __len__(self) -> int:
        return len(self._records)

    @property
    def restarts(self) -> int:
        """How often the read loop restarted after an error (0 before `start`)."""
        return self._follower.restarts if self._follower is not None else 0

    async def start(
        self,
        topic: str = topics.CONFIG,
        *,
        codec: Codec | None = None,
        dead_letters: RawPublisher | DeadLetters | None = None,
        **client: Any,
    ) -> None:
        """Read the topic from the beginning to its current end, then follow it in the background
        until `stop()`; `ready` is set once loaded. Raises when the topic or the broker is not there."""
        codec = codec or default_codec()
        if isinstance(dead_letters, DeadLetters):
            aside = dead_letters
        else:
            aside = DeadLetters(dead_letters, self.name)

        def on_record(msg: ConsumerRecord[bytes, bytes]) -> None:  # raising sets the record aside
            if msg.key is None:  # compaction keeps records by key: a keyless one is no entity
                return
            key = msg.key.decode("utf-8", "replace")
            if msg.value is None:
                self.apply(key, None)
            elif (decoded := decode_message(msg, codec, aside)) is not None:
                self.apply(key, decoded.record)

        follower = TopicFollower(
            topic, on_record, name=self.name, from_beginning=True, dead_letters=aside, **client
        )
        try:
            await follower.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await follower.stop()
            raise
        self._follower = follower
        self.ready.set()

    async def stop(self) -> None:
        if self._follower is not None:
            await self._follower.stop()
            self._follower = None

    async def follow(
        self,
        topic: str = topics.CONFIG,
        *,
        codec: Codec | None = None,
        dead_letters: RawPublisher | DeadLetters | None = None,
        **client: Any,
    ) -> None:
        """`start()`, retried until the topic and the broker are there, then follow until cancelled."""
        while True:
            try:
                await self.start(topic, codec=codec, dead_letters=dead_letters, **client)
                break
            except Exception as exc:  # the topic or the broker is not there yet
                log.warning(
                    "config view cannot start, retrying", view=self.name, topic=topic, error=repr(exc)
                )
                await asyncio.sleep(START_RETRY_S)
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            await self.stop()

    async def wait_ready(self, within_s: float = 30.0) -> None:
        await asyncio.wait_for(self.ready.wait(), within_s)
