"""The compacted config topic, materialized: the latest record per key, tombstones delete.

Keys are `<lowercased type name>:<entity_id>` (`producer.record_key`). The API's admin reads and the
webhook dispatcher's subscription list come from here; the admin writes apply to it at once as well
(read-your-writes), and the follower then sees the same record on the log. A record that does not
decode, or whose application raises (in a listener, say), is set aside — logged with its offset,
counted, dead-lettered when a producer is given — and the view goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import structlog

from schemas.codec import Codec, default_codec
from sentiric.eventlog.consumer import DeadLetters, RawPublisher, decode_message
from sentiric.eventlog.follower import TopicFollower
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

    async def follow(
        self,
        topic: str,
        *,
        codec: Codec | None = None,
        dead_letters: RawPublisher | None = None,
        **client: Any,
    ) -> None:
        """Read the topic from the beginning and keep following it; `ready` is set once the records
        present at the start are loaded. Runs until cancelled; the read loop restarts itself after a
        broker error (`sentiric.eventlog.follower`)."""
        codec = codec or default_codec()
        aside = DeadLetters(dead_letters, "config-view")

        def on_record(msg: Any) -> None:  # raising sets the record aside (the follower)
            key = msg.key.decode("utf-8", "replace") if msg.key else ""
            if msg.value is None:
                self.apply(key, None)
            elif (decoded := decode_message(msg, codec, aside)) is not None:
                self.apply(key, decoded.record)

        while True:
            follower = TopicFollower(
                topic, on_record, name="config-view", from_beginning=True, dead_letters=aside, **client
            )
            try:
                await follower.start()
                break
            except asyncio.CancelledError:
                # Stopped while loading: the follower's consumer is running already; left alone, its
                # tasks would outlive the view.
                with contextlib.suppress(Exception):
                    await follower.stop()
                raise
            except Exception as exc:  # the topic or the broker is not there yet
                log.warning("config view cannot start, retrying", topic=topic, error=repr(exc))
                with contextlib.suppress(Exception):
                    await follower.stop()
                await asyncio.sleep(2.0)
        self.ready.set()
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            await follower.stop()

    async def wait_ready(self, within_s: float = 30.0) -> None:
        await asyncio.wait_for(self.ready.wait(), within_s)
