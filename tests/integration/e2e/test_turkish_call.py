"""A Turkish caller on the phone: sipp dials extension 2000 (the Turkish sample business) and asks, in
espeak-ng's Turkish voice over PCMU, for the opening hours. The edge, the log and a streams worker are
real, as in `test_conversation`; the greeting and the answer must be Turkish text on the log and
Turkish speech on the RTP the edge sends back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from edge.media.codecs.resample import resample
from schemas import models as m
from streams.dialog.machine import MACHINE_ENGINE
from streams.dialog.prompts import BUILT_IN, with_caller
from streams.engines.espeak import EspeakTTS
from streams.engines.knowledge import load_knowledge
from streams.engines.turkish import analyze
from streams.engines.whisper import WhisperSTT
from tests.fixtures.e2e.make_pcaps import CLOCK_RATE, pcap_bytes, speech_packets
from tests.integration.e2e.stack import (
    CallLog,
    Capture,
    Worker,
    answering,
    caller_scenario,
    is_,
    pcm_of,
    rms,
    served,
    settled,
    start_edge,
)
from tests.integration.e2e.test_conversation import Stack, new_call, one
from tests.support.audio import correlation
from tests.support.sipp import run_sipp

QUESTION = "Çalışma saatleriniz nedir?"
HOURS = next(e for e in load_knowledge() if e.entity_id == "tr-hours")


@pytest.fixture(scope="module")
async def stack(
    fresh_kafka: str, tmp_path_factory: pytest.TempPathFactory, machine_cache_dir: Path
) -> AsyncIterator[Stack]:
    home = tmp_path_factory.mktemp("e2e-tr")
    edge = await start_edge(fresh_kafka, home / "edge", require_worker=True)  # no dialplan: the samples
    worker = Worker(fresh_kafka, home / "worker", machine_cache_dir)
    log = CallLog(fresh_kafka, edge.settings.node_id, alive=worker.alive)
    try:
        worker.start()
        await log.start()
        stt = await asyncio.to_thread(WhisperSTT, machine_cache_dir)
        await worker.ready()
        await served(edge)
        yield Stack(fresh_kafka, edge, worker, log, stt)
    finally:
        await log.stop()
        await edge.stop()
        worker.stop()


def turkish_question_pcap(path: Path) -> tuple[Path, int]:
    """The question in espeak-ng's Turkish voice as the caller's PCMU pcap; (path, its length in ms)."""
    speech = EspeakTTS().synthesize(QUESTION, "tr")
    pcm = np.frombuffer(speech.pcm, dtype="<i2").astype(np.int16)
    pcm = resample(pcm, speech.sample_rate, CLOCK_RATE).astype(np.int16)
    packets = speech_packets(pcm)
    path.write_bytes(pcap_bytes(packets))
    return path, round(packets[-1].at * 1000) + 20


async def test_a_turkish_caller_on_2000_is_greeted_and_answered_in_turkish(
    stack: Stack, tmp_path: Path
) -> None:
    settings = stack.edge.settings
    pcap, pcap_ms = turkish_question_pcap(tmp_path / "soru_pcmu.pcap")
    capture = Capture(tmp_path / "wire.pcap", settings.rtp_port_min, settings.rtp_port_max)
    await capture.start()
    scenario = caller_scenario(tmp_path, pcap, before_ms=9000, pcap_ms=pcap_ms, after_ms=30000)
    start = len(stack.log.records)
    await settled(stack.edge)
    try:
        result = await run_sipp(
            stack.edge.sip_port, tmp_path, scenario=scenario, timeout_s=120, service="2000"
        )
    finally:
        packets = await capture.stop()
    assert result.returncode == 0, result.describe()
    call_id = new_call(stack, start)
    await stack.log.wait_for(is_(m.MediaPortReleased, call_id=call_id), "MediaPortReleased")
    records = stack.log.of(call_id)

    plan = one(records, m.DialplanResolved)
    assert (plan.dialplan_id, plan.language) == ("sample-tr", "tr-TR")
    greeting = one(records, m.AgentReplied, engine=MACHINE_ENGINE, intent="greeting")
    assert (greeting.text, greeting.language) == (with_caller(BUILT_IN["tr"]["greeting"], None), "tr-TR")
    assert one(records, m.SpeechSynthesized, reply_id=greeting.reply_id).engine == "espeak-ng"

    captured = one(records, m.UtteranceCaptured)
    heard = one(records, m.UtteranceTranscribed, utterance_id=captured.utterance_id, is_final=True)
    print(f"Whisper (tr) heard the caller's {QUESTION!r} as {heard.text!r}")
    assert heard.language == "tr-TR" and "calis" in analyze(heard.text), heard.text
    (answer,) = [r.record for r in records if answering(captured.utterance_id)(r.record)]
    assert (answer.text, answer.intent, answer.language) == (HOURS.answer, "tr-hours", "tr-TR")
    voiced = one(records, m.SpeechSynthesized, reply_id=answer.reply_id)
    assert voiced.engine == "espeak-ng"  # the Turkish voice; hibari speaks English only

    # Both went to the caller as speech on the RTP stream, and the answer reads back as Turkish.
    port = one(records, m.MediaPortAllocated).rtp_port
    for reply in (greeting, answer):
        started = one(records, m.PlaybackStarted, playback_id=reply.reply_id)
        finished = one(records, m.PlaybackFinished, playback_id=reply.reply_id)
        begin, end = started.occurred_at.timestamp(), finished.occurred_at.timestamp()
        pcm = pcm_of(p for p in packets if p.src[1] == port and begin - 0.1 <= p.at <= end + 0.1)
        assert abs(pcm.size / 8000 - started.duration_ms / 1000) < 0.3
        assert rms(pcm) > 300, reply.intent
        if reply is answer:
            back = await asyncio.to_thread(stack.stt.transcribe, pcm.astype("<i2").tobytes(), 8000, "tr")
            print(f"Whisper (tr) heard the answer on the RTP as {back.text!r}")
            # Whisper base hears espeak-ng's Turkish through G.711 poorly and not the same way twice
            # (measured: "Panat pez yüven Zuma Ya Samat, Dokun Daak …" for "Pazartesiden cumaya sabah
            # dokuzdan …"; a CI run got one word of the answer back, another two): the words of the
            # answer are asserted as text above; here, that the audio on the wire is that answer's,
            # by correlating it with the synthesized audio (its first two seconds, at 8 kHz).
            said = np.frombuffer(voiced.pcm, dtype="<i2")
            if voiced.sample_rate != 8000:
                said = resample(said, voiced.sample_rate, 8000)
            assert correlation(pcm, said[: 2 * 8000]) > 0.8, back.text
