"""A call's facts rebuilt as pcapng and stereo WAV: SIP as received plus rebuilt, RTP from the recorded
audio at its time, every rebuilt packet labelled, no SDES key anywhere."""

import io
import struct
import wave
from datetime import timedelta

import numpy as np
import pytest

from edge.media.codecs.g711 import ulaw_decode
from edge.media.rtp.packet import RtpPacket
from schemas import models as m
from streams.dialog.script import CallScript
from streams.replay_export import (
    REBUILT_HEADER,
    RECORDED_COMMENT,
    SECTION_COMMENT,
    ExportError,
    packets_of,
    pcapng_bytes,
    wav_bytes,
)

KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
SDP_OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/SAVP 0\r\n"
    f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"
)
INVITE = (
    "INVITE sip:100@127.0.0.1:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\n"
    "From: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1:5080>\r\nCall-ID: abc@host\r\n"
    f"CSeq: 7 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {len(SDP_OFFER)}\r\n\r\n{SDP_OFFER}"
)


def tone(rate: int, seconds: float, hz: float) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def a_call() -> list:
    s = CallScript("call-x")
    invite = s.fact(m.CallInviteReceived, raw_invite=INVITE.encode(), to_uri="sip:100@127.0.0.1:5080",
                    sdp_offer=SDP_OFFER)  # fmt: skip
    resolved = s.fact(m.DialplanResolved, action="agent")
    port = s.fact(m.MediaPortAllocated, rtp_port=20002)
    answered = s.fact(
        m.CallAnswered, sdp_answer=SDP_OFFER.replace("6000", "20002"), remote_rtp_addr="127.0.0.1:6000"
    )
    facts = [invite, resolved, port, answered, s.established()]
    facts.append(s.fact(m.UtteranceCaptured, utterance_id="u1", pcm=tone(16000, 1.0, 440), sample_rate=16000,
                        start_ms=2000, end_ms=3000))  # fmt: skip
    synthesized = s.fact(m.SpeechSynthesized, reply_id="r1", pcm=tone(16000, 0.5, 880), sample_rate=16000)
    started = s.fact(m.PlaybackStarted, playback_id="r1")
    started = m.PlaybackStarted(
        **{**started.to_record(), "occurred_at": answered.occurred_at + timedelta(seconds=4)}
    )
    facts += [synthesized, started, s.ended()]
    ended = facts[-1]
    facts[-1] = m.CallEnded(
        **{**ended.to_record(), "occurred_at": answered.occurred_at + timedelta(seconds=6)}
    )
    return facts


def test_sip_as_received_and_rebuilt_without_keys():
    packets = packets_of(a_call())
    sip = [p for p in packets if p.src[1] in (5062, 5080)]
    starts = [p.payload.split(b"\r\n")[0].decode() for p in sip]
    uri = "sip:100@127.0.0.1:5080"
    assert starts == [f"INVITE {uri} SIP/2.0", "SIP/2.0 200 OK", f"ACK {uri} SIP/2.0", f"BYE {uri} SIP/2.0",
                      "SIP/2.0 200 OK"]  # fmt: skip
    assert sip[0].comment == "SIP INVITE as received" and REBUILT_HEADER.encode() not in sip[0].payload
    assert all(REBUILT_HEADER.encode() in p.payload for p in sip[1:])
    assert b"CSeq: 7 INVITE" in sip[1].payload and b"CSeq: 7 ACK" in sip[2].payload
    everything = pcapng_bytes(packets)
    assert KEY.encode() not in everything and b"inline:[redacted]" in everything


def with_ladder(facts: list, cut: int = 300) -> list:
    """The call as an edge that records its ladder has it: the INVITE in, then 200, ACK, BYE and 200."""
    s = CallScript("call-x")
    invite, answered, ended = facts[0], facts[3], facts[-1]
    ok = "SIP/2.0 200 OK\r\nCall-ID: abc@host\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n"
    rungs = [
        ("in", INVITE, invite.occurred_at, 0),
        ("out", ok, answered.occurred_at, 0),
        ("in", "ACK sip:100@127.0.0.1:5080 SIP/2.0\r\nCall-ID: abc@host\r\n\r\n", answered.occurred_at, 1),
        ("in", "BYE sip:100@127.0.0.1:5080 SIP/2.0\r\nCall-ID: abc@host\r\n\r\n", ended.occurred_at, 0),
        ("out", ok.replace("7 INVITE", "2 BYE"), ended.occurred_at, 1),
    ]
    out = list(facts)
    for direction, text, at, ms in rungs:
        fact = s.fact(m.SipMessageObserved, direction=direction, raw=text.encode()[:cut], size=len(text),
                      first_line=text.split("\r\n")[0], local_addr="127.0.0.1:5080",
                      remote_addr="127.0.0.1:5062")  # fmt: skip
        out.append(
            m.SipMessageObserved(**{**fact.to_record(), "occurred_at": at + timedelta(milliseconds=ms)})
        )
    out.append(
        s.fact(m.SipMessageObserved, direction="in", raw=b"", size=9, first_line="(cap)", truncated=True)
    )
    return out


def test_recorded_sip_replaces_the_rebuilt_and_says_so():
    packets = packets_of(with_ladder(a_call()))
    sip = [p for p in packets if 5062 in (p.src[1], p.dst[1])]
    assert [p.payload.split(b"\r\n")[0].split(b" ")[0 if p.src[1] == 5062 else 1] for p in sip] == [
        b"INVITE", b"200", b"ACK", b"BYE", b"200",
    ]  # fmt: skip
    caller, edge = ("127.0.0.1", 5062), ("127.0.0.1", 5080)
    assert [(p.src, p.dst) for p in sip[:2]] == [(caller, edge), (edge, caller)]
    assert all(p.comment.startswith("SIP recorded (SipMessageObserved #") for p in sip)
    assert "cut: 300 of" in sip[0].comment and all(REBUILT_HEADER.encode() not in p.payload for p in sip)
    everything = pcapng_bytes(packets)
    assert RECORDED_COMMENT.encode() in everything and SECTION_COMMENT.encode() not in everything
    assert KEY.encode() not in everything  # scrubbed again here: the key was in the recorded INVITE
    assert any(p.comment.startswith("RTP rebuilt from") for p in packets)


def test_a_recorded_srtp_offer_is_shown_as_plain_rtp_like_the_rebuilt_media():
    (invite, *_) = [p for p in packets_of(with_ladder(a_call(), cut=4096)) if p.src[1] == 5062]
    head, _, body = invite.payload.partition(b"\r\n\r\n")
    assert b"m=audio 6000 RTP/AVP 0" in body and b"a=crypto" not in body and KEY.encode() not in body
    assert f"Content-Length: {len(body)}".encode() in head
    assert invite.comment.endswith(", in, SDP shown as plain RTP)") and "cut" not in invite.comment


def test_rtp_rebuilt_from_each_side_audio_at_its_time():
    facts = a_call()
    packets = packets_of(facts)
    caller = [p for p in packets if p.src == ("127.0.0.1", 6000)]
    agent = [p for p in packets if p.src == ("127.0.0.1", 20002)]
    assert len(caller) == 50 and len(agent) == 25  # 1 s and 0.5 s in 20 ms packets
    assert all(p.comment.startswith("RTP rebuilt from") for p in caller + agent)
    rtp = [RtpPacket.parse(p.payload) for p in caller]
    assert [r.sequence_number for r in rtp] == list(range(50))
    assert rtp[0].timestamp == 2 * 8000 and rtp[1].timestamp == 2 * 8000 + 160 and rtp[0].marker
    assert caller[0].at == pytest.approx(facts[3].occurred_at.timestamp() + 2.0)
    assert agent[0].at == pytest.approx(facts[3].occurred_at.timestamp() + 4.0)
    pcm = np.concatenate([ulaw_decode(r.payload) for r in rtp]).astype(float)
    spectrum = np.abs(np.fft.rfft(pcm))
    assert np.argmax(spectrum) * 8000 / pcm.size == pytest.approx(440, abs=2)


def test_pcapng_blocks_and_comments():
    data = pcapng_bytes(packets_of(a_call()))
    kind, length, magic = struct.unpack_from("<III", data)
    assert (kind, magic) == (0x0A0D0D0A, 0x1A2B3C4D)
    assert SECTION_COMMENT.encode() in data[:length]
    offset, kinds = 0, []
    while offset < len(data):
        kind, length = struct.unpack_from("<II", data, offset)
        assert length % 4 == 0 and struct.unpack_from("<I", data, offset + length - 4)[0] == length
        kinds.append(kind)
        offset += length
    assert kinds[:2] == [0x0A0D0D0A, 1] and set(kinds[2:]) == {6} and len(kinds) == 2 + 5 + 75


def test_wav_has_the_caller_left_and_the_agent_right():
    with wave.open(io.BytesIO(wav_bytes(a_call()))) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (2, 8000, 2)
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    assert frames.shape[0] == 6 * 8000  # answer → hang-up
    left, right = frames[:, 0], frames[:, 1]
    assert np.abs(left[16000:24000]).mean() > 2000 and np.abs(left[:16000]).max() == 0
    assert np.abs(right[32000:36000]).mean() > 2000 and np.abs(right[:32000]).max() == 0


def test_an_unanswered_call_is_a_clear_error():
    facts = [f for f in a_call() if not isinstance(f, m.CallAnswered)]
    with pytest.raises(ExportError, match="never answered"):
        packets_of(facts)
