"""The public processor module: settings, decoding, de-duplication, dead letters, the CLI's loader."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import faust
import pytest

from schemas import models as m
from schemas.codec import encode
from schemas.samples import sample
from sentiric import processors
from sentiric.cli import build_parser
from sentiric.eventlog.consumer import DeadLetters
from sentiric.eventlog.topics import CALLS, DEADLETTER, DLQ_CONSUMER, DLQ_ERROR
from sentiric.plugins import Registry
from sentiric.settings import Settings


@dataclasses.dataclass
class Message:
    value: bytes | None
    topic: str = CALLS
    partition: int = 0
    offset: int = 0
    key: bytes | None = b"k"


class DeadLetterSink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, dict[str, bytes]]] = []

    def publish_raw(self, topic: str, key: Any, value: Any, headers: Any = ()) -> None:
        self.sent.append((topic, value, dict(headers)))


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(home=tmp_path, kafka_bootstrap="127.0.0.1:9,127.0.0.2:9", topic_partitions=2, **extra)


def _processor(tmp_path: Path) -> tuple[processors.Processor, DeadLetterSink]:
    sink = DeadLetterSink()
    app = processors.create_app("unit-proc", _settings(tmp_path))
    return processors.Processor(
        app, "unit-proc", remember=2, dead_letters=DeadLetters(sink, "unit-proc")
    ), sink


def test_the_app_takes_the_platforms_broker_settings_and_replays_from_the_start(tmp_path: Path) -> None:
    app = processors.create_app("unit-proc", _settings(tmp_path))
    assert [str(u) for u in app.conf.broker] == ["kafka://127.0.0.1:9", "kafka://127.0.0.2:9"]
    assert app.conf.consumer_auto_offset_reset == "earliest"
    assert app.conf.topic_partitions == 2 and not app.conf.web_enabled
    tls = processors.create_app("unit-tls", _settings(tmp_path, kafka_security_protocol="SASL_PLAINTEXT"))
    assert tls.conf.broker_credentials is not None


def test_records_are_decoded_filtered_and_deduplicated_by_event_id(tmp_path: Path) -> None:
    proc, sink = _processor(tmp_path)
    ended, answered = sample(m.CallEnded, n=1), sample(m.CallAnswered, n=2)
    assert proc.accept(Message(encode(ended)), m.CallEnded) == ended
    assert proc.accept(Message(encode(ended)), m.CallEnded) is None  # the same event id again
    assert proc.accept(Message(encode(answered)), m.CallEnded) is None  # not asked for
    assert proc.accept(Message(encode(answered))) == answered  # all types
    cdr = sample(m.CallDetailRecord)
    assert (
        proc.accept(Message(encode(cdr))) == cdr and proc.accept(Message(encode(cdr))) == cdr
    )  # no event id
    assert proc.duplicates == 1 and sink.sent == []


def test_the_remembered_ids_are_bounded(tmp_path: Path) -> None:
    proc, _ = _processor(tmp_path)
    first, *rest = (sample(m.CallEnded, n=n) for n in range(1, 4))
    for r in (first, *rest):
        assert proc.first_time(r)
    assert proc.first_time(first)  # forgotten: only the last two are remembered


def test_undecodable_bytes_are_dead_lettered_with_the_processors_name(tmp_path: Path) -> None:
    proc, sink = _processor(tmp_path)
    assert proc.accept(Message(b"\x00garbage", offset=7)) is None
    ((topic, value, headers),) = sink.sent
    assert topic == DEADLETTER and value == b"\x00garbage" and headers[DLQ_CONSUMER] == b"unit-proc"


async def test_a_record_whose_handling_raises_is_set_aside_and_the_agent_goes_on(tmp_path: Path) -> None:
    proc, sink = _processor(tmp_path)
    app = processors.create_app("unit-agent", _settings(tmp_path))
    topic = processors.calls_topic(app)
    handled: list[str] = []

    @app.agent(topic)
    async def agent(stream: faust.StreamT[bytes]) -> None:
        async for ended in proc.records(stream, m.CallEnded):
            with proc.guard():
                if ended.reason == "poison":
                    raise RuntimeError("cannot handle")
                handled.append(ended.reason)

    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    poison = dataclasses.replace(sample(m.CallEnded, n=1), reason="poison")
    good = sample(m.CallEnded, n=2)
    async with agent.test_context() as ctx:
        await ctx.put(key=b"k", value=encode(poison))
        await ctx.put(key=b"k", value=encode(good))
        await ctx.put(key=b"k", value=encode(good))  # a duplicate: handled once
    assert handled == [good.reason]
    ((_, value, headers),) = sink.sent
    assert value == encode(poison) and headers[DLQ_ERROR].startswith(b"RuntimeError")


def test_the_cli_names_module_and_agent(tmp_path: Path) -> None:
    args = build_parser(Registry()).parse_args(["processor", "run", "pkg.mod:agent"])
    assert args.agent == "pkg.mod:agent" and args.func.__name__ == "_run_processor"
    with pytest.raises(ValueError, match="module:agent"):
        processors.load_agent("no_colon")
    app = processors.create_app("unit-cli", _settings(tmp_path))
    assert processors.app_of(app) is app
    with pytest.raises(ValueError, match="neither"):
        processors.app_of(object())


def test_an_app_consumes_through_the_guarded_consumer_and_declares_its_own_topics(tmp_path: Path) -> None:
    from sentiric.eventlog.fetch_guard import GuardedTransport
    from sentiric.eventlog.topics import TopicSpec

    app = processors.create_app("unit-out", _settings(tmp_path))
    assert isinstance(app.transport, GuardedTransport)
    out = processors.output_topic(app, "unit.out", partitions=1, config={"cleanup.policy": "compact"})
    assert out.get_topic_name() == "unit.out" and out.partitions == 1
    app.Table("counts", default=int, partitions=2)
    assert processors.app_topics(app) == [
        TopicSpec("unit.out", 1, {"cleanup.policy": "compact"}),
        TopicSpec("unit-out-counts-changelog", 2, {"cleanup.policy": "compact"}),
    ]


def test_a_replaying_topic_never_commits_its_offsets(tmp_path: Path) -> None:
    app = processors.create_app("unit-replay", _settings(tmp_path))
    assert processors.calls_topic(app).acks
    assert not processors.calls_topic(app, replay=True).acks
    assert not processors.cdr_topic(app, replay=True).acks and processors.metrics_topic(app).acks
