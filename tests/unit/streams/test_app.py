"""The Faust agents in `agent.test_context()`: memory store, flow resumed, sends into a fake sink."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faust
import pytest

from schemas import models as m
from schemas.codec import decode, encode
from sentiric.eventlog.topics import DEADLETTER, DLQ_CONSUMER, DLQ_ERROR, commands_topic
from sentiric.settings import Settings
from streams.agents.dialog import Stored
from streams.app import KPI_TOPIC, create_app, internal_topics
from streams.dialog.script import CallScript
from streams.dialog.state import Phase
from streams.engines.dialog import Reply, Turn
from streams.engines.factory import Engines
from streams.engines.knowledge import KnowledgeEngine
from streams.engines.stt import Transcript
from streams.engines.tts import Speech
from streams.skip import is_ended

KEY = b"call-1"


async def until(sink: Sink, predicate: Any) -> None:
    """Wait for an agent's work to show: engines run in threads, so `put` returns before they finish,
    and leaving `test_context` stops the agent."""
    async with asyncio.timeout(10):
        while not predicate():
            sink.changed.clear()
            await sink.changed.wait()


class FakeSTT:
    name = "fake-stt"

    def transcribe(self, pcm: bytes, sample_rate: int, language: str) -> Transcript:
        return Transcript("where is your shop", language, 0.8)


class FakeTTS:
    name = "fake-tts"

    def synthesize(self, text: str, language: str) -> Speech:
        return Speech(b"\x10\x00" * 1600, 16000)


class RecordingEngine:
    name = "recording"

    def __init__(self) -> None:
        self.histories: list[list[Turn]] = []

    def reply(self, text: str, history: Sequence[Turn], knowledge: Sequence[m.KnowledgeEntry]) -> Reply:
        self.histories.append(list(history))
        return KnowledgeEngine().reply(text, history, knowledge)


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, Any]] = []
        self.headers: list[tuple[tuple[str, bytes], ...]] = []
        self.changed = asyncio.Event()

    async def __call__(
        self, topic: str, key: bytes, value: bytes, headers: tuple[tuple[str, bytes], ...] = ()
    ) -> None:
        self.sent.append((topic, key, value if topic.startswith("sentiric-") else decode(value)))
        self.headers.append(headers)
        self.changed.set()

    def of(self, cls: type[Any]) -> list[Any]:
        return [v for _, _, v in self.sent if isinstance(v, cls)]


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def engine() -> RecordingEngine:
    return RecordingEngine()


@pytest.fixture
def app(tmp_path: Path, sink: Sink, engine: RecordingEngine) -> faust.App:
    settings = Settings(home=tmp_path, kafka_bootstrap="127.0.0.1:9", topic_partitions=1)
    app = create_app(settings, Engines(stt=FakeSTT(), dialog=engine, tts=FakeTTS()), emit=sink)
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    return app


async def test_dialog_agent_keeps_its_table_and_sends_to_the_owning_edge(app: faust.App, sink: Sink) -> None:
    s = CallScript(edge="edge-3")
    table = app.tables["dialog"]
    async with app.agents["dialog"].test_context() as agent:
        for fact in [*s.setup(), s.established()]:
            await agent.put(key=KEY, value=encode(fact))
        stored = Stored.parse(table[KEY])
        assert stored.state.phase == Phase.GREETING and stored.deadline is not None
        (greeting,) = sink.of(m.AgentReplied)
        await agent.put(key=KEY, value=encode(s.synthesized(greeting.reply_id)))
        ((topic, key, play),) = [x for x in sink.sent if isinstance(x[2], m.PlayAudio)]
        assert (topic, key, play.playback_id) == (commands_topic("edge-3"), KEY, greeting.reply_id)
        await agent.put(key=KEY, value=encode(s.ended()))
        assert is_ended(table[KEY])  # the speech agents skip this call's work from now on
        await agent.put(key=KEY, value=b"not a record")  # dropped, the agent lives on
        await agent.put(key=KEY, value=encode(s.fact(m.MediaPortReleased)))
        assert is_ended(table[KEY])


async def test_speech_agents_chain_through_the_call_topic(
    app: faust.App, sink: Sink, engine: RecordingEngine
) -> None:
    s = CallScript()
    async with app.agents["stt"].test_context() as stt:
        await stt.put(key=KEY, value=encode(s.captured("u1")))
        await stt.put(key=KEY, value=encode(s.fact(m.CallAnswered)))  # not its business
        await until(sink, lambda: sink.of(m.UtteranceTranscribed))
    (heard,) = sink.of(m.UtteranceTranscribed)
    assert heard.text == "where is your shop" and heard.engine == "fake-stt"

    async with app.agents["dialog-engine"].test_context() as dialog_engine:
        greeting = s.fact(m.AgentReplied, source="dialog", reply_id="g", utterance_id=None, text="Hello!")
        await dialog_engine.put(key=KEY, value=encode(greeting))
        await dialog_engine.put(key=KEY, value=encode(heard))
        await dialog_engine.put(key=KEY, value=encode(s.transcribed("u2", "   ")))  # nothing to answer
        await until(sink, lambda: [r for r in sink.of(m.AgentReplied) if r.source == "dialog-engine"])
    (answer,) = [r for r in sink.of(m.AgentReplied) if r.source == "dialog-engine"]
    assert answer.intent == "address" and answer.utterance_id == "u1"
    assert engine.histories == [[Turn("agent", "Hello!")]]
    assert [t.text for t in _history(app)] == ["Hello!", "where is your shop", answer.text]

    async with app.agents["tts"].test_context() as tts:
        await tts.put(key=KEY, value=encode(answer))
        await until(sink, lambda: sink.of(m.SpeechSynthesized))
    (voiced,) = sink.of(m.SpeechSynthesized)
    assert voiced.reply_id == answer.reply_id and voiced.sample_rate == 16000 and voiced.pcm

    async with app.agents["dialog-engine"].test_context() as dialog_engine:
        await dialog_engine.put(key=KEY, value=encode(s.ended()))
    assert _history(app) == []


def _history(app: faust.App) -> list[Turn]:
    from streams.agents.speech import load_history

    return load_history(app.tables["dialog-history"].get(KEY))


async def test_measure_agent_forwards_compact_measurements(app: faust.App, sink: Sink) -> None:
    s = CallScript()
    async with app.agents["measure"].test_context() as agent:
        await agent.put(key=KEY, value=encode(s.fact(m.CallInviteReceived)))
        await agent.put(key=KEY, value=encode(s.fact(m.MediaQualityReported)))
    ((topic, key, value),) = sink.sent
    assert topic == "sentiric-kpi-measurements" and key == b"kpi" and value.startswith(b'["offered"')


class PoisonSTT(FakeSTT):
    """Raises what no worker expects (not an EngineError) for one utterance: a bug, a bad record."""

    def transcribe(self, pcm: bytes, sample_rate: int, language: str) -> Transcript:
        if sample_rate == 0:
            raise ZeroDivisionError("sample rate 0")
        return super().transcribe(pcm, sample_rate, language)


class DeadLetterSink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, dict[str, bytes]]] = []

    def publish_raw(self, topic: str, key: Any, value: Any, headers: Any = ()) -> None:
        self.sent.append((topic, key, value, dict(headers)))


async def test_a_record_that_makes_an_agent_raise_is_set_aside_and_the_agent_goes_on(
    tmp_path: Path, sink: Sink, engine: RecordingEngine
) -> None:
    dead = DeadLetterSink()
    settings = Settings(home=tmp_path, kafka_bootstrap="127.0.0.1:9", topic_partitions=1)
    app = create_app(
        settings, Engines(stt=PoisonSTT(), dialog=engine, tts=FakeTTS()), emit=sink, dead_letters=dead
    )
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    s = CallScript()
    poison = encode(dataclasses.replace(s.captured("u1"), sample_rate=0))
    async with app.agents["stt"].test_context() as stt:
        await stt.put(key=KEY, value=poison)
        await stt.put(key=KEY, value=encode(s.captured("u2")))
        await until(sink, lambda: sink.of(m.UtteranceTranscribed))
    (heard,) = sink.of(m.UtteranceTranscribed)
    assert heard.utterance_id == "u2"  # the agent lived on after the poison record
    ((topic, key, value, headers),) = dead.sent
    assert (topic, key, value) == (DEADLETTER, KEY, poison)
    assert headers[DLQ_CONSUMER] == b"stt" and headers[DLQ_ERROR] == b"ZeroDivisionError: sample rate 0"

    async with app.agents["kpi"].test_context() as kpi:
        await kpi.put(key=b"kpi", value=b"not a measurement")
        await kpi.put(key=b"kpi", value=b'["offered", 1.0, null, null]')
    assert [h[DLQ_CONSUMER] for *_, h in dead.sent] == [b"stt", b"kpi"]


def test_the_worker_creates_its_own_topics_before_joining_the_group(app: faust.App) -> None:
    specs = {s.name: s for s in internal_topics(app)}
    tables = [f"sentiric-{t}-changelog" for t in ("dialog", "dialog-history", "dialog-actions", "cdr")]
    assert set(specs) == {*tables, KPI_TOPIC}
    for name in tables:
        assert specs[name].partitions == 1 and specs[name].config == {"cleanup.policy": "compact"}


@pytest.fixture
def traced() -> Any:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from sentiric import tracing

    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.shutdown()


async def test_with_tracing_each_stage_is_a_span_under_the_previous_one(
    app: faust.App, sink: Sink, traced: Any
) -> None:
    """stt under the edge's utterance (the record's traceparent), dialog under stt, tts under dialog, and
    the dialog reducer's PlayAudio carries the tts span's traceparent on to the edge."""
    from sentiric import tracing

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    s = CallScript()
    utterance = b"00-" + trace_id.encode() + b"-00f067aa0ba902b7-01"

    def traced_fact(fact: Any) -> Any:
        return dataclasses.replace(fact, trace_id=trace_id)

    async def stage(agent: str, fact: Any, headers: Any, out: type[Any]) -> tuple[Any, Any]:
        async with app.agents[agent].test_context() as running:
            await running.put(key=KEY, value=encode(traced_fact(fact)), headers=headers)
            await until(
                sink, lambda: any(isinstance(v, out) and v.source != "dialog" for _, _, v in sink.sent)
            )
        i = next(i for i, (_, _, v) in enumerate(sink.sent) if isinstance(v, out) and v.source != "dialog")
        return sink.sent[i][2], sink.headers[i]

    heard, after_stt = await stage(
        "stt", s.captured("u1"), [("traceparent", utterance)], m.UtteranceTranscribed
    )
    answer, after_dialog = await stage("dialog-engine", heard, after_stt, m.AgentReplied)
    _voiced, after_tts = await stage("tts", answer, after_dialog, m.SpeechSynthesized)
    stt, dialog, tts = traced.get_finished_spans()
    assert [x.name for x in (stt, dialog, tts)] == ["stt", "dialog", "tts"]
    assert {f"{x.context.trace_id:032x}" for x in (stt, dialog, tts)} == {trace_id}
    assert stt.parent.span_id == 0x00F067AA0BA902B7
    assert dialog.parent.span_id == stt.context.span_id and tts.parent.span_id == dialog.context.span_id
    assert after_tts == tracing.headers_of(_span(tts))
    assert stt.attributes["sentiric.utterance_id"] == "u1" and stt.attributes["sentiric.engine"] == "fake-stt"
    assert dialog.attributes["sentiric.language"] == heard.language

    sink.sent.clear()
    sink.headers.clear()
    async with app.agents["dialog"].test_context() as agent:
        for fact in [*s.setup(), s.established()]:
            await agent.put(key=KEY, value=encode(traced_fact(fact)))
        (greeting,) = sink.of(m.AgentReplied)
        synthesized = traced_fact(s.synthesized(greeting.reply_id))
        await agent.put(key=KEY, value=encode(synthesized), headers=after_tts)
    (i,) = [i for i, (_, _, v) in enumerate(sink.sent) if isinstance(v, m.PlayAudio)]
    assert sink.headers[i] == after_tts
    assert all(h == () for j, h in enumerate(sink.headers) if j != i)  # no header came with those facts


async def test_without_tracing_no_span_and_no_header(app: faust.App, sink: Sink) -> None:
    from sentiric import tracing

    assert not tracing.enabled()
    s = CallScript()
    async with app.agents["stt"].test_context() as stt:
        value = encode(s.captured("u1"))
        await stt.put(
            key=KEY, value=value, headers=[("traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01")]
        )
        await until(sink, lambda: sink.of(m.UtteranceTranscribed))
    assert sink.headers == [()]


def _span(done: Any) -> Any:
    from opentelemetry.trace import NonRecordingSpan

    return NonRecordingSpan(done.context)


class FailingSTT(FakeSTT):
    def transcribe(self, pcm: bytes, sample_rate: int, language: str) -> Transcript:
        from streams.engines.errors import EngineError

        raise EngineError("no model")


async def test_a_failed_stage_is_a_span_in_error(
    tmp_path: Path, sink: Sink, engine: RecordingEngine, traced: Any
) -> None:
    from opentelemetry.trace import StatusCode

    settings = Settings(home=tmp_path, kafka_bootstrap="127.0.0.1:9", topic_partitions=1)
    app = create_app(settings, Engines(stt=FailingSTT(), dialog=engine, tts=FakeTTS()), emit=sink)
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    parent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    fact = dataclasses.replace(CallScript().captured("u1"), trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    async with app.agents["stt"].test_context() as stt:
        await stt.put(key=KEY, value=encode(fact), headers=[("traceparent", parent)])
        async with asyncio.timeout(10):
            while not traced.get_finished_spans():  # noqa: ASYNC110 - the engine runs in a thread; poll its outcome
                await asyncio.sleep(0.01)
    (span,) = traced.get_finished_spans()
    assert span.name == "stt" and span.status.status_code == StatusCode.ERROR
    assert span.parent.span_id == 0x00F067AA0BA902B7 and sink.sent == []


async def test_the_cdr_agent_counts_in_the_heartbeat_lag(app: faust.App, sink: Sink) -> None:
    """A worker whose CDR agent is behind reports the lag, however far the other agents are."""
    progress = app.sentiric_progress  # type: ignore[attr-defined]  # ours on faust's App (streams.app)
    assert "cdr" in progress.agents
    for agent in progress.agents:
        if agent != "cdr":
            progress.done(agent, 0, 9, 1000.0)  # the other agents: up to offset 10
    assert progress.lag(0, 10, 0, 1001.0)[0] == 10  # the CDR agent has handled nothing since offset 0
    s = CallScript()
    async with app.agents["cdr"].test_context() as agent:
        await agent.put(key=KEY, value=encode(s.fact(m.CallInviteReceived)))
    assert [t for t, _, _ in sink.sent] == ["sentiric.cdr"]
    assert progress.handled["cdr"][0][0] > 0  # the agent reports what it handled


class BatchingSTT(FakeSTT):
    """Decodes several utterances at once, slowly: what arrives meanwhile makes the next batch."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def transcribe_many(self, utterances: Sequence[tuple[bytes, int, str]]) -> list[Transcript]:
        import time

        time.sleep(0.2)
        self.batches.append(len(utterances))
        return [Transcript("where is your shop", language, 0.8) for _, _, language in utterances]


async def test_utterances_of_several_calls_are_transcribed_in_one_batch(tmp_path: Path, sink: Sink) -> None:
    settings = Settings(home=tmp_path, kafka_bootstrap="127.0.0.1:9", topic_partitions=1)
    stt = BatchingSTT()
    app = create_app(settings, Engines(stt=stt, dialog=RecordingEngine(), tts=FakeTTS()), emit=sink)
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    calls = [CallScript(f"call-{i}") for i in range(4)]
    async with app.agents["stt"].test_context() as agent:
        # all four questions on the log together, as when several callers ask at once
        await asyncio.gather(
            *(
                agent.put(key=s.call_id.encode(), value=encode(s.captured(f"u{i}")))
                for i, s in enumerate(calls)
            )
        )
        await until(sink, lambda: len(sink.of(m.UtteranceTranscribed)) == 4)
    heard = sink.of(m.UtteranceTranscribed)
    assert sorted(t.utterance_id for t in heard) == ["u0", "u1", "u2", "u3"]
    assert sum(stt.batches) == 4 and max(stt.batches) > 1, stt.batches  # not one decode each
    assert all(t.latency_ms >= 200 for t in heard)  # each waited for its batch, and says so
