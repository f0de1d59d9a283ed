"""Traces of real turns (sentiric.tracing): a typed and a spoken question over /ws on a real broker, a
streams worker subprocess and the gateway in this process, both exporting over OTLP/HTTP to a receiver
in this test that decodes the `ExportTraceServiceRequest` protobufs (opentelemetry-proto).

The turn's spans — edge ``utterance`` → worker ``stt`` → ``dialog`` → ``tts`` → edge ``playback`` —
share the call's trace id, each under the one before it (the parents cross the log as ``traceparent``
record headers), and every fact of the call carries that trace id in its envelope."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from websockets.asyncio.client import connect

from edge.facts import FactRecorder
from edge.ws import protocol as p
from edge.ws.server import WebService
from schemas import models as m
from schemas.codec import decode
from sentiric import tracing
from sentiric.eventlog import topics
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.producer import EventProducer
from sentiric.settings import Settings
from tests.support.otlp import ReceivedSpan, Receiver, otlp_receiver

ROOT = Path(__file__).parents[3]
NODE = "edge-trace-it"
TOKEN = "trace-it-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WAIT_S = 180.0
SPEECH = ROOT / "tests" / "fixtures" / "speech" / "opening_hours_16k.wav"


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    async with otlp_receiver() as running:
        yield running


async def _wait(predicate: Callable[[], Any], what: str, alive: Callable[[], bool]) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not (value := predicate()):
        if not alive():
            raise AssertionError(f"the worker died waiting for {what}")
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)
    return value


async def _call_records(bootstrap: str, call_id: str) -> list[tuple[Any, dict[str, bytes]]]:
    """The call's records on the call topic, decoded, with their headers."""
    consumer = AIOKafkaConsumer(
        topics.CALLS, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
        out = []
        for records in batches.values():
            for r in records:
                fact = decode(r.value)
                if getattr(fact, "call_id", None) == call_id:
                    out.append((fact, dict(r.headers)))
        return out
    finally:
        await consumer.stop()


def _question_pcm() -> bytes:
    with wave.open(str(SPEECH)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (16000, 2, 1)
        return w.readframes(w.getnframes())


async def _turn(
    port: int, headers: dict[str, str], alive: Callable[[], bool], *, spoken: bool = False
) -> tuple[str, Any, Any]:
    """One /ws call: the greeting played, a question (typed, or `spoken`: audio in real time), its
    answer played, hang-up. Returns the call id, the greeting and the answer (`p.Reply`)."""
    messages: list[Any] = []
    url = f"ws://127.0.0.1:{port}/ws?caller=trace-it&to=help"
    async with connect(url, additional_headers={**AUTH, **headers}) as ws:
        call_id = p.SessionInfo.parse(await ws.recv()).call_id

        async def read() -> None:
            async for frame in ws:
                if isinstance(frame, str):
                    messages.append(p.parse_server(frame))

        reader = asyncio.create_task(read())

        def find(kind: type[Any], **fields: Any) -> Any:
            return next(
                (
                    x
                    for x in messages
                    if isinstance(x, kind) and all(getattr(x, k) == v for k, v in fields.items())
                ),
                None,
            )

        greeting = await _wait(lambda: find(p.Reply), "the greeting", alive)
        await _wait(
            lambda: find(p.PlaybackEvent, playback_id=greeting.reply_id, event="finished"), "greeted", alive
        )
        if spoken:
            pcm = _question_pcm() + bytes(2 * 16000)  # the question, then a second of silence
            for i in range(0, len(pcm), 3200):  # 100 ms frames, in real time: a caller speaking
                await ws.send(pcm[i : i + 3200])
                await asyncio.sleep(0.1)
        else:
            await ws.send(json.dumps({"type": "text", "text": "what are your opening hours"}))
        answer = await _wait(
            lambda: next((x for x in messages if isinstance(x, p.Reply) and x != greeting), None),
            "the answer",
            alive,
        )
        await _wait(
            lambda: find(p.PlaybackEvent, playback_id=answer.reply_id, event="finished"), "answered", alive
        )
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(reader, 10)
    return call_id, greeting, answer


async def test_a_turns_spans_from_edge_and_worker_share_the_calls_trace(
    receiver: tuple[Receiver, str], fresh_kafka: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    got, url = receiver
    settings = Settings(
        kafka_bootstrap=fresh_kafka, home=tmp_path, cache_home=machine_cache_dir, node_id=NODE,
        admin_token=TOKEN, otel_endpoint=url,
    )  # fmt: skip
    client = client_options(settings)
    specs = topics.platform_topics(
        partitions=2, calls_retention_ms=settings.calls_retention_ms, node_ids=(NODE,)
    )
    await ensure_topics(specs, **client)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SENTIRIC_", "OTEL_"))},
        "SENTIRIC_KAFKA_BOOTSTRAP": fresh_kafka,
        "SENTIRIC_HOME": str(tmp_path / "worker"),
        "SENTIRIC_CACHE_HOME": str(machine_cache_dir),
        "SENTIRIC_TOPIC_PARTITIONS": "2",
        "SENTIRIC_STREAMS_OFFSET_RESET": "earliest",
        "SENTIRIC_NO_INPUT_TIMEOUT_S": "300",
        "SENTIRIC_OTEL_ENDPOINT": url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export every 0.2 s, not every 5 s
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("ab") as out:
        worker = subprocess.Popen(  # noqa: ASYNC220 - starting a process does not block; it is not awaited
            [sys.executable, "-m", "sentiric.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def alive() -> bool:
        return worker.poll() is None

    assert not tracing.enabled()
    assert tracing.configure(settings, "sentiric-edge")
    producer = EventProducer(**client)
    await producer.start()
    service = WebService(settings, FactRecorder(producer, NODE), own_commands=True, port=0)
    await service.start()
    try:
        await _wait(lambda: b"Ready" in log_path.read_bytes(), "the worker's Ready", alive)
        call_id, greeting, answer = await _turn(service.port, {}, alive)
        caller_trace, caller_span = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
        joined = {"traceparent": f"00-{caller_trace}-{caller_span}-01"}  # a client's own trace
        joined_call, _, joined_answer = await _turn(service.port, joined, alive, spoken=True)
    finally:
        await service.stop()
        await producer.stop()
        await asyncio.to_thread(
            tracing.shutdown
        )  # exports the edge's last spans to the receiver on this loop
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

    spans = got.of_call(call_id)

    def one(name: str, service: str, **attributes: Any) -> ReceivedSpan:
        found = [
            s
            for s in spans
            if s.name == name
            and s.service == service
            and all(s.attributes.get(k) == v for k, v in attributes.items())
        ]
        assert len(found) == 1, (name, attributes, spans)
        return found[0]

    utterance = one("utterance", "sentiric-edge", **{"sentiric.utterance.typed": True})
    utterance_id = utterance.attributes["sentiric.utterance_id"]
    stt = one("stt", "sentiric-worker", **{"sentiric.utterance_id": utterance_id})
    dialog = one("dialog", "sentiric-worker", **{"sentiric.utterance_id": utterance_id})
    tts = one("tts", "sentiric-worker", **{"sentiric.reply_id": answer.reply_id})
    playback = one("playback", "sentiric-edge", **{"sentiric.playback_id": answer.reply_id})
    chain = [utterance, stt, dialog, tts, playback]
    trace_id = utterance.trace_id
    assert len(trace_id) == 32 and {s.trace_id for s in chain} == {trace_id}
    assert utterance.parent_span_id == ""  # the turn's root
    for parent, child in itertools.pairwise(chain):
        assert child.parent_span_id == parent.span_id, (parent.name, child.name)
    assert stt.attributes["sentiric.engine"] == "provided" and stt.attributes["sentiric.language"] == "en-US"
    assert playback.attributes["sentiric.playback.played_ms"] > 0
    # The greeting's tts (no caller turn before it) is a root of the same trace; its playback is its child.
    greeting_tts = one("tts", "sentiric-worker", **{"sentiric.reply_id": greeting.reply_id})
    greeting_playback = one("playback", "sentiric-edge", **{"sentiric.playback_id": greeting.reply_id})
    assert greeting_tts.trace_id == trace_id and greeting_playback.parent_span_id == greeting_tts.span_id

    # Every fact of the call carries the trace id; the utterance's record names its span in its header.
    records = await _call_records(fresh_kafka, call_id)
    assert records and {fact.trace_id for fact, _ in records} == {trace_id}
    (captured_headers,) = [h for fact, h in records if isinstance(fact, m.UtteranceCaptured)]
    parent = tracing.parse_traceparent(captured_headers["traceparent"])  # flags: sampled, random id
    assert parent is not None and (f"{parent.trace_id:032x}", f"{parent.span_id:016x}") == (
        trace_id,
        utterance.span_id,
    )

    # A spoken question, from a client with its own traceparent on the upgrade: the call is part of the
    # client's trace, under its span; the utterance span runs from the speech onset (SpeechStarted).
    joined_spans = got.of_call(joined_call)
    joined_utterance = next(s for s in joined_spans if s.name == "utterance")
    assert {s.trace_id for s in joined_spans} == {caller_trace}
    assert joined_utterance.parent_span_id == caller_span
    assert joined_utterance.attributes["sentiric.utterance.typed"] is False
    speech_ms = joined_utterance.attributes["sentiric.utterance.speech_ms"]
    assert speech_ms > 1000 and joined_utterance.duration_ns > speech_ms * 1_000_000  # + end silence
    joined_stt = next(
        s for s in joined_spans if s.name == "stt" and s.parent_span_id == joined_utterance.span_id
    )
    assert joined_stt.attributes["sentiric.engine"] not in ("provided", None)
    joined_playback = next(
        s
        for s in joined_spans
        if s.name == "playback" and s.attributes["sentiric.playback_id"] == joined_answer.reply_id
    )
    joined_tts = next(
        s for s in joined_spans if s.name == "tts" and s.span_id == joined_playback.parent_span_id
    )
    assert joined_tts.attributes["sentiric.reply_id"] == joined_answer.reply_id
