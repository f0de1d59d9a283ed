"""Throughput of the sans-IO media layer on one core: G.711, RTP parse/serialise, SRTP, VAD.

Run: .venv/bin/python bench/media_bench.py
Each figure is the best of three timed runs of at least 0.3 s each.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from edge.media.codecs.g711 import PCMA, PCMU
from edge.media.rtp.packet import RtpPacket
from edge.media.srtp import AES_CM_128_HMAC_SHA1_32, AES_CM_128_HMAC_SHA1_80, CryptoAttribute, SrtpContext
from edge.media.vad.endpointer import Endpointer, EndpointerConfig

SRTP_PACKETS = 50_000


def per_second(fn: Callable[[], object], min_seconds: float = 0.3, repeats: int = 3) -> float:
    """Best calls-per-second of ``fn`` over ``repeats`` runs of at least ``min_seconds``."""
    n = 64
    while True:  # calibrate the loop count
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
        n = int(n * min(10.0, 1.5 * min_seconds / max(elapsed, 1e-9))) + 1
    best = n / elapsed
    for _ in range(repeats - 1):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = max(best, n / (time.perf_counter() - start))
    return best


def timed_over(fn: Callable[[bytes], object], items: list[bytes]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    rng = np.random.default_rng(0)
    frame = rng.normal(0, 4000, 160).astype(np.int16)
    for codec in (PCMU, PCMA):
        encoded = codec.encode(frame)
        enc = per_second(lambda c=codec: c.encode(frame))
        dec = per_second(lambda c=codec, e=encoded: c.decode(e))
        print(f"G.711 {codec.name} encode: {enc:,.0f} frames/s (160 samples)")
        print(f"G.711 {codec.name} decode: {dec:,.0f} frames/s (160 samples)")

    packet = RtpPacket(0, 1234, 567890, 0x11223344, PCMU.encode(frame))
    wire = bytes(packet)
    print(f"RTP parse: {per_second(lambda: RtpPacket.parse(wire)):,.0f} packets/s ({len(wire)} bytes)")
    print(f"RTP serialize: {per_second(lambda: bytes(packet)):,.0f} packets/s ({len(wire)} bytes)")

    plain = [bytes(RtpPacket(0, s & 0xFFFF, s * 160, 1, packet.payload)) for s in range(SRTP_PACKETS)]
    for suite in (AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32):
        protect_rates, unprotect_rates = [], []
        for _ in range(3):
            key = CryptoAttribute.generate(1, suite)
            sender, receiver = SrtpContext(key, key), SrtpContext(key, key)
            protect_rates.append(timed_over(sender.protect, plain))
            fresh = SrtpContext(key, key)
            protected = [fresh.protect(p) for p in plain]
            unprotect_rates.append(timed_over(receiver.unprotect, protected))
        print(f"SRTP {suite.name} protect: {max(protect_rates):,.0f} packets/s ({len(wire)}-byte RTP)")
        print(f"SRTP {suite.name} unprotect: {max(unprotect_rates):,.0f} packets/s")

    for rate in (8000, 16000):
        endpointer = Endpointer(EndpointerConfig(sample_rate=rate))
        noise = rng.normal(0, 3000, rate // 50).astype(np.int16)
        clock = iter(range(0, 10**15, 20))
        fps = per_second(lambda e=endpointer, s=noise, c=clock: e.feed(s, next(c)))
        print(f"VAD endpointer {rate} Hz: {fps:,.0f} frames/s (20 ms frames)")


if __name__ == "__main__":
    main()
