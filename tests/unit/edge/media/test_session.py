"""The sans-IO MediaSession, driven with injected time and bytes: no socket, no clock, no event loop.

Every test feeds datagrams with their arrival time and ticks on a simulated 20 ms grid, and reads what
the session returns: RTP ``Send``s, ``SendRtcp``s, ``Emit``ted facts and recordings to store.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.effects import Emit, Send
from edge.facts import own_fields
from edge.media.codecs.g711 import PCMU
from edge.media.codecs.registry import Binding, Transcoder, default_registry
from edge.media.playback import load_wav
from edge.media.rtp.dtmf import TelephoneEvent, dtmf_packets
from edge.media.rtp.packet import RtpPacket
from edge.media.rtp.rtcp import (
    ReceiverReport,
    ReportBlock,
    SenderReport,
    ntp_middle32,
    parse_compound,
    seconds_to_ntp_short,
    serialize_compound,
)
from edge.media.rtp.sender import RtpSender
from edge.media.rtp.source_policy import TRUSTED, MediaTrust
from edge.media.session import Effect, MediaSession, SendRtcp, StoreRecording
from edge.media.vad.endpointer import EndpointerConfig
from schemas.models import (
    DtmfReceived,
    MediaQualityReported,
    PlaybackFinished,
    PlaybackStarted,
    SpeechStarted,
    UtteranceCaptured,
    UtteranceChunkCaptured,
)

T0 = 100.0
TICK = 0.02
CALLER = ("127.0.0.1", 40002)
SPEECH = Path(__file__).parents[3] / "fixtures" / "media" / "opening_hours_8k.wav"


def make_session(
    codec_name: str = "PCMU",
    pt: int = 0,
    *,
    trust: MediaTrust = TRUSTED,
    remote: tuple[str, int] | None = CALLER,
    wall_offset: float = 0.0,
    vad: EndpointerConfig | None = None,
) -> MediaSession:
    codec = default_registry().by_name(codec_name)
    transcoder = None if codec_name == "PCMU" else Transcoder(Binding(codec, pt), pcm_rate=8000)
    return MediaSession(
        "c1",
        local_port=40000,
        remote_addr=remote,
        codec=PCMU if transcoder is None else codec,
        transcoder=transcoder,
        payload_type=pt,
        dtmf_payload_type=101,
        ptime_ms=20,
        now=T0,
        wall_offset=wall_offset,
        quality_interval_s=1.0,
        trust=trust,
        vad=vad,
    )


class Run:
    """Collects every effect a session returns, in order."""

    def __init__(self, session: MediaSession) -> None:
        self.session = session
        self.effects: list[Effect] = []

    def __call__(self, effects: Sequence[Effect]) -> Sequence[Effect]:
        self.effects.extend(effects)
        return effects

    def ticks(self, first: int, count: int) -> None:
        for i in range(first, first + count):
            self(self.session.tick(T0 + i * TICK))

    @property
    def rtp(self) -> list[RtpPacket]:
        return [RtpPacket.parse(e.data) for e in self.effects if isinstance(e, Send)]

    def facts(self, model: type[Any] | None = None) -> list[tuple[type[Any], dict[str, Any]]]:
        found = [(type(e.fact), own_fields(e.fact)) for e in self.effects if isinstance(e, Emit)]
        return [f for f in found if model is None or f[0] is model]

    def fields(self, model: type[Any]) -> list[dict[str, Any]]:
        return [fields for _, fields in self.facts(model)]


def audio_packet(seq: int, payload: bytes = b"\xff" * 160, ssrc: int = 7, **kw: Any) -> bytes:
    return bytes(RtpPacket(0, seq & 0xFFFF, (160 * seq) & 0xFFFFFFFF, ssrc, payload, **kw))


def ulaw_frames(pcm: np.ndarray) -> list[bytes]:
    pcm = np.concatenate([pcm, np.zeros(-pcm.size % 160, dtype=np.int16)])
    return [PCMU.encode(pcm[i : i + 160]) for i in range(0, pcm.size, 160)]


def caller_channel(stored: Iterable[Effect]) -> np.ndarray:
    (store,) = [e for e in stored if isinstance(e, StoreRecording)]
    pcm = np.frombuffer(store.recorder.take_pcm(), dtype="<i2")
    return pcm[0::2]


# --- quality -----------------------------------------------------------------------------------------


def test_no_rtp_received_reports_no_measurement_not_a_perfect_line() -> None:
    run = Run(make_session())
    run.ticks(0, 200)  # 4 s of ticks, past several quality intervals
    assert run.facts(MediaQualityReported) == []  # no periodic report while nothing was measured
    run(run.session.close(T0 + 4))
    (final,) = run.fields(MediaQualityReported)
    assert final["final"] and final["packets_received"] == 0
    assert final["mos"] == 0.0 and final["r_factor"] == 0.0


def test_received_rtp_gets_an_emodel_estimate() -> None:
    session = make_session()
    run = Run(session)
    for i in range(60):
        assert session.receive_rtp(audio_packet(i), CALLER, T0 + i * TICK) == ()
        run(session.tick(T0 + i * TICK))
    assert session.last_rx_at == T0 + 59 * TICK
    run(session.close(T0 + 60 * TICK))
    final = run.fields(MediaQualityReported)[-1]
    assert final["packets_received"] == 60 and 4.0 < final["mos"] < 4.5 and final["r_factor"] > 80


def test_arrival_jitter_is_absorbed_and_measured() -> None:
    """Packets sent on the 20 ms grid arrive up to 15 ms late, some out of order: the caller's audio
    comes out whole (no concealment), and the RFC 3550 jitter shows in the final report."""
    tone = (np.cos(2 * np.pi * 300 * np.arange(8000) / 8000) * 6000).astype(np.int16)  # no zero sample first
    frames = ulaw_frames(tone)
    rng = random.Random(4)
    arrivals = sorted((T0 + i * TICK + rng.uniform(0, 0.015), i) for i in range(len(frames)))
    session = make_session()
    session._jitter.playout_delay = 0.040  # room for the 15 ms of jitter
    session.start_recording("r1", "file:///tmp/unused.wav", "wav")
    run = Run(session)
    pending = list(arrivals)
    for k in range(len(frames) + 10):
        now = T0 + k * TICK
        while pending and pending[0][0] <= now:
            at, i = pending.pop(0)
            run(session.receive_rtp(audio_packet(i, frames[i]), CALLER, at))
        run(session.tick(now))
    closing = session.close(T0 + 100)
    caller = caller_channel(closing)
    decoded = np.concatenate([PCMU.decode(f) for f in frames])
    start = int(np.flatnonzero(caller)[0])
    assert np.array_equal(caller[start : start + decoded.size], decoded)
    (final,) = [
        own_fields(e.fact) for e in closing if isinstance(e, Emit) and type(e.fact) is MediaQualityReported
    ]
    assert final["packets_lost"] == 0 and final["jitter_ms"] > 1.0
    assert session._jitter.stats.late == 0


def test_lost_packets_are_concealed_in_time_and_counted() -> None:
    session = make_session()
    session.start_recording("r1", "file:///tmp/unused.wav", "wav")
    run = Run(session)
    lost = {10, 11, 30}
    loud = PCMU.encode(np.full(160, 4000, dtype=np.int16))
    for i in range(50):
        now = T0 + i * TICK
        if i not in lost:
            run(session.receive_rtp(audio_packet(i, loud), CALLER, now))
        run(session.tick(now))
    closing = session.close(T0 + 50 * TICK)
    caller = caller_channel(closing).reshape(-1, 160)
    silent = [k for k in range(caller.shape[0]) if not caller[k].any()]
    first = int(np.flatnonzero(caller.any(axis=1))[0])  # the playout delay before the first frame
    assert [k - first for k in silent if k > first] == sorted(lost)  # concealed where they were missing
    final = [
        own_fields(e.fact) for e in closing if isinstance(e, Emit) and type(e.fact) is MediaQualityReported
    ]
    assert final[0]["packets_lost"] == 3 and final[0]["loss_fraction"] == pytest.approx(3 / 50)


def test_rtt_from_a_receiver_report_on_the_injected_clocks() -> None:
    session = make_session(wall_offset=1.7e9)
    run = Run(session)
    run.ticks(0, 3)  # something sent: the report is an SR
    (report,) = run(session.send_rtcp(T0 + 0.1))
    assert isinstance(report, SendRtcp) and report.addr == ("127.0.0.1", 40003)
    sr = parse_compound(report.data)[0]
    assert isinstance(sr, SenderReport) and sr.packet_count == 3
    block = ReportBlock(
        ssrc=session.sender.ssrc,
        fraction_lost=0,
        packets_lost=0,
        highest_sequence=0,
        jitter=0,
        lsr=ntp_middle32(sr.ntp_timestamp),
        dlsr=seconds_to_ntp_short(0.05),
    )
    rr = serialize_compound([ReceiverReport(9, (block,))])
    assert session.receive_rtcp(rr, ("127.0.0.1", 40003), T0 + 0.25) == ()
    assert session.rtt_s == pytest.approx(0.1, abs=1e-3)  # 150 ms later, 50 ms of it held by the peer


# --- codecs and the RTP header paths ---------------------------------------------------------------


def test_g722_session_encodes_every_tick_with_its_rtp_clock() -> None:
    session = make_session("G722", 9)
    run = Run(session)
    tone = (np.sin(2 * np.pi * 440 * np.arange(1600) / 8000) * 8000).astype(np.int16)
    run(session.play(tone, "p1", barge_in=False, source_uri=None))
    run.ticks(0, 15)
    packets = run.rtp
    assert len(packets) == 15 and all(p.payload_type == 9 and len(p.payload) == 160 for p in packets)
    assert [p.timestamp - packets[0].timestamp for p in packets[:3]] == [0, 160, 320]


def test_opus_session_uses_the_48k_rtp_clock_and_8k_pcm() -> None:
    session = make_session("opus", 111)
    run = Run(session)
    run.ticks(0, 2)
    a, b = run.rtp
    assert a.payload_type == 111 and b.timestamp - a.timestamp == 960
    run(session.play(np.zeros(800, dtype=np.int16), "p2", barge_in=False, source_uri=None))
    assert session._playbacks["p2"][0] == 100  # ms of 8 kHz PCM, not of the 48 kHz RTP clock


def test_fast_and_full_header_paths_agree() -> None:
    session = make_session()
    plain = RtpPacket(payload_type=0, sequence_number=1, timestamp=160, ssrc=9, payload=b"\x00" * 160)
    with_csrc = RtpPacket(
        payload_type=0, sequence_number=2, timestamp=320, ssrc=9, payload=b"\x00" * 160, csrc=(5,)
    )
    other_pt = RtpPacket(payload_type=18, sequence_number=3, timestamp=480, ssrc=9, payload=b"\x00" * 20)
    for packet in (plain, with_csrc, other_pt):
        assert session.receive_rtp(bytes(packet), CALLER, T0) == ()
    assert session.packets_received == 2 and session.dropped == {"payload_type": 1}
    assert len(session._jitter) == 2
    run = Run(session)
    run.ticks(0, 5)
    sent = run.rtp
    assert all(isinstance(e, Send) and e.addr == CALLER for e in run.effects)
    assert [p.marker for p in sent] == [True, False, False, False, False]
    assert [(p.sequence_number - sent[0].sequence_number) % 65536 for p in sent] == [0, 1, 2, 3, 4]
    assert [(p.timestamp - sent[0].timestamp) % (1 << 32) for p in sent] == [0, 160, 320, 480, 640]
    assert {p.ssrc for p in sent} == {session.sender.ssrc} and session.sender.packet_count == 5
    assert all(p.payload == b"\xff" * 160 for p in sent)  # PCMU silence while nothing plays


# --- playback, VAD, DTMF ---------------------------------------------------------------------------


def test_a_prompt_plays_out_and_its_facts_say_what_was_heard() -> None:
    session = make_session()
    run = Run(session)
    tone = np.full(800, 1000, dtype=np.int16)  # 100 ms: 5 frames
    run(session.play(tone, "p1", barge_in=False, source_uri="file:///p1.wav"))
    run.ticks(0, 8)
    assert [m for m, _ in run.facts()] == [PlaybackStarted, PlaybackFinished]
    started, finished = (f for _, f in run.facts())
    assert started == {"playback_id": "p1", "source_uri": "file:///p1.wav", "duration_ms": 100}
    assert finished["reason"] == "completed" and finished["played_ms"] == 100 and not finished["interrupted"]
    payloads = [p.payload for p in run.rtp]
    assert payloads[:5] == ulaw_frames(tone) and payloads[5:] == [b"\xff" * 160] * 3


def test_a_prompt_queued_between_ticks_sends_its_first_packet_at_once() -> None:
    session = make_session()
    run = Run(session)
    run.ticks(0, 2)
    assert len(run.rtp) == 2  # silence
    tone = (np.sin(np.arange(800) / 3) * 8000).astype(np.int16)  # 100 ms
    run(session.play(tone, "p1", barge_in=True, source_uri=None, next_tick=T0 + 2 * TICK))
    assert len(run.rtp) == 3  # the prompt's first packet, without waiting for the tick
    assert len(run.facts(PlaybackStarted)) == 1
    run(session.tick(T0 + 2 * TICK))  # that was this tick's packet: nothing more now
    assert len(run.rtp) == 3
    run.ticks(3, 4)
    packets = run.rtp
    assert [p.sequence_number - packets[0].sequence_number for p in packets] == list(range(7))
    assert [p.timestamp - packets[0].timestamp for p in packets] == [160 * i for i in range(7)]
    assert [p.payload for p in packets[2:7]] == ulaw_frames(tone)
    # A second prompt queued behind a playing one waits its turn: nothing is sent ahead.
    run(session.play(tone, "p2", barge_in=True, source_uri=None, next_tick=T0 + 7 * TICK))
    run(session.play(tone, "p3", barge_in=True, source_uri=None, next_tick=T0 + 7 * TICK))
    assert len(run.rtp) == 8  # p2 went ahead (p1 had finished); p3 queued behind it


def test_caller_speech_becomes_facts_and_barges_in_on_the_prompt() -> None:
    speech = load_wav(SPEECH)
    frames = ulaw_frames(np.concatenate([speech, np.zeros(8000, dtype=np.int16)]))
    session = make_session()
    run = Run(session)
    run(session.play(np.full(8000 * 5, 500, dtype=np.int16), "long", barge_in=True, source_uri=None))
    for i, frame in enumerate(frames):
        now = T0 + i * TICK
        run(session.receive_rtp(audio_packet(i, frame), CALLER, now))
        run(session.tick(now))
    models = [m for m, _ in run.facts() if m is not MediaQualityReported]
    assert models == [PlaybackStarted, SpeechStarted, PlaybackFinished, UtteranceCaptured]
    (started,) = run.fields(SpeechStarted)
    (barged,) = run.fields(PlaybackFinished)
    (utterance,) = run.fields(UtteranceCaptured)
    assert barged["reason"] == "barge_in" and barged["interrupted"] and 0 < barged["played_ms"] < 5000
    assert utterance["utterance_id"] == started["utterance_id"]
    assert utterance["sample_rate"] == 8000 and 1000 < utterance["end_ms"] - utterance["start_ms"] < 2200
    assert len(utterance["pcm"]) == 2 * (utterance["end_ms"] - utterance["start_ms"]) * 8


def test_received_rfc4733_digits_become_facts() -> None:
    session = make_session()
    run = Run(session)
    far = RtpSender(101, ssrc=77)
    scheduled = dtmf_packets(far, "5", T0, payload_type=101, duration_ms=120)
    scheduled += dtmf_packets(far, "#", T0 + 0.5, payload_type=101, duration_ms=80)
    for item in scheduled:  # the end packet is sent three times: one fact per digit
        run(session.receive_rtp(bytes(item.packet), CALLER, item.at))
    assert run.fields(DtmfReceived) == [
        {"digit": "5", "duration_ms": 120, "method": "rfc4733"},
        {"digit": "#", "duration_ms": 80, "method": "rfc4733"},
    ]
    bad = RtpPacket(101, 999, 1, 77, b"\x05")  # 1 byte: not a telephone event
    assert session.receive_rtp(bytes(bad), CALLER, T0 + 1) == ()
    assert session.dropped == {"dtmf_malformed": 1}


def test_sent_dtmf_takes_the_ticks_slots_on_the_same_stream() -> None:
    session = make_session()
    run = Run(session)
    run.ticks(0, 2)
    session.send_dtmf("1", 100, T0 + 2 * TICK)
    run.ticks(2, 10)
    packets = run.rtp
    events = [p for p in packets if p.payload_type == 101]
    assert len(events) == 7  # 4 updates + 3 end packets at 20 ms, one per tick
    assert [TelephoneEvent.parse(p.payload).event for p in events] == [1] * 7
    assert TelephoneEvent.parse(events[-1].payload).end and events[0].marker
    assert [(p.sequence_number - packets[0].sequence_number) % 65536 for p in packets] == list(range(12))
    assert packets[9].payload_type == 0 and packets[9].marker  # media again: a new talkspurt


# --- close --------------------------------------------------------------------------------------------


def test_close_ends_everything_in_order_and_is_idempotent() -> None:
    session = make_session()
    session.start_recording("r1", "file:///tmp/unused.wav", "wav")
    run = Run(session)
    run(session.play(np.full(8000, 700, dtype=np.int16), "p1", barge_in=False, source_uri=None))
    run(session.play(np.full(800, 700, dtype=np.int16), "p2", barge_in=False, source_uri=None))
    for i in range(10):
        run(session.receive_rtp(audio_packet(i), CALLER, T0 + i * TICK))
        run(session.tick(T0 + i * TICK))
    closing = list(session.close(T0 + 1))
    kinds = [type(e.fact if isinstance(e, Emit) else e).__name__ for e in closing]
    assert kinds == [
        "PlaybackFinished",
        "PlaybackFinished",
        "SendRtcp",
        "MediaQualityReported",
        "StoreRecording",
    ]
    p1, p2 = (own_fields(e.fact) for e in closing[:2] if isinstance(e, Emit))
    assert p1["playback_id"] == "p1" and p1["reason"] == "hangup" and p1["played_ms"] == 200
    assert p2["playback_id"] == "p2" and p2["played_ms"] == 0 and p2["interrupted"]
    bye = closing[2]
    assert isinstance(bye, SendRtcp) and type(parse_compound(bye.data)[-1]).__name__ == "Bye"
    assert session.closed and session.recorders == {}
    assert session.close(T0 + 2) == ()
    assert session.receive_rtp(audio_packet(11), CALLER, T0 + 2) == () and session.dropped == {"closed": 1}


# --- the source policy -----------------------------------------------------------------------------


def test_an_unproven_caller_gets_no_rtp_and_prompts_wait_until_its_ack() -> None:
    session = make_session(trust=MediaTrust("192.0.2.10", proven=False), remote=("192.0.2.10", 4000))
    run = Run(session)
    run(session.play(np.full(1600, 1000, dtype=np.int16), "greeting", barge_in=False, source_uri=None))
    run.ticks(0, 10)
    assert run.rtp == [] and run.facts() == []  # nothing sent, nothing played yet
    session.prove()
    run.ticks(10, 6)
    assert len(run.rtp) == 6 and len(run.facts(PlaybackStarted)) == 1
    assert session.player.playing  # 200 ms prompt, 6 ticks in: still playing, none of it lost


def test_before_the_ack_the_callers_rtp_buys_replies_byte_for_byte() -> None:
    session = make_session(trust=MediaTrust("192.0.2.10", proven=False), remote=("192.0.2.10", 4000))
    run = Run(session)
    for i in range(5):
        run(session.receive_rtp(audio_packet(i, ssrc=3), ("192.0.2.10", 4000), T0 + i * TICK))  # 172 bytes
        run(session.tick(T0 + i * TICK))
    assert 0 < sum(len(bytes(p)) for p in run.rtp) <= 5 * 172


def test_media_for_a_foreign_sdp_address_waits_for_the_callers_own_rtp() -> None:
    session = make_session(trust=MediaTrust("192.0.2.10", proven=True), remote=("127.0.0.2", 4000))
    run = Run(session)
    run.ticks(0, 5)
    assert run.rtp == [] and session.remote_rtp is None
    session.receive_rtp(audio_packet(1, ssrc=3), ("203.0.113.9", 6000), T0)  # someone else: dropped
    assert session.dropped == {"unexpected_source": 1} and session.remote_rtp is None
    session.receive_rtp(audio_packet(2, ssrc=3), ("192.0.2.10", 31000), T0)  # the caller behind its NAT
    assert session.remote_rtp == ("192.0.2.10", 31000) and session.remote_rtcp == ("192.0.2.10", 31001)
    (sent,) = run(session.tick(T0 + 0.2))
    assert isinstance(sent, Send) and sent.addr == ("192.0.2.10", 31000)


def test_a_digit_whose_end_packets_never_come_is_closed_by_the_ticks() -> None:
    session = make_session()
    run = Run(session)
    far = RtpSender(101, ssrc=77)
    start, *_ = dtmf_packets(far, "9", T0, payload_type=101, duration_ms=100)  # only its first packet
    run(session.receive_rtp(bytes(start.packet), CALLER, T0))
    run.ticks(1, 45)  # 0.9 s: the receiver's 1 s timeout has not passed
    assert run.facts(DtmfReceived) == []
    run.ticks(46, 10)
    assert run.fields(DtmfReceived) == [{"digit": "9", "duration_ms": 20, "method": "rfc4733"}]


def test_rtcp_that_cannot_be_protected_fails_the_session() -> None:
    from edge.media.session import Failed
    from edge.media.srtp import SrtpError

    class BrokenSrtcp:
        def protect(self, data: bytes) -> bytes:
            return data

        def protect_rtcp(self, data: bytes) -> bytes:
            raise SrtpError("SRTCP protect failed: key exhausted")

    session = make_session()
    session.srtp = BrokenSrtcp()  # type: ignore[assignment]  # a stand-in at the SRTP seam
    run = Run(session)
    run.ticks(0, 200)  # the first report is due within 3.75 s (RFC 3550 §6.3.1 randomisation)
    # the shell closes the session at the first; ticking on, a second report may fall within the 4 s
    failed = [e for e in run.effects if isinstance(e, Failed)]
    assert failed and all(f.stage == "rtcp" and isinstance(f.error, SrtpError) for f in failed)
    assert not [e for e in run.effects if isinstance(e, SendRtcp)]


def test_pieces_of_a_streamed_reply_talked_over_are_not_played() -> None:
    speech = load_wav(SPEECH)
    frames = ulaw_frames(np.concatenate([speech, np.zeros(8000, dtype=np.int16)]))
    session = make_session()
    run = Run(session)
    tone = np.full(8000 * 5, 500, dtype=np.int16)
    run(session.play(tone, "r1#0", barge_in=True, source_uri=None))
    for i, frame in enumerate(frames[:60]):  # the caller starts talking: the piece stops at the edge
        run(session.receive_rtp(audio_packet(i, frame), CALLER, T0 + i * TICK))
        run(session.tick(T0 + i * TICK))
    assert [f["reason"] for f in run.fields(PlaybackFinished)] == ["barge_in"]
    # The next piece was on its way before the dialog heard the caller: refused, reported at once.
    run(session.play(tone, "r1#1", barge_in=True, source_uri=None))
    assert run.fields(PlaybackFinished)[-1] == {
        "playback_id": "r1#1", "interrupted": True, "played_ms": 0, "duration_ms": 0, "reason": "barge_in",
    }  # fmt: skip
    assert not session.player.playing
    run(session.play(tone, "r2", barge_in=True, source_uri=None))  # the next reply plays
    assert session.player.current_id == "r2"


def test_a_caller_who_speaks_between_two_pieces_talks_over_the_reply() -> None:
    """The first piece played out and the next is still being written when the caller speaks: the
    edge has nothing to stop, but the next piece, arriving before the dialog's StopPlayback, is
    refused (the agent stays silent from the caller's onset on)."""
    speech = load_wav(SPEECH)
    frames = ulaw_frames(np.concatenate([speech, np.zeros(8000, dtype=np.int16)]))
    session = make_session()
    run = Run(session)
    run(session.play(np.full(800, 500, dtype=np.int16), "r1#0", barge_in=True, source_uri=None))
    silence = ulaw_frames(np.zeros(8000, dtype=np.int16))
    for i in range(10):  # 100 ms of piece, then 100 ms of nothing queued
        run(session.receive_rtp(audio_packet(i, silence[i]), CALLER, T0 + i * TICK))
        run(session.tick(T0 + i * TICK))
    assert run.fields(PlaybackFinished)[-1]["reason"] == "completed" and not session.player.playing
    for i, frame in enumerate(frames[:60], start=10):
        run(session.receive_rtp(audio_packet(i, frame), CALLER, T0 + i * TICK))
        run(session.tick(T0 + i * TICK))
    assert run.fields(SpeechStarted)
    run(session.play(np.full(8000, 500, dtype=np.int16), "r1#1", barge_in=True, source_uri=None))
    assert run.fields(PlaybackFinished)[-1] == {
        "playback_id": "r1#1", "interrupted": True, "played_ms": 0, "duration_ms": 0, "reason": "barge_in",
    }  # fmt: skip
    assert not session.player.playing


def test_speech_after_a_reply_voiced_whole_refuses_nothing() -> None:
    speech = load_wav(SPEECH)
    frames = ulaw_frames(np.concatenate([speech, np.zeros(8000, dtype=np.int16)]))
    session = make_session()
    run = Run(session)
    run(session.play(np.full(800, 500, dtype=np.int16), "r1", barge_in=True, source_uri=None))
    for i, frame in enumerate(frames[:60]):
        run(session.receive_rtp(audio_packet(i, frame), CALLER, T0 + (i + 10) * TICK))
        run(session.tick(T0 + (i + 10) * TICK))
    run(session.play(np.full(8000, 500, dtype=np.int16), "r2#0", barge_in=True, source_uri=None))
    assert session.player.current_id == "r2#0"


# --- answers prepared at a pause of the caller ----------------------------------------------------------

PAUSING = EndpointerConfig(chunk_ms=500, pause_ms=160, end_silence_ms=500)
SECOND = load_wav(Path(__file__).parents[3] / "fixtures" / "speech" / "where_are_you_16k.wav")[::2]


class Caller:
    """The caller's audio, fed to a session tick by tick from where it stopped last."""

    def __init__(self, run: Run, pcm: np.ndarray) -> None:
        self.run, self.frames, self.i = run, ulaw_frames(pcm), 0

    def until(self, done: Any) -> None:
        session = self.run.session
        while self.i < len(self.frames):
            now = T0 + self.i * TICK
            self.run(session.receive_rtp(audio_packet(self.i, self.frames[self.i]), CALLER, now))
            self.run(session.tick(now))
            self.i += 1
            if done(self.run):
                return
        raise AssertionError("the caller's audio ended first")


def pause_chunks(run: Run) -> list[dict[str, Any]]:
    return [c for c in run.fields(UtteranceChunkCaptured) if c["pause"]]


def test_an_answer_prepared_at_a_pause_plays_the_moment_the_utterance_ends() -> None:
    session = make_session(vad=PAUSING)
    run = Run(session)
    caller = Caller(run, np.concatenate([load_wav(SPEECH), np.zeros(8000, dtype=np.int16)]))
    caller.until(lambda r: pause_chunks(r))
    (chunk,) = pause_chunks(run)
    answer = np.full(8000, 500, dtype=np.int16)
    run(session.play(answer, "r1", barge_in=True, source_uri=None, after_utterance=chunk["utterance_id"]))
    assert not session.player.playing and not run.fields(PlaybackStarted)  # held: the turn may go on
    caller.until(lambda r: r.fields(UtteranceCaptured))
    assert session.player.current_id == "r1"  # released on the tick that ends the utterance
    (captured,) = run.fields(UtteranceCaptured)
    assert captured["utterance_id"] == chunk["utterance_id"]
    caller.until(lambda r: r.fields(PlaybackStarted))
    assert run.fields(PlaybackStarted)[0]["playback_id"] == "r1"


def test_an_answer_prepared_at_a_pause_is_dropped_when_the_caller_speaks_on() -> None:
    session = make_session(vad=PAUSING)
    run = Run(session)
    gap = np.zeros(8 * 400, dtype=np.int16)
    caller = Caller(
        run, np.concatenate([load_wav(SPEECH)[: 1460 * 8], gap, SECOND, np.zeros(8000, dtype=np.int16)])
    )
    caller.until(lambda r: pause_chunks(r))
    (chunk,) = pause_chunks(run)
    uid = chunk["utterance_id"]
    answer = np.full(8000, 500, dtype=np.int16)
    run(session.play(answer, "r1#0", barge_in=True, source_uri=None, after_utterance=uid))
    caller.until(lambda r: r.fields(PlaybackFinished))
    assert run.fields(PlaybackFinished) == [
        {
            "playback_id": "r1#0",
            "interrupted": True,
            "played_ms": 0,
            "duration_ms": 0,
            "reason": "caller_resumed",
        }
    ]
    assert not run.fields(UtteranceCaptured)  # dropped while the caller speaks on, not at the end
    # a later piece of that answer, still on its way: dropped at once
    run(session.play(answer, "r1#1", barge_in=True, source_uri=None, after_utterance=uid))
    assert run.fields(PlaybackFinished)[-1]["playback_id"] == "r1#1"
    assert run.fields(PlaybackFinished)[-1]["reason"] == "caller_resumed"
    caller.until(lambda r: r.fields(UtteranceCaptured))
    assert run.fields(UtteranceCaptured)[0]["utterance_id"] == uid  # one utterance, both phrases
    assert not session.player.playing and not run.fields(PlaybackStarted)


def test_a_stop_or_a_hangup_drops_a_held_answer() -> None:
    session = make_session(vad=PAUSING)
    run = Run(session)
    caller = Caller(run, np.concatenate([load_wav(SPEECH), np.zeros(8000, dtype=np.int16)]))
    caller.until(lambda r: pause_chunks(r))
    uid = pause_chunks(run)[0]["utterance_id"]
    tone = np.full(800, 500, dtype=np.int16)
    run(session.play(tone, "r1#0", barge_in=True, source_uri=None, after_utterance=uid))
    run(session.play(tone, "r2", barge_in=True, source_uri=None, after_utterance=uid))
    run(session.stop_playback("r1"))
    assert [(f["playback_id"], f["reason"]) for f in run.fields(PlaybackFinished)] == [("r1#0", "stopped")]
    run(session.close(T0 + caller.i * TICK))
    assert [(f["playback_id"], f["reason"]) for f in run.fields(PlaybackFinished)][-1] == ("r2", "hangup")
    assert not run.fields(PlaybackStarted)


def test_an_answer_for_an_utterance_that_already_ended_plays_at_once() -> None:
    session = make_session(vad=PAUSING)
    run = Run(session)
    caller = Caller(run, np.concatenate([load_wav(SPEECH), np.zeros(8000, dtype=np.int16)]))
    caller.until(lambda r: r.fields(UtteranceCaptured))
    uid = run.fields(UtteranceCaptured)[0]["utterance_id"]
    run(
        session.play(
            np.full(800, 500, dtype=np.int16), "r1", barge_in=True, source_uri=None, after_utterance=uid
        )
    )
    assert session.player.current_id == "r1"
