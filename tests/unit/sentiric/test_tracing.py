"""sentiric.tracing on the SDK's in-memory exporter: off by default, spans in the call's trace, parents
carried as ``traceparent`` record headers."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sentiric import tracing
from sentiric.settings import Settings


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.shutdown()


def test_off_by_default_no_span_and_no_header(monkeypatch: pytest.MonkeyPatch) -> None:
    variables = (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "SENTIRIC_OTEL_ENDPOINT",
    )
    for name in variables:
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert tracing.endpoint(settings) is None
    assert tracing.configure(settings, "sentiric-test") is False
    assert not tracing.enabled()
    assert tracing.start_span("stt", "call-1") is None
    assert tracing.headers_of(None) == ()
    # no exporter: no batch processor's thread, and OpenTelemetry's global provider untouched (no-op)
    assert not _exporter_threads()
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


def test_endpoint_from_settings_or_the_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert tracing.endpoint(Settings()) == "http://collector:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other:4318/x")
    assert tracing.endpoint(Settings()) == "http://other:4318/x"
    ours = Settings(otel_endpoint="http://127.0.0.1:4318")
    assert tracing.endpoint(ours) == "http://127.0.0.1:4318/v1/traces"


def test_configure_installs_an_exporter_and_shutdown_turns_it_off() -> None:
    assert tracing.configure(Settings(otel_endpoint="http://127.0.0.1:9"), "sentiric-test")
    try:
        assert tracing.enabled() and _exporter_threads()
    finally:
        tracing.shutdown()
    assert not tracing.enabled()


def test_a_root_span_takes_the_calls_trace_id(spans: InMemorySpanExporter) -> None:
    trace_id = tracing.new_trace_id()
    assert len(trace_id) == 32 and int(trace_id, 16)
    span = tracing.start_span("utterance", trace_id, attributes={"call.id": "c1", "none": None})
    assert span is not None
    span.end()
    (done,) = spans.get_finished_spans()
    assert done.name == "utterance" and done.parent is None
    assert f"{done.context.trace_id:032x}" == trace_id
    assert dict(done.attributes or {}) == {"call.id": "c1"}


def test_a_child_joins_its_parent_through_the_header(spans: InMemorySpanExporter) -> None:
    trace_id = tracing.new_trace_id()
    parent = tracing.start_span("utterance", trace_id, start_ns=1_000)
    assert parent is not None
    parent.end(end_time=2_000)
    headers = tracing.headers_of(parent)
    assert [k for k, _ in headers] == ["traceparent"]
    child = tracing.start_span("stt", trace_id, parent=tracing.parent_in(headers))
    assert child is not None
    child.end()
    first, second = spans.get_finished_spans()
    assert second.parent is not None and second.parent.span_id == first.context.span_id
    assert second.context.trace_id == first.context.trace_id
    assert (first.start_time, first.end_time) == (1_000, 2_000)


def test_a_parent_of_another_trace_or_a_bad_header_gives_a_root(spans: InMemorySpanExporter) -> None:
    other = tracing.start_span("x", tracing.new_trace_id())
    assert other is not None
    other.end()
    mine = tracing.new_trace_id()
    for parent in (tracing.traceparent(other), b"garbage", b"00-" + b"0" * 32 + b"-" + b"1" * 16 + b"-01"):
        span = tracing.start_span("stt", mine, parent=parent)
        assert span is not None
        span.end()
    for done in spans.get_finished_spans()[1:]:
        assert done.parent is None and f"{done.context.trace_id:032x}" == mine


def test_a_call_id_as_trace_id_gives_one_stable_trace() -> None:
    assert tracing.trace_id_of("call-42") == tracing.trace_id_of("call-42") != tracing.trace_id_of("call-43")
    assert tracing.trace_id_of("ab" * 16) == int("ab" * 16, 16)


def test_parent_in_reads_pairs_and_mappings() -> None:
    value = b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"
    assert tracing.parent_in([("x", b"1"), ("traceparent", value)]) == value
    assert tracing.parent_in({"traceparent": value}) == value
    assert tracing.parent_in(None) is None and tracing.parent_in([]) is None
    ctx = tracing.parse_traceparent(value)
    assert ctx is not None and ctx.is_remote and ctx.span_id == int("b" * 16, 16)


def _exporter_threads() -> list[threading.Thread]:
    """The SDK batch processor's export threads (`OtelBatchSpanRecordProcessor`)."""
    return [t for t in threading.enumerate() if t.name.startswith("OtelBatch") and t.is_alive()]
