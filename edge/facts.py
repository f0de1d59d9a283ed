"""How the edge records facts: one recorder makes them safe, stamps the envelope and publishes.

Everything in the edge that observes something about a call — the SIP core, the media sessions, the
WebSocket gateway — builds the fact with its typed function in :mod:`edge.call_facts` and hands it
to `FactRecorder.record(fact)` (the sans-IO engines return it as ``edge.effects.Emit(fact)`` and their
drivers record it).  The recorder fills the envelope (event id, per-call seq, time, node id, trace
id, tenant) here and nowhere else.  A call's tenant is told once (`FactRecorder.set_tenant`, when the
SIP core has resolved the INVITE, a /ws session its dialplan, an outbound call its command) and every
fact of the call carries it from then on, whichever part of the edge records it.  Publishing never
blocks: the producer buffers (see `sentiric.eventlog.producer`).

With tracing on (`sentiric.tracing`) a call's trace id is a W3C trace id, chosen at its first fact (or
a /ws client's own, `continue_trace`), instead of the call id; the turn's edge spans are made from the
facts here (`edge.turn_spans`), and an `UtteranceCaptured` goes out with its span's ``traceparent``
record header, the parent of the worker's ``stt`` span.

`record` is also the one door wire text passes on its way to the log, so it is guarded here and no
call site can forget it: every SDP field (``sdp_*``) has its SRTP keys scrubbed (`edge.redact`),
every ``raw`` / ``raw_*`` bytes copy of a SIP message has its keys and credentials scrubbed and is
bounded, and every text field is made safe — no NUL, no lone surrogate, controls escaped, bounded per
field (`schemas.wiretext`).
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any, Protocol, TypeVar

from opentelemetry.trace import NonRecordingSpan

from edge.redact import scrub_raw, scrub_sdp
from edge.turn_spans import TurnSpans
from schemas.envelope import DEFAULT_TENANT, CallSequencer, envelope
from schemas.wiretext import safe_field
from sentiric import tracing

ENVELOPE_FIELDS = frozenset({"event_id", "call_id", "seq", "occurred_at", "source", "trace_id", "tenant"})


class CallFact(Protocol):
    """A call fact as :mod:`edge.call_facts` builds it (any ``schemas.models`` event of a call)."""

    @property
    def call_id(self) -> str: ...


F = TypeVar("F", bound=CallFact)


class Publisher(Protocol):
    """What the recorder needs from a producer (`EventProducer` satisfies it; tests pass a list)."""

    def publish(
        self, record: Any, *, topic: str = ..., key: str | None = ..., headers: tracing.Headers = ...
    ) -> None: ...


class FactSink(Protocol):
    """Where a built fact goes: :class:`FactRecorder`, or a stand-in in tests and benches."""

    def record(self, fact: F) -> F: ...


@cache
def _own_fields(model: type[Any]) -> tuple[str, ...]:
    """The fields of ``model`` a fact carries itself (all but the envelope), in declaration order."""
    return tuple(f.name for f in dataclasses.fields(model) if f.name not in ENVELOPE_FIELDS)


def own_fields(fact: CallFact) -> dict[str, Any]:
    """A fact's own fields by name (its envelope left out): what its builder was given, defaults too."""
    return {name: getattr(fact, name) for name in _own_fields(type(fact))}


class FactRecorder:
    """Stamps and publishes one node's call facts. `forget(call_id)` after the call's last fact."""

    def __init__(self, publisher: Publisher, node_id: str) -> None:
        self._publisher = publisher
        self._node_id = node_id
        self._seq = CallSequencer()
        self._trace: dict[str, str] = {}
        self._tenant: dict[str, str] = {}  # calls of a tenant other than the default
        self._spans = TurnSpans()  # used only while tracing is on (sentiric.tracing)

    @property
    def node_id(self) -> str:
        return self._node_id

    def set_trace(self, call_id: str, trace_id: str) -> None:
        self._trace[call_id] = trace_id

    def set_tenant(self, call_id: str, tenant: str) -> None:
        """The call belongs to ``tenant``: every fact recorded for it from now on carries it."""
        if tenant == DEFAULT_TENANT:
            self._tenant.pop(call_id, None)
        else:
            self._tenant[call_id] = tenant

    def tenant(self, call_id: str) -> str:
        """The tenant the call's facts carry (the default until told otherwise)."""
        return self._tenant.get(call_id, DEFAULT_TENANT)

    def continue_trace(self, call_id: str, traceparent: str | bytes | None) -> None:
        """Before the call's first fact, with tracing on: a caller's ``traceparent`` (W3C) makes the
        call part of the caller's trace. Absent or malformed: the call gets a trace of its own."""
        parent = tracing.parse_traceparent(traceparent) if tracing.enabled() else None
        if parent is None:
            return
        self._trace[call_id] = f"{parent.trace_id:032x}"
        self._spans.join(call_id, tracing.traceparent(NonRecordingSpan(parent)))

    def record(self, fact: F) -> F:
        """Record ``fact`` (built, unstamped): its text made safe, its envelope filled; the stamped
        record, as published, is returned."""
        fields: dict[str, Any] = {}
        for name in _own_fields(type(fact)):
            value = getattr(fact, name)
            if type(value) is str:
                value = safe_field(name, scrub_sdp(value) if name.startswith("sdp_") else value)
            elif type(value) is bytes and (name == "raw" or name.startswith("raw_")):
                value = scrub_raw(value)
            fields[name] = value
        call_id = fact.call_id
        tracing_on = tracing.enabled()
        if tracing_on and call_id not in self._trace:
            # the call's first fact (its INVITE): its trace is a W3C trace id, not the call id
            self._trace[call_id] = tracing.new_trace_id()
        # merged into the untyped field dict: the model is only known at run time here, so there is no
        # constructor signature to check the typed envelope against (call_facts checked the fields)
        fields.update(
            envelope(
                call_id,
                seq=self._seq.next(call_id),
                source=self._node_id,
                trace_id=self._trace.get(call_id, call_id),
                tenant=self._tenant.get(call_id, DEFAULT_TENANT),
            )
        )
        record = type(fact)(**fields)
        headers = self._spans.observe(record) if tracing_on else ()
        if headers:  # a stage's span: the next stage's parent, as a record header
            self._publisher.publish(record, headers=headers)
        else:
            self._publisher.publish(record)
        return record

    def forget(self, call_id: str) -> None:
        self._seq.forget(call_id)
        self._trace.pop(call_id, None)
        self._tenant.pop(call_id, None)
        self._spans.forget(call_id)


class ListPublisher:
    """A publisher that keeps records in a list: for unit tests of pure logic."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.headers: list[tracing.Headers] = []

    def publish(
        self,
        record: Any,
        *,
        topic: str = "sentiric.calls",
        key: str | None = None,
        headers: tracing.Headers = (),
    ) -> None:
        self.records.append(record)
        self.headers.append(headers)
