"""The edge's turn spans through the recorder (edge.turn_spans, edge.facts) on the SDK's in-memory
exporter: the call's trace id on every fact, the utterance span's header on its fact, the playback
span under the PlayAudio's traceparent; nothing of it with tracing off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, Span

from edge import call_facts as cf
from edge import turn_spans
from edge.facts import FactRecorder, ListPublisher
from sentiric import tracing


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.shutdown()


def _turn(recorder: FactRecorder, call_id: str = "c1") -> None:
    recorder.record(cf.speech_started(call_id, utterance_id="u1", stream_ms=100))
    recorder.record(
        cf.utterance_captured(
            call_id, utterance_id="u1", sample_rate=8000, pcm=b"\0\0" * 80, start_ms=100, end_ms=900
        )
    )
    recorder.record(cf.playback_started(call_id, playback_id="u1:reply", duration_ms=1200))
    recorder.record(
        cf.playback_finished(
            call_id, playback_id="u1:reply", interrupted=False, played_ms=1200, duration_ms=1200
        )
    )


def test_tracing_off_keeps_the_call_id_as_trace_id_and_publishes_no_header() -> None:
    assert not tracing.enabled()
    out = ListPublisher()
    _turn(FactRecorder(out, "edge-1"))
    assert {r.trace_id for r in out.records} == {"c1"}
    assert out.headers == [()] * 4


def test_a_turn_gives_utterance_and_playback_spans_in_the_calls_trace(
    spans: InMemorySpanExporter,
) -> None:
    out = ListPublisher()
    recorder = FactRecorder(out, "edge-1")
    (trace_id,) = {recorder.record(cf.speech_started("c1", utterance_id="u0", stream_ms=0)).trace_id}
    tts_parent = f"00-{trace_id}-{'ab' * 8}-01".encode()
    turn_spans.expect_playback("c1", "u1:reply", tts_parent)
    _turn(recorder)
    assert len(trace_id) == 32 and {r.trace_id for r in out.records} == {trace_id}
    utterance, playback = spans.get_finished_spans()
    assert utterance.name == "utterance" and utterance.parent is None
    assert f"{utterance.context.trace_id:032x}" == trace_id
    assert utterance.attributes is not None and utterance.attributes["sentiric.utterance_id"] == "u1"
    assert utterance.attributes["sentiric.utterance.speech_ms"] == 800
    captured_headers = out.headers[2]  # u0's onset, u1's onset, u1 captured
    assert captured_headers == tracing.headers_of(_as_span(utterance))
    assert playback.name == "playback" and playback.parent is not None
    assert playback.parent.span_id == int("ab" * 8, 16) and playback.context.trace_id == int(trace_id, 16)
    assert playback.attributes is not None and playback.attributes["sentiric.playback.played_ms"] == 1200
    assert out.headers[3:] == [(), ()]  # playback facts start nothing downstream


def test_forget_ends_an_open_playback_and_a_new_call_gets_a_new_trace(spans: InMemorySpanExporter) -> None:
    out = ListPublisher()
    recorder = FactRecorder(out, "edge-1")
    first = recorder.record(cf.playback_started("c2", playback_id="p", duration_ms=10)).trace_id
    recorder.forget("c2")
    (playback,) = spans.get_finished_spans()
    assert playback.name == "playback" and playback.parent is None  # a prompt of the edge's own
    assert recorder.record(cf.speech_started("c2", utterance_id="u", stream_ms=0)).trace_id != first


def _as_span(done: ReadableSpan) -> Span:
    """A finished span as the API type `headers_of` takes (it reads only the span context)."""
    assert done.context is not None
    return NonRecordingSpan(done.context)


def test_a_callers_traceparent_makes_the_call_part_of_the_callers_trace(spans: InMemorySpanExporter) -> None:
    out = ListPublisher()
    recorder = FactRecorder(out, "edge-1")
    caller_trace, caller_span = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    recorder.continue_trace("c1", f"00-{caller_trace}-{caller_span}-01")
    recorder.continue_trace("c9", "00-not-a-traceparent")  # malformed: a trace of its own
    _turn(recorder)
    assert {r.trace_id for r in out.records} == {caller_trace}
    utterance, playback = spans.get_finished_spans()
    for done in (utterance, playback):  # no PlayAudio named a parent: the caller's span is it
        assert f"{done.context.trace_id:032x}" == caller_trace
        assert done.parent is not None and done.parent.span_id == int(caller_span, 16)
    other = recorder.record(cf.speech_started("c9", utterance_id="u", stream_ms=0))
    assert len(other.trace_id) == 32 and other.trace_id != caller_trace


def test_a_callers_traceparent_is_ignored_with_tracing_off() -> None:
    out = ListPublisher()
    recorder = FactRecorder(out, "edge-1")
    recorder.continue_trace("c1", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    _turn(recorder)
    assert {r.trace_id for r in out.records} == {"c1"}


def test_a_pause_chunk_gets_a_span_from_the_onset_and_the_utterance_still_gets_its_own(
    spans: InMemorySpanExporter,
) -> None:
    out = ListPublisher()
    recorder = FactRecorder(out, "edge-1")
    recorder.record(cf.speech_started("c1", utterance_id="u1", stream_ms=100))
    chunk = {"utterance_id": "u1", "sample_rate": 8000, "pcm": b"\0\0" * 80, "start_ms": 100, "end_ms": 500}
    recorder.record(cf.utterance_chunk_captured("c1", index=0, **chunk))  # a plain partial's: no span
    recorder.record(cf.utterance_chunk_captured("c1", index=1, pause=True, **chunk))
    recorder.record(
        cf.utterance_captured(
            "c1", utterance_id="u1", sample_rate=8000, pcm=b"\0\0" * 80, start_ms=100, end_ms=900
        )
    )
    pause, utterance = spans.get_finished_spans()
    assert (pause.name, utterance.name) == ("pause", "utterance")
    assert pause.attributes is not None and pause.attributes["sentiric.utterance_id"] == "u1"
    assert pause.start_time == utterance.start_time  # both from the caller's onset
    assert pause.end_time is not None and utterance.end_time is not None
    assert pause.end_time <= utterance.end_time
    assert out.headers[1] == () and out.headers[2] == tracing.headers_of(_as_span(pause))
    assert out.headers[3] == tracing.headers_of(_as_span(utterance))
