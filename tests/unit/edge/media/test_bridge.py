"""The media bridge between two real sessions (PCMU on one leg, G.722 on the other) and the ringback."""

from __future__ import annotations

import numpy as np

from edge.effects import Send
from edge.media.bridge import RINGBACK_ON_FRAMES, RINGBACK_PERIOD_FRAMES, MediaBridge, Ringback
from edge.media.codecs.g711 import PCMU
from edge.media.codecs.registry import Binding, Transcoder, default_registry
from edge.media.frame import FRAME_SAMPLES
from edge.media.rtp.packet import RtpPacket
from edge.media.session import MediaSession

T0 = 1000.0
TICK = 0.02
CALLER = ("192.0.2.10", 40000)
TARGET = ("192.0.2.20", 41000)


def session(call_id: str, codec_name: str, pt: int, remote: tuple[str, int]) -> MediaSession:
    codec = default_registry().by_name(codec_name)
    transcoder = None if codec_name == "PCMU" else Transcoder(Binding(codec, pt), pcm_rate=8000)
    return MediaSession(
        call_id, local_port=30000 if call_id == "a" else 30002, remote_addr=remote,
        codec=PCMU if transcoder is None else codec, transcoder=transcoder, payload_type=pt,
        dtmf_payload_type=101, ptime_ms=20, now=T0,
    )  # fmt: skip


def tone(hz: float, frames: int) -> np.ndarray:
    t = np.arange(frames * FRAME_SAMPLES) / 8000
    return (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16)


def sent_pcm(effects: list[object], s: MediaSession) -> np.ndarray:
    """What a session sent, decoded back to 8 kHz PCM (its own codec)."""
    out = []
    for e in effects:
        if isinstance(e, Send) and e.addr == s.policy.dest:
            payload = RtpPacket.parse(e.data).payload
            out.append(s.transcoder.decode(payload) if s.transcoder else PCMU.decode(payload))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)


def dominant_hz(pcm: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.fft.rfftfreq(pcm.size, 1 / 8000)[int(np.argmax(spectrum))])


def test_bridged_legs_hear_each_other_across_codecs() -> None:
    a = session("a", "PCMU", 0, CALLER)
    b = session("b", "G722", 9, TARGET)
    bridge = MediaBridge(a, b)
    bridge.join()
    g722 = Transcoder(Binding(default_registry().by_name("G722"), 9), pcm_rate=8000)
    from_a, from_b = tone(440, 100), tone(1000, 100)
    sent_a: list[object] = []
    sent_b: list[object] = []
    for i in range(100):
        now = T0 + i * TICK
        frame = slice(i * FRAME_SAMPLES, (i + 1) * FRAME_SAMPLES)
        pa = RtpPacket(0, i, 160 * i, 7, PCMU.encode(from_a[frame]))
        pb = RtpPacket(9, i, 160 * i, 8, g722.encode(from_b[frame]))
        a.receive_rtp(bytes(pa), CALLER, now)
        b.receive_rtp(bytes(pb), TARGET, now)
        # the clock's phases: everyone sends, then everyone receives (and feeds the bridge)
        sent_a += a.send_tick(now)
        sent_b += b.send_tick(now)
        a.receive_tick(now)
        b.receive_tick(now)
    heard_by_b, heard_by_a = sent_pcm(sent_b, b), sent_pcm(sent_a, a)
    # after the jitter buffer's delay, each leg sends what the other said, in its own codec
    assert abs(dominant_hz(heard_by_b[-4000:]) - 440) < 10
    assert abs(dominant_hz(heard_by_a[-4000:]) - 1000) < 10
    assert np.sqrt(np.mean(heard_by_b[-4000:].astype(np.float64) ** 2)) > 3000
    assert bridge.dropped_ms == (0, 0)


def test_split_stops_both_directions_and_removes_the_bridge_from_the_legs() -> None:
    a = session("a", "PCMU", 0, CALLER)
    b = session("b", "PCMU", 0, TARGET)
    bridge = MediaBridge(a, b)
    bridge.join()
    bridge.join()  # idempotent
    assert len(a.taps) == len(b.taps) == 1 and len(a.injectors) == len(b.injectors) == 1
    assert not a.vad_on and not b.vad_on  # nobody transcribes a bridged conversation
    bridge.split()
    bridge.split()
    assert not a.taps and not b.taps and not a.injectors and not b.injectors


def test_a_burst_cannot_build_more_than_the_bound_of_delay() -> None:
    a = session("a", "PCMU", 0, CALLER)
    b = session("b", "PCMU", 0, TARGET)
    bridge = MediaBridge(a, b, max_ms=100)
    bridge.join()
    frame = tone(440, 1)
    for _ in range(20):  # 400 ms arrive while b sends nothing
        a.taps[0].push(frame, frame)
    assert bridge.dropped_ms == (0, 300)


def test_ringback_is_one_second_of_tone_then_four_of_silence_until_ended() -> None:
    ring = Ringback()
    frames = [ring.read_frame() for _ in range(RINGBACK_PERIOD_FRAMES + 1)]
    assert all(f is not None and f.size == FRAME_SAMPLES for f in frames)
    on = np.concatenate([f for f in frames[:RINGBACK_ON_FRAMES] if f is not None])
    assert abs(dominant_hz(on) - 425) < 10
    assert all(f is not None and not f.any() for f in frames[RINGBACK_ON_FRAMES:RINGBACK_PERIOD_FRAMES])
    assert frames[-1] is not None and frames[-1].any()  # the next period starts again
    assert not ring.finished
    ring.end()
    assert ring.finished and ring.read_frame() is None
