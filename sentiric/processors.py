"""Your own stream processor: a Faust app on the platform's log, with the platform's settings.

    from schemas import models as m
    from sentiric import processors

    app = processors.create_app("hourly-intents")
    calls = processors.calls_topic(app)

    @app.agent(calls)
    async def intents(stream):
        proc = processors.Processor(app, "hourly-intents")
        async for reply in proc.records(stream, m.AgentReplied):
            with proc.guard():  # an exception sets this record aside (sentiric.deadletter), then the next
                count(reply.intent)

    $ sentiric processor run my_module:intents

What this module gives a processor (README, "Write your own stream processor"):

- `create_app`: a Faust app whose broker, TLS and SASL come from `sentiric.settings` (the same
  `SENTIRIC_KAFKA_*` settings every process uses), raw bytes on every topic (the platform's Avro
  single-object codec decodes), no web server, an in-memory store rebuilt from changelogs, and a new
  consumer group starting at offset 0: a new processor replays the whole retained log.
- `calls_topic`, `cdr_topic`, `metrics_topic`: the platform's topics as Faust topics.
- `Processor.records`: decoded records as the generated models (`schemas.models`), only the types
  asked for, facts de-duplicated by `event_id` (an upstream republish, a redelivery after a restart
  within `remember` ids), undecodable bytes set aside to the dead-letter topic.
- `Processor.guard`: the record being handled is dead-lettered when its handling raises, with the
  processor's name in the headers (the platform's own `DeadLetters`), and the stream goes on.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final
from uuid import UUID

import faust

from schemas.codec import CodecError, decode
from sentiric.eventlog.connection import faust_brokers, faust_credentials
from sentiric.eventlog.consumer import DeadLetters, LogRecord
from sentiric.eventlog.topics import CALLS, CDR, DEADLETTER, METRICS
from sentiric.settings import Settings, get_settings

REMEMBER_IDS: Final = 100_000
RAW: Final[dict[str, Any]] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


def create_app(app_id: str, settings: Settings | None = None, **conf: Any) -> faust.App:
    """A Faust app on the platform's broker (`conf` overrides any Faust setting)."""
    settings = settings or get_settings()
    datadir = settings.data_dir / "processors" / app_id
    datadir.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "broker": faust_brokers(settings),
        "broker_credentials": faust_credentials(settings),
        "key_serializer": "raw",
        "value_serializer": "raw",
        "store": "memory://",
        "datadir": str(datadir),
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": max(1, settings.topic_replication),
        "consumer_auto_offset_reset": "earliest",
        "web_enabled": False,
        "autodiscover": False,
        **conf,
    }
    return faust.App(app_id, **options)


def calls_topic(app: faust.App) -> faust.TopicT:
    """`sentiric.calls`: every call fact, key = call id; one call's facts in order."""
    return app.topic(CALLS, **RAW)


def cdr_topic(app: faust.App) -> faust.TopicT:
    """`sentiric.cdr`: compacted, `CallDetailRecord`, key = call id; the latest record is the CDR."""
    return app.topic(CDR, **RAW)


def metrics_topic(app: faust.App) -> faust.TopicT:
    """`sentiric.metrics`: `KpiWindowReported` windows, key = window start."""
    return app.topic(METRICS, **RAW)


class _FaustPublisher:
    """Dead-letter copies through the app's own producer."""

    def __init__(self, topic: faust.TopicT) -> None:
        self._topic = topic

    def publish_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: tuple[tuple[str, bytes], ...] = ()
    ) -> None:
        self._topic.send_soon(key=key, value=value, headers=list(headers))


class Processor:
    """Decoding, de-duplication and dead-lettering for one agent of a processor app."""

    def __init__(
        self,
        app: faust.App,
        name: str,
        *,
        remember: int = REMEMBER_IDS,
        dead_letters: DeadLetters | None = None,
    ) -> None:
        self.name = name
        self.dead_letters = dead_letters or DeadLetters(_FaustPublisher(app.topic(DEADLETTER, **RAW)), name)
        self.duplicates = 0
        self._remember = remember
        self._seen: OrderedDict[UUID, None] = OrderedDict()
        self._current: LogRecord | None = None

    def first_time(self, record: Any) -> bool:
        """False for a record whose `event_id` was seen already (records without one always pass)."""
        event_id = getattr(record, "event_id", None)
        if not isinstance(event_id, UUID):
            return True
        if event_id in self._seen:
            self._seen.move_to_end(event_id)
            self.duplicates += 1
            return False
        self._seen[event_id] = None
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return True

    def accept(self, message: LogRecord, *types: type[Any]) -> Any | None:
        """The decoded record of one message, or None: undecodable (dead-lettered), not one of `types`
        (all types when none given), or a duplicate."""
        try:
            record = decode(message.value) if message.value is not None else None
        except CodecError as exc:
            self.dead_letters.send(message, str(exc))
            return None
        if record is None or (types and not isinstance(record, types)):
            return None
        return record if self.first_time(record) else None

    async def records(self, stream: faust.StreamT[bytes], *types: type[Any]) -> AsyncIterator[Any]:
        """The stream's records as generated models (see `accept`); `guard()` covers the latest."""
        async for event in stream.events():
            record = self.accept(event.message, *types)
            if record is not None:
                self._current = event.message
                yield record

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Handle the current record; an exception sets it aside and is swallowed."""
        if self._current is None:
            yield
            return
        with self.dead_letters.guard(self._current):
            yield


def load_agent(spec: str) -> Any:
    """`package.module:attribute` → the attribute (a Faust agent or app)."""
    import importlib
    import os
    import sys

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` would: the user's modules where they run it
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected module:agent, got {spec!r}")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def app_of(target: Any) -> faust.App:
    if isinstance(target, faust.App):
        return target
    app = getattr(target, "app", None)
    if isinstance(app, faust.App):
        return app
    raise ValueError(f"{target!r} is neither a Faust agent nor a Faust app")


def run(spec: str, settings: Settings | None = None) -> None:
    """Run the app of the agent `spec` names (every agent of that app) until interrupted."""
    settings = settings or get_settings()
    app = app_of(load_agent(spec))
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    worker = faust.Worker(app, loglevel=level, quiet=True, override_logging=False)
    worker.execute_from_commandline()
