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
  consumer group starting at offset 0: a new processor replays the whole retained log. Its consumer
  carries the platform worker's fixes for faust-streaming/aiokafka (`sentiric.eventlog.fetch_guard`,
  `sentiric.eventlog.changelog_fetch`): without them a processor with a table could drop the records
  fetched around its recovery.
- `calls_topic`, `cdr_topic`, `metrics_topic`: the platform's topics as Faust topics; `replay=True`
  for a processor whose state is in memory: every start reads the topic from offset 0.
- `output_topic`: a topic of the processor's own, created with its partition count before the worker
  joins (`prepare`, which `run` calls). Left to Faust, whatever asks the broker about the topic first
  (a send, a reader's metadata request) has the broker auto-create it with the broker's default
  partition count, not the one asked for.
- `Processor.records`: decoded records as the generated models (`schemas.models`), only the types
  asked for, facts de-duplicated by `event_id` (an upstream republish, a redelivery after a restart
  within `remember` ids), undecodable bytes set aside to the dead-letter topic.
- `Processor.guard`: the record being handled is dead-lettered when its handling raises, with the
  processor's name in the headers (the platform's own `DeadLetters`), and the stream goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final
from uuid import UUID

import faust

from schemas.codec import CodecError, decode
from sentiric.eventlog.admin import prepare_topics
from sentiric.eventlog.changelog_fetch import stop_fetching_changelogs
from sentiric.eventlog.connection import client_options, faust_brokers, faust_credentials
from sentiric.eventlog.consumer import DeadLetters, LogRecord
from sentiric.eventlog.fetch_guard import install as install_fetch_guard
from sentiric.eventlog.topics import CALLS, CDR, DEADLETTER, METRICS, TopicSpec
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
    app = faust.App(app_id, **options)
    install_fetch_guard(app)  # no fetch drains partitions Faust did not ask for
    app.on_rebalance_complete.connect(stop_fetching_changelogs)  # type: ignore[arg-type]  # mode's SignalHandlerT admits no function under mypy 2
    app.sentiric_outputs = []  # type: ignore[attr-defined]  # ours on faust's App: output_topic's specs for prepare
    return app


def calls_topic(app: faust.App, *, replay: bool = False) -> faust.TopicT:
    """`sentiric.calls`: every call fact, key = call id; one call's facts in order.

    `replay=True`: the group never commits its offsets on this topic (Faust's `acks=False`), so every
    start of the processor reads it again from offset 0, the retained log. For a processor whose state
    lives only in memory: restarted from committed offsets, it would carry on with empty state and
    publish wrong totals; replaying rebuilds the state first. By default offsets are committed as
    records are handled, and a restart goes on where the last run stopped (at least once: the last
    few records come again)."""
    return app.topic(CALLS, acks=not replay, **RAW)


def cdr_topic(app: faust.App, *, replay: bool = False) -> faust.TopicT:
    """`sentiric.cdr`: compacted, `CallDetailRecord`, key = call id; the latest record is the CDR.
    `replay` as for `calls_topic`."""
    return app.topic(CDR, acks=not replay, **RAW)


def metrics_topic(app: faust.App, *, replay: bool = False) -> faust.TopicT:
    """`sentiric.metrics`: `KpiWindowReported` windows, key = window start. `replay` as for
    `calls_topic`."""
    return app.topic(METRICS, acks=not replay, **RAW)


def output_topic(
    app: faust.App, name: str, *, partitions: int = 1, config: dict[str, str] | None = None
) -> faust.TopicT:
    """A topic this processor writes, raw bytes; `prepare` creates it with `partitions` (and `config`,
    e.g. `{"cleanup.policy": "compact"}` for a latest-value-per-key topic)."""
    outputs: list[TopicSpec] = app.sentiric_outputs  # type: ignore[attr-defined]  # set by create_app
    outputs.append(TopicSpec(name, partitions, dict(config or {})))
    return app.topic(name, partitions=partitions, **RAW)


def app_topics(app: faust.App) -> list[TopicSpec]:
    """The app's own topics: its `output_topic`s and one compacted changelog per table."""
    outputs: list[TopicSpec] = list(getattr(app, "sentiric_outputs", []))
    changelogs = [
        TopicSpec(
            table.changelog_topic.get_topic_name(), table.partitions or 1, {"cleanup.policy": "compact"}
        )
        for table in app.tables.values()
    ]
    return [*outputs, *changelogs]


async def prepare(app: faust.App, settings: Settings | None = None) -> list[str]:
    """Create the platform's topics and the app's own that do not exist yet (returns the names created).

    Faust declares changelogs itself, but not always before the group's first assignment: a changelog
    missing then stays unassigned and every table write fails until the next rebalance (the platform
    worker does the same before it starts, streams.app.internal_topics)."""
    settings = settings or get_settings()
    return await prepare_topics(settings, node_ids=(), extra=app_topics(app), client=client_options(settings))


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
    asyncio.run(prepare(app, settings))
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    for name in ("faust", "mode"):  # as `sentiric worker`: Faust's progress lines ("Ready") at our level
        logging.getLogger(name).setLevel(level)
    worker = faust.Worker(app, loglevel=level, quiet=True, override_logging=False)
    worker.execute_from_commandline()
