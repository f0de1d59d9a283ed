"""How the edge records facts: stamp the envelope (per-call seq, node id, trace id) and publish.

Everything in the edge that observes something about a call — the SIP core, the media sessions, the
WebSocket gateway — calls `FactRecorder.emit(call_id, Model, **fields)`. Publishing never blocks: the
producer buffers (see `sentiric.eventlog.producer`).

`emit` is also the one door wire text passes on its way to the log, so it is guarded here and no call
site can forget it: every SDP field (``sdp_*``) has its SRTP keys scrubbed (`edge.redact`), every
``raw_*`` bytes copy of a SIP message is scrubbed and bounded, and every text field is made safe —
no NUL, no lone surrogate, controls escaped, bounded per field (`schemas.wiretext`).
"""

from __future__ import annotations

from typing import Any, Protocol

from edge.redact import scrub_raw, scrub_sdp
from schemas.envelope import CallSequencer, envelope
from schemas.wiretext import safe_field


class Publisher(Protocol):
    """What the recorder needs from a producer (`EventProducer` satisfies it; tests pass a list)."""

    def publish(self, record: Any, *, topic: str = ..., key: str | None = ...) -> None: ...


class FactSink(Protocol):
    def emit(self, call_id: str, model: type[Any], **fields: Any) -> Any: ...


class FactRecorder:
    """Stamps and publishes one node's call facts. `forget(call_id)` after the call's last fact."""

    def __init__(self, publisher: Publisher, node_id: str) -> None:
        self._publisher = publisher
        self._node_id = node_id
        self._seq = CallSequencer()
        self._trace: dict[str, str] = {}

    @property
    def node_id(self) -> str:
        return self._node_id

    def set_trace(self, call_id: str, trace_id: str) -> None:
        self._trace[call_id] = trace_id

    def emit(self, call_id: str, model: type[Any], **fields: Any) -> Any:
        for name, value in fields.items():
            if type(value) is str:
                fields[name] = safe_field(name, scrub_sdp(value) if name.startswith("sdp_") else value)
            elif type(value) is bytes and name.startswith("raw_"):
                fields[name] = scrub_raw(value)
        record = model(
            **envelope(
                call_id,
                seq=self._seq.next(call_id),
                source=self._node_id,
                trace_id=self._trace.get(call_id, call_id),
            ),
            **fields,
        )
        self._publisher.publish(record)
        return record

    def forget(self, call_id: str) -> None:
        self._seq.forget(call_id)
        self._trace.pop(call_id, None)


class ListPublisher:
    """A publisher that keeps records in a list: for unit tests of pure logic."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def publish(self, record: Any, *, topic: str = "sentiric.calls", key: str | None = None) -> None:
        self.records.append(record)
