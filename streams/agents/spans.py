"""The workers' spans of a turn (`sentiric.tracing`): ``stt``, ``dialog`` and ``tts``.

Each stage's span is made when its fact is ready, from the time its work started, under the span the
input record's ``traceparent`` header names (the edge's ``utterance`` for ``stt``, then each stage's
for the next), and returns the header its output record carries. The dialog reducer's own records and
commands carry their input's header on (`passed_on`): a `PlayAudio` made from a `SpeechSynthesized`
names the ``tts`` span, so the edge's ``playback`` span joins the trace under it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.trace import Status, StatusCode

from sentiric import tracing

InHeaders = Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None


def started() -> int:
    """The wall-clock start of a stage's work, when tracing is on (0 otherwise: no clock read)."""
    return time.time_ns() if tracing.enabled() else 0


def stage(name: str, out: Any, headers: InHeaders, start_ns: int) -> tracing.Headers:
    """Record the finished stage `name` that produced the fact `out` (its envelope names the call and
    trace); returns the headers `out` is published with. () with tracing off."""
    if not tracing.enabled():
        return ()
    span = tracing.start_span(
        name,
        out.trace_id,
        parent=tracing.parent_in(headers),
        start_ns=start_ns or None,
        attributes={
            "sentiric.call_id": out.call_id,
            "sentiric.utterance_id": getattr(out, "utterance_id", None),
            "sentiric.reply_id": getattr(out, "reply_id", None),
            "sentiric.language": getattr(out, "language", None),
            "sentiric.engine": getattr(out, "engine", None),
            "sentiric.latency_ms": getattr(out, "latency_ms", None),
            "sentiric.source": out.source,
        },
    )
    if span is None:
        return ()
    span.end()
    return tracing.headers_of(span)


def failed(name: str, cause: Any, headers: InHeaders, start_ns: int, error: Exception) -> None:
    """The stage `name` failed on `cause` (an `EngineError`: the dialog reprompts): its span, in error,
    still shows where the turn's time went."""
    if not tracing.enabled():
        return
    span = tracing.start_span(
        name,
        cause.trace_id,
        parent=tracing.parent_in(headers),
        start_ns=start_ns or None,
        attributes={
            "sentiric.call_id": cause.call_id,
            "sentiric.utterance_id": getattr(cause, "utterance_id", None),
        },
    )
    if span is not None:
        span.set_status(Status(StatusCode.ERROR, str(error)))
        span.end()


def passed_on(headers: InHeaders) -> tracing.Headers:
    """The input's ``traceparent``, for what the dialog reducer makes of it. () with tracing off."""
    if not tracing.enabled():
        return ()
    parent = tracing.parent_in(headers)
    return () if parent is None else ((tracing.TRACEPARENT, parent),)
