"""What traces cost per turn (sentiric.tracing): the edge's facts of a turn through the recorder and the
workers' three stage spans, with tracing off (the default) and on.

.venv/bin/python bench/tracing_bench.py [--turns N]

A turn here is what tracing touches: the edge records SpeechStarted, UtteranceCaptured (its
``utterance`` span), PlaybackStarted and PlaybackFinished (``playback``), and the worker makes its
``stt``, ``dialog`` and ``tts`` spans (`streams.agents.spans.stage`) and carries a header on
(`passed_on`). "on" is the SDK with its batching processor and an exporter that drops the batches (the
network is the collector's cost, spent on the processor's thread, not on the call's path). The RTP
path has no tracing at all, so per-packet cost is unchanged and not measured here.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from edge import call_facts as cf
from edge.facts import FactRecorder, ListPublisher
from schemas import models as m
from sentiric import tracing
from streams.agents import spans


class Dropping(SpanExporter):
    def __init__(self) -> None:
        self.exported = 0

    def export(self, batch: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exported += len(batch)
        return SpanExportResult.SUCCESS


def _worker_fact(cls: type, call_id: str, trace_id: str, **fields: object) -> object:
    from datetime import UTC, datetime
    from uuid import uuid4

    return cls(
        event_id=uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC), source="stt",
        trace_id=trace_id, **fields,
    )  # fmt: skip


def run(turns: int) -> float:
    """Microseconds per turn."""
    out = ListPublisher()
    recorder = FactRecorder(out, "edge-1")
    pcm = b"\0\0" * 16000
    start = time.perf_counter()
    for i in range(turns):
        call_id = f"call-{i % 50}"
        u = f"u{i}"
        recorder.record(cf.speech_started(call_id, utterance_id=u, stream_ms=100))
        captured = recorder.record(
            cf.utterance_captured(
                call_id, utterance_id=u, sample_rate=16000, pcm=pcm, start_ms=100, end_ms=1100
            )
        )
        headers = out.headers[-1]
        began = spans.started()
        heard = _worker_fact(
            m.UtteranceTranscribed, call_id, captured.trace_id, utterance_id=u, text="hello",
            language="en-US", confidence=None, is_final=True, engine="whisper", latency_ms=1.0,
        )  # fmt: skip
        headers = spans.stage("stt", heard, headers, began)
        headers = spans.stage("dialog", heard, headers, spans.started())
        headers = spans.stage("tts", heard, headers, spans.started())
        spans.passed_on(headers)
        recorder.record(cf.playback_started(call_id, playback_id=f"{u}:reply", duration_ms=900))
        recorder.record(
            cf.playback_finished(
                call_id, playback_id=f"{u}:reply", interrupted=False, played_ms=900, duration_ms=900
            )
        )
        if i % 50 == 49:
            recorder.forget(call_id)
            out.records.clear()
            out.headers.clear()
    return (time.perf_counter() - start) / turns * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=20_000)
    args = parser.parse_args()
    run(1000)  # warm up
    off = run(args.turns)
    exporter = Dropping()
    tracing.install(BatchSpanProcessor(exporter, max_queue_size=65536))
    try:
        run(1000)
        on = run(args.turns)
    finally:
        tracing.shutdown()
    print(f"turns: {args.turns}")
    print(f"tracing off: {off:8.1f} µs per turn (4 edge facts + 3 worker stages)")
    print(f"tracing on:  {on:8.1f} µs per turn (5 spans), +{on - off:.1f} µs")
    print(f"spans exported: {exporter.exported}")


if __name__ == "__main__":
    main()
