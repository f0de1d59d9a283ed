"""OpenTelemetry traces of a call's turns: off by default, exported over OTLP/HTTP when configured.

Off (the default) no SDK provider is installed and no exporter runs: `enabled()` is one global read, the
callers skip all span work behind it, and no record gets a header. On when `otel_endpoint`
(``SENTIRIC_OTEL_ENDPOINT``) or the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set: each process (`configure(settings, service)`) then
installs the official SDK's `TracerProvider` with a batching OTLP/HTTP exporter (a client only:
nothing listens). ``OTEL_SERVICE_NAME`` overrides the service name, ``OTEL_EXPORTER_OTLP_HEADERS``
adds headers (a collector's token), ``OTEL_TRACES_SAMPLER`` picks a sampler, as the SDK reads them.

One trace per call. Its id is the call's `trace_id` (the envelope field every fact carries): with
tracing on the edge chooses a W3C trace id (32 hex digits) for each new call instead of the call id
(`new_trace_id`). A span of one stage names its parent span in the Kafka record it publishes, as a
W3C ``traceparent`` record header (the OpenTelemetry messaging convention), so the next stage — in
another process, after the log — starts its span under it in the same trace. A fact whose trace id is
not 32 hex digits (a call begun with tracing off) still gets one trace, the id derived from the text.

The spans are the stages of a turn (edge ``utterance`` → worker ``stt`` → ``dialog`` → ``tts`` →
edge ``playback``): a few per turn, never per packet. They are built after the fact from the times
the stage measured (`start_span`'s `start_ns`), so no span is held open across an await.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, TraceFlags

from sentiric.settings import Settings

TRACEPARENT: Final = "traceparent"
"""The record header that carries the parent span (W3C Trace Context, version 00)."""
_TRACEPARENT_RE: Final = re.compile(rb"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_HEX32_RE: Final = re.compile(r"^[0-9a-f]{32}$")
INSTRUMENTATION: Final = "sentiric"

Headers = tuple[tuple[str, bytes], ...]

_tracer: trace.Tracer | None = None
_provider: TracerProvider | None = None
_root_trace_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("_root_trace_id", default=None)


class _CallTraceIds(RandomIdGenerator):
    """Random ids, but the trace id of a root span is the call's (set around `start_span`)."""

    def generate_trace_id(self) -> int:
        wanted = _root_trace_id.get()
        return wanted if wanted is not None else super().generate_trace_id()


def endpoint(settings: Settings) -> str | None:
    """The OTLP/HTTP traces URL this process exports to, or None: tracing off."""
    if settings.otel_endpoint:
        return settings.otel_endpoint.rstrip("/") + "/v1/traces"
    if traces := os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return traces
    if base := os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return base.rstrip("/") + "/v1/traces"
    return None


def configure(settings: Settings, service: str) -> bool:
    """Install the SDK with an OTLP/HTTP exporter when an endpoint is configured; True when on."""
    url = endpoint(settings)
    if url is None:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or service
    resource = Resource.create({"service.name": name, "service.instance.id": settings.node_id})
    install(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)), resource=resource)
    return True


def install(processor: SpanProcessor, *, resource: Resource | None = None) -> TracerProvider:
    """Turn tracing on with `processor` (an exporter's; tests pass the SDK's in-memory exporter's)."""
    global _tracer, _provider
    shutdown()
    provider = TracerProvider(resource=resource or Resource.create({}), id_generator=_CallTraceIds())
    provider.add_span_processor(processor)
    _provider, _tracer = provider, provider.get_tracer(INSTRUMENTATION)
    return provider


def shutdown() -> None:
    """Export what is pending and turn tracing off (a process's end; between tests)."""
    global _tracer, _provider
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def enabled() -> bool:
    return _tracer is not None


def new_trace_id() -> str:
    """A fresh W3C trace id, 32 lower-case hex digits."""
    return f"{RandomIdGenerator().generate_trace_id():032x}"


def trace_id_of(text: str) -> int:
    """The OpenTelemetry trace id of a fact's `trace_id`: itself when 32 hex digits, else derived."""
    if _HEX32_RE.match(text) and int(text, 16):
        return int(text, 16)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=16).digest(), "big") or 1


def parse_traceparent(value: bytes | str | None) -> SpanContext | None:
    """The remote parent a ``traceparent`` names, or None when absent or malformed (never raises:
    a header is wire input)."""
    if value is None:
        return None
    raw = value.encode() if isinstance(value, str) else value
    found = _TRACEPARENT_RE.match(raw.strip())
    if found is None:
        return None
    trace_id, span_id = int(found[1], 16), int(found[2], 16)
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(found[3], 16)))


def traceparent(span: Span) -> bytes:
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}".encode()


def headers_of(span: Span | None) -> Headers:
    """The record headers that make `span` the parent of the next stage's."""
    return () if span is None else ((TRACEPARENT, traceparent(span)),)


def parent_in(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None) -> bytes | None:
    """The ``traceparent`` of a Kafka record's headers (aiokafka: a sequence of pairs; Faust: either)."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in pairs:
        if key == TRACEPARENT and isinstance(value, bytes):
            return value
    return None


def start_span(
    name: str,
    trace_id: str,
    *,
    parent: bytes | str | None = None,
    start_ns: int | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Span | None:
    """Start a span of the call whose fact `trace_id` is given, under `parent` (a ``traceparent``)
    when that names a span of the same trace, else as a root of the call's trace. None when tracing is
    off. The caller ends it (`span.end()`)."""
    tracer = _tracer
    if tracer is None:
        return None
    wanted = trace_id_of(trace_id)
    remote = parse_traceparent(parent)
    attrs = {k: v for k, v in (attributes or {}).items() if v is not None}
    if remote is not None and remote.trace_id == wanted:
        context = trace.set_span_in_context(NonRecordingSpan(remote))
        return tracer.start_span(name, context=context, start_time=start_ns, attributes=attrs)
    token = _root_trace_id.set(wanted)
    try:  # an empty context: a root span, whose trace id the generator takes from the call
        return tracer.start_span(name, context=Context(), start_time=start_ns, attributes=attrs)
    finally:
        _root_trace_id.reset(token)
