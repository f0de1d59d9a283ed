"""The edge's media path with sipp sending real RTP from pcaps: RFC 4733 digits and call recording.

The edge runs in this process on the session's broker (no streams worker: nothing answers, the edge
only hears); sipp places a call and plays a pcap built by `tests/fixtures/e2e/make_pcaps.py`.
"""

from __future__ import annotations

import asyncio
import uuid
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from edge.app import EdgeApp
from edge.media.codecs.g711 import ulaw_decode, ulaw_encode
from schemas import models as m
from sentiric.eventlog.producer import EventProducer
from sentiric.eventlog.topics import commands_topic
from tests.fixtures.e2e.make_pcaps import LEAD_MS, QUESTION_WAV, read_wav_8k
from tests.integration.e2e.stack import (
    DTMF_PCAP,
    QUESTION_PCAP,
    CallLog,
    caller_scenario,
    is_,
    pcap_pcm,
    start_edge,
)
from tests.support.sipp import run_sipp


@pytest.fixture
async def edge(kafka: str, tmp_path: Path) -> AsyncIterator[tuple[EdgeApp, CallLog]]:
    app = await start_edge(kafka, tmp_path / "edge")
    log = CallLog(kafka, app.settings.node_id)
    await log.start()
    try:
        yield app, log
    finally:
        await log.stop()
        await app.stop()


def mine(app: EdgeApp, log: CallLog) -> str:
    """The call id of this edge's one call."""
    invites = {
        r.record.call_id
        for r in log.records
        if is_(m.CallInviteReceived, source=app.settings.node_id)(r.record)
    }
    assert len(invites) == 1, invites
    return invites.pop()


async def test_dtmf_from_a_pcap(edge: tuple[EdgeApp, CallLog], tmp_path: Path) -> None:
    app, log = edge
    scenario = caller_scenario(tmp_path, DTMF_PCAP, before_ms=500, pcap_ms=1400, after_ms=300)
    result = await run_sipp(app.sip_port, tmp_path, scenario=scenario, timeout_s=30)
    assert result.returncode == 0, result.describe()
    await log.wait_for(
        lambda r: isinstance(r, m.MediaPortReleased) and r.source == app.settings.node_id, "end"
    )
    call_id = mine(app, log)
    digits = [r.record for r in log.of(call_id) if r.kind == "DtmfReceived"]
    assert [(d.digit, d.duration_ms, d.method) for d in digits] == [
        ("1", 100, "rfc4733"),
        ("2", 100, "rfc4733"),
        ("#", 100, "rfc4733"),
    ]
    assert [d.seq for d in digits] == sorted(d.seq for d in digits)


def aligned_correlation(recorded: np.ndarray, sent: np.ndarray) -> tuple[float, int]:
    """Pearson correlation of `sent` with the stretch of `recorded` where it fits best (FFT xcorr)."""
    a, b = recorded.astype(np.float64), sent.astype(np.float64)
    n = 1 << (len(a) + len(b)).bit_length()
    xcorr = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)[: len(a)]
    lag = int(np.argmax(xcorr))
    window = a[lag : lag + len(b)]
    return float(np.corrcoef(window, b[: len(window)])[0, 1]), lag


async def test_recording_holds_the_callers_rtp(
    edge: tuple[EdgeApp, CallLog], kafka: str, tmp_path: Path
) -> None:
    app, log = edge
    assert app.core is not None
    out = app.settings.recordings_root / "recording.wav"  # the edge records only under its root
    scenario = caller_scenario(tmp_path, QUESTION_PCAP, before_ms=1500, pcap_ms=3600, after_ms=300)
    sipp = asyncio.create_task(run_sipp(app.sip_port, tmp_path, scenario=scenario, timeout_s=30))
    established = await log.wait_for(
        lambda r: isinstance(r, m.CallEstablished) and r.source == app.settings.node_id, "CallEstablished"
    )
    call_id = established.record.call_id
    start = m.StartRecording(
        event_id=uuid.uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC), source="e2e-test",
        trace_id=call_id, recording_id="rec-1", output_uri=out.as_uri(), format="wav",
    )  # fmt: skip
    async with EventProducer(bootstrap_servers=kafka) as producer:
        await producer.publish_and_wait(start, topic=commands_topic(app.settings.node_id))
    result = await sipp
    assert result.returncode == 0, result.describe()
    finished = await log.wait_for(is_(m.RecordingFinished, call_id=call_id), "RecordingFinished")
    assert finished.record.uri == out.as_uri() and finished.record.size_bytes == out.stat().st_size
    with wave.open(str(out)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (2, 8000, 2)
        stereo = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    assert abs(finished.record.duration_ms - len(stereo) / 8) <= 20
    caller = stereo[:, 0]
    sent = pcap_pcm(QUESTION_PCAP)  # µ-law decoded: exactly what the edge's decoder gives back
    question = read_wav_8k(QUESTION_WAV)
    lead = LEAD_MS * 8
    assert np.array_equal(sent[lead : lead + question.size], ulaw_decode(ulaw_encode(question)))
    correlation, lag = aligned_correlation(caller, sent)
    assert correlation > 0.8, (correlation, lag)
    assert lag > 0  # the recording started before the pcap did (its first samples are silence)
