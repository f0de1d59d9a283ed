"""The edge's spans of a turn, made from the facts it records (with tracing on: `sentiric.tracing`).

- ``utterance``: from the caller's speech onset (`SpeechStarted`) to the utterance captured
  (`UtteranceCaptured`, the endpointer's end-of-speech silence included). Its ``traceparent`` goes on the
  `UtteranceCaptured` record, so the worker's ``stt`` span is its child.
- ``pause``: from the caller's speech onset to the pause chunk (`UtteranceChunkCaptured.pause`: the
  caller silent ``vad_pause_ms`` mid-utterance). Its ``traceparent`` goes on the chunk, so the worker's
  ``stt`` of it is its child, then the ``dialog`` of the early turn answering it (the answer prepared at
  the pause; the ``utterance`` span still follows when the utterance ends).
- ``playback``: from `PlaybackStarted` to `PlaybackFinished` of one playback, under the span named in
  the ``traceparent`` header of the `PlayAudio` command that asked for it (the worker's ``tts``; the
  command consumer hands it over with `expect_playback`). A prompt the edge plays on its own has none
  and starts a root span of the call's trace.

A client may bring its own trace: a ``traceparent`` on the /ws upgrade request makes the call's trace
id its trace id, and its span the parent of the turns' first spans (`FactRecorder.continue_trace`).

The facts come from the recorder (`edge.facts.FactRecorder`), once per fact of a turn — never per RTP
packet. Per call it keeps the onset times and the open playback spans until the call is forgotten;
every map is bounded, so calls that are never forgotten cannot grow it without limit.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from opentelemetry.trace import Span

from schemas import models as m
from sentiric import tracing

MAX_ENTRIES: Final = 4096
"""Bound of each map: onsets, open playbacks, parents of commanded playbacks."""

_parents: OrderedDict[tuple[str, str], bytes] = OrderedDict()


def _bounded_put(table: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > MAX_ENTRIES:
        old = table.popitem(last=False)[1]
        if isinstance(old, Span):
            old.end()  # a playback whose end the edge never recorded: export what it has


def expect_playback(call_id: str, playback_id: str, parent: bytes | None) -> None:
    """The command consumer saw a `PlayAudio` whose record named `parent` (a ``traceparent``): the
    playback's span will be its child. Process-wide: the consumer and the recorder do not know each
    other, and a playback id names one playback of one call."""
    if parent is not None:
        _bounded_put(_parents, (call_id, playback_id), parent)


class TurnSpans:
    """The spans of one edge's turns. `observe(record)` for every stamped fact; it returns the record
    headers to publish the fact with (its span as the next stage's parent), () for most facts."""

    def __init__(self, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self._clock_ns = clock_ns
        self._onsets: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._playing: OrderedDict[tuple[str, str], Span] = OrderedDict()
        self._callers: OrderedDict[str, bytes] = OrderedDict()

    def join(self, call_id: str, traceparent: bytes) -> None:
        """The call continues a caller's trace (a ``traceparent`` its client sent): the turns' first
        spans become children of the caller's span instead of roots."""
        _bounded_put(self._callers, call_id, traceparent)

    def observe(self, record: Any) -> tracing.Headers:
        if isinstance(record, m.SpeechStarted):
            _bounded_put(self._onsets, (record.call_id, record.utterance_id), self._clock_ns())
        elif isinstance(record, m.UtteranceCaptured):
            return tracing.headers_of(self._utterance(record))
        elif isinstance(record, m.UtteranceChunkCaptured) and record.pause:
            return tracing.headers_of(self._pause(record))
        elif isinstance(record, m.PlaybackStarted):
            self._playback_started(record)
        elif isinstance(record, m.PlaybackFinished):
            span = self._playing.pop((record.call_id, record.playback_id), None)
            if span is not None:
                span.set_attributes(
                    {
                        "sentiric.playback.played_ms": record.played_ms,
                        "sentiric.playback.interrupted": record.interrupted,
                        "sentiric.playback.reason": record.reason,
                    }
                )
                span.end()
        return ()

    def _utterance(self, record: m.UtteranceCaptured) -> Span | None:
        now = self._clock_ns()
        onset = self._onsets.pop((record.call_id, record.utterance_id), None)
        speech_ms = max(0, record.end_ms - record.start_ms)
        if onset is None:  # typed text, or an onset recorded before tracing was on
            onset = now - speech_ms * 1_000_000
        span = tracing.start_span(
            "utterance",
            record.trace_id,
            parent=self._callers.get(record.call_id),
            start_ns=onset,
            attributes={
                "sentiric.call_id": record.call_id,
                "sentiric.utterance_id": record.utterance_id,
                "sentiric.node": record.source,
                "sentiric.utterance.speech_ms": speech_ms,
                "sentiric.utterance.end_reason": record.end_reason,
                "sentiric.utterance.typed": record.text is not None,
            },
        )
        if span is not None:
            span.end(end_time=now)
        return span

    def _pause(self, record: m.UtteranceChunkCaptured) -> Span | None:
        now = self._clock_ns()
        onset = self._onsets.get((record.call_id, record.utterance_id))  # the utterance's span needs it too
        span = tracing.start_span(
            "pause",
            record.trace_id,
            parent=self._callers.get(record.call_id),
            start_ns=onset if onset is not None else now,
            attributes={
                "sentiric.call_id": record.call_id,
                "sentiric.utterance_id": record.utterance_id,
                "sentiric.node": record.source,
                "sentiric.chunk.index": record.index,
            },
        )
        if span is not None:
            span.end(end_time=now)
        return span

    def _playback_started(self, record: m.PlaybackStarted) -> None:
        key = (record.call_id, record.playback_id)
        span = tracing.start_span(
            "playback",
            record.trace_id,
            parent=_parents.pop(key, None) or self._callers.get(record.call_id),
            start_ns=self._clock_ns(),
            attributes={
                "sentiric.call_id": record.call_id,
                "sentiric.playback_id": record.playback_id,
                "sentiric.node": record.source,
                "sentiric.playback.duration_ms": record.duration_ms,
            },
        )
        if span is not None:
            _bounded_put(self._playing, key, span)

    def forget(self, call_id: str) -> None:
        """The call is over: its open playbacks end (exported as they are), its onsets go."""
        self._callers.pop(call_id, None)
        for key in [k for k in self._playing if k[0] == call_id]:
            self._playing.pop(key).end()
        for key in [k for k in self._onsets if k[0] == call_id]:
            del self._onsets[key]
        for key in [k for k in _parents if k[0] == call_id]:
            del _parents[key]
