"""Cost of the B2BUA bridge on the media hot path: one tick of two calls' sessions, bridged or not.

Run: .venv/bin/python bench/bridge_bench.py
A tick here is what the shared media clock does for a bridged pair every 20 ms: each leg receives one
RTP packet, sends one (the partner's audio through the bridge) and runs its receive phase (the frame
into the bridge). "Apart" is the same two sessions unbridged (silence out, VAD off on both, as a
bridged call runs it), so the difference is the bridge itself. Best of three runs of >= 0.3 s each.
"""

from __future__ import annotations

import itertools

import numpy as np

from bench.media_bench import per_second
from edge.media.bridge import MediaBridge
from edge.media.codecs.g711 import PCMU
from edge.media.codecs.registry import Binding, Transcoder, default_registry
from edge.media.rtp.packet import RtpPacket
from edge.media.session import MediaSession

A, B = ("192.0.2.10", 40000), ("192.0.2.20", 41000)


def session(call_id: str, codec_name: str, pt: int, remote: tuple[str, int]) -> MediaSession:
    codec = default_registry().by_name(codec_name)
    transcoder = None if codec_name == "PCMU" else Transcoder(Binding(codec, pt), pcm_rate=8000)
    s = MediaSession(
        call_id, local_port=30000, remote_addr=remote, codec=PCMU if transcoder is None else codec,
        transcoder=transcoder, payload_type=pt, dtmf_payload_type=101, ptime_ms=20, now=0.0,
    )  # fmt: skip
    s.stop_listening()
    return s


def pair_tick(codec_b: str, pt_b: int, *, bridged: bool) -> float:
    """Ticks per second of one pair (the caller on PCMU, the target on ``codec_b``)."""
    a, b = session("a", "PCMU", 0, A), session("b", codec_b, pt_b, B)
    if bridged:
        MediaBridge(a, b).join()
    pcm = (np.sin(np.arange(160) / 3) * 6000).astype(np.int16)
    enc_b = (
        Transcoder(Binding(default_registry().by_name(codec_b), pt_b), pcm_rate=8000)
        if codec_b != "PCMU"
        else None
    )
    payload_a = PCMU.encode(pcm)
    payload_b = enc_b.encode(pcm) if enc_b is not None else payload_a
    counter = itertools.count()

    def tick() -> None:
        i = next(counter)
        now = i * 0.02
        a.receive_rtp(bytes(RtpPacket(0, i & 0xFFFF, 160 * i & 0xFFFFFFFF, 7, payload_a)), A, now)
        b.receive_rtp(bytes(RtpPacket(pt_b, i & 0xFFFF, 160 * i & 0xFFFFFFFF, 8, payload_b)), B, now)
        a.send_tick(now)
        b.send_tick(now)
        a.receive_tick(now)
        b.receive_tick(now)

    for _ in range(50):  # past the jitter buffer's playout delay
        tick()
    return per_second(tick)


def main() -> None:
    print(f"{'pair':<16} {'apart µs/tick':>14} {'bridged µs/tick':>16} {'bridge µs':>10} {'pairs/core':>11}")
    for codec, pt in (("PCMU", 0), ("G722", 9)):
        apart = 1e6 / pair_tick(codec, pt, bridged=False)
        bridged = 1e6 / pair_tick(codec, pt, bridged=True)
        pairs = int(20_000 / bridged)  # a 20 ms tick's budget on one core
        print(f"PCMU↔{codec:<11} {apart:>14.1f} {bridged:>16.1f} {bridged - apart:>10.1f} {pairs:>11}")


if __name__ == "__main__":
    main()
