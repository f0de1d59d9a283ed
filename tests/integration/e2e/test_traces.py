"""A SIP caller's turn traced end to end: sipp speaks a question to the edge (in this process), a streams
worker (a subprocess, the embedded engines) answers, both export their spans over OTLP/HTTP to a
receiver in this test (`tests.support.otlp`). The spoken turn's spans — edge ``utterance`` (the RTP
endpointer's onset to the captured utterance) → worker ``stt`` → ``dialog`` → ``tts`` → edge ``playback``
(the media session's RTP playout) — form one chain in the call's trace, whose id every fact carries."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from schemas import models as m
from sentiric import tracing
from tests.integration.e2e.stack import (
    QUESTION_PCAP,
    CallLog,
    Worker,
    caller_scenario,
    is_,
    served,
    settled,
    start_edge,
)
from tests.support.otlp import ReceivedSpan, otlp_receiver
from tests.support.sipp import run_sipp

QUESTION_MS = 3600  # the pcap: 0.2 s silence, 1.86 s question, 1.5 s silence


async def test_a_sip_callers_turn_is_one_chain_of_spans_in_the_calls_trace(
    fresh_kafka: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    async with otlp_receiver() as (got, url):
        worker = Worker(
            fresh_kafka, tmp_path / "worker", machine_cache_dir,
            SENTIRIC_OTEL_ENDPOINT=url, OTEL_BSP_SCHEDULE_DELAY="200",
        )  # fmt: skip
        edge = await start_edge(fresh_kafka, tmp_path / "edge", require_worker=True, otel_endpoint=url)
        assert tracing.configure(edge.settings, "sentiric-edge")  # as `sentiric edge` does (edge.app.run)
        log = CallLog(fresh_kafka, edge.settings.node_id, alive=worker.alive)
        try:
            worker.start()
            await log.start()
            await worker.ready()
            await served(edge)
            scenario = caller_scenario(
                tmp_path, QUESTION_PCAP, before_ms=5000, pcap_ms=QUESTION_MS, after_ms=20000
            )  # the greeting (about 3.5 s) first; 20 s for the answer (about 9 s of speech), then BYE
            start = len(log.records)
            await settled(edge)
            result = await run_sipp(edge.sip_port, tmp_path, scenario=scenario, timeout_s=90)
            assert result.returncode == 0, result.describe()
            invite = next(r.record for r in log.records[start:] if isinstance(r.record, m.CallInviteReceived))
            call_id = invite.call_id
            await log.wait_for(is_(m.MediaPortReleased, call_id=call_id), "MediaPortReleased")
        finally:
            await log.stop()
            await edge.stop()
            await asyncio.to_thread(tracing.shutdown)  # the edge's last spans, to the receiver on this loop
            worker.stop()

        records = [r.record for r in log.of(call_id)]
        trace_id = invite.trace_id
        assert len(trace_id) == 32 and {r.trace_id for r in records} == {trace_id}
        captured = next(r for r in records if isinstance(r, m.UtteranceCaptured))
        answer = next(
            r for r in records if isinstance(r, m.AgentReplied) and r.utterance_id == captured.utterance_id
        )
        spans = got.of_call(call_id)

        def one(name: str, **attributes: object) -> ReceivedSpan:
            found = [
                s
                for s in spans
                if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())
            ]
            assert len(found) == 1, (name, attributes, spans)
            return found[0]

        chain = [
            one("utterance", **{"sentiric.utterance_id": captured.utterance_id}),
            one("stt", **{"sentiric.utterance_id": captured.utterance_id}),
            one("dialog", **{"sentiric.utterance_id": captured.utterance_id}),
            one("tts", **{"sentiric.reply_id": answer.reply_id}),
            one("playback", **{"sentiric.playback_id": answer.reply_id}),
        ]
        assert [s.service for s in chain] == ["sentiric-edge", *["sentiric-worker"] * 3, "sentiric-edge"]
        assert {s.trace_id for s in chain} == {trace_id} and chain[0].parent_span_id == ""
        for parent, child in itertools.pairwise(chain):
            assert child.parent_span_id == parent.span_id, (parent.name, child.name)
        utterance, stt, _, _, playback = chain
        speech_ms = captured.end_ms - captured.start_ms
        assert utterance.attributes["sentiric.utterance.speech_ms"] == speech_ms
        assert utterance.duration_ns > speech_ms * 1_000_000  # onset → captured: the end silence too
        assert stt.attributes["sentiric.engine"] == "faster-whisper-base"
        assert playback.attributes["sentiric.playback.played_ms"] > 1000
