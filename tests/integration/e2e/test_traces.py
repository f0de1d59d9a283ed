"""A SIP caller's turn traced end to end: sipp speaks a question to the edge (in this process), a streams
worker (a subprocess, the embedded engines) answers, both export their spans over OTLP/HTTP to a
receiver in this test (`tests.support.otlp`). The spoken turn's spans — edge ``utterance`` (the RTP
endpointer's onset to the captured utterance), or edge ``pause`` (onset to the pause chunk) for an answer
prepared at the caller's pause, the default → worker ``stt`` → ``dialog`` → ``tts`` → edge ``playback``
(the media session's RTP playout) — form one chain in the call's trace, whose id every fact carries."""

from __future__ import annotations

import asyncio
from pathlib import Path

from schemas import models as m
from schemas.turn_ids import is_early
from sentiric import tracing
from tests.integration.e2e.stack import (
    QUESTION_PCAP,
    CallLog,
    Worker,
    answering,
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
        answer = next(r for r in records if answering(captured.utterance_id)(r))
        spans = got.of_call(call_id)
        by_id = {s.span_id: s for s in spans}

        def one(name: str, **attributes: object) -> ReceivedSpan:
            found = [
                s
                for s in spans
                if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())
            ]
            assert len(found) == 1, (name, attributes, spans)
            return found[0]

        # The chain, walked up from the answer's playback to its root. An answer prepared at the caller's
        # pause (the default) starts at the edge's pause chunk; one made after the utterance ended, at it.
        chain = [one("playback", **{"sentiric.playback_id": answer.reply_id})]
        while chain[0].parent_span_id:
            chain.insert(0, by_id[chain[0].parent_span_id])
        first = "pause" if is_early(answer.utterance_id) else "utterance"
        print(f"the answer's chain starts at the edge's {first!r}: {answer.utterance_id}")
        assert [s.name for s in chain] == [first, "stt", "dialog", "tts", "playback"], chain
        assert [s.service for s in chain] == ["sentiric-edge", *["sentiric-worker"] * 3, "sentiric-edge"]
        assert {s.trace_id for s in chain} == {trace_id}
        start, stt, dialog, tts, playback = chain
        assert start.attributes["sentiric.utterance_id"] == stt.attributes["sentiric.utterance_id"]
        assert stt.attributes["sentiric.utterance_id"] == captured.utterance_id
        assert dialog.attributes["sentiric.utterance_id"] == answer.utterance_id
        assert tts.attributes["sentiric.reply_id"] == answer.reply_id
        assert stt.attributes["sentiric.engine"] == "faster-whisper-base"
        assert playback.attributes["sentiric.playback.played_ms"] > 1000
        # the utterance's own span, from the onset to the end silence, and its final transcript's stt
        utterance = one("utterance", **{"sentiric.utterance_id": captured.utterance_id})
        speech_ms = captured.end_ms - captured.start_ms
        assert utterance.attributes["sentiric.utterance.speech_ms"] == speech_ms
        assert utterance.duration_ns > speech_ms * 1_000_000  # onset → captured: the end silence too
        assert utterance.trace_id == trace_id and utterance.parent_span_id == ""
        assert [s.name for s in spans if s.parent_span_id == utterance.span_id] == ["stt"]
