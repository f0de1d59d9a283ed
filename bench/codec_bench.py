"""Wideband codec throughput on one core: frames per second encoded and decoded, per codec.

Run: taskset -c 0 .venv/bin/python bench/codec_bench.py
Input is the speech fixture (tests/fixtures/media/opening_hours_8k.wav, 1.9 s) resampled to each
codec's rate and looped; every figure is 20 ms frames per second of CPU-bound work, the best of three
passes over 1000 frames, measured with ``time.process_time`` so other processes do not count.
"Transcoder" rows are the media tick's per-call work at the pipeline rate (one decode + one encode,
resampling included); their "calls/core" column is 50 ticks per second per call.
"""

from __future__ import annotations

import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.media.codecs.registry import Codec, Transcoder, default_registry
from edge.media.codecs.resample import resample

FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "media" / "opening_hours_8k.wav"
FRAMES = 1000


def speech(rate: int) -> np.ndarray:
    with wave.open(str(FIXTURE)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return resample(pcm, 8000, rate)


def best_rate(run: Callable[[], int], repeats: int = 3) -> float:
    best = 0.0
    for _ in range(repeats):
        start = time.process_time()
        count = run()
        elapsed = time.process_time() - start
        best = max(best, count / elapsed)
    return best


def frames_for(codec: Codec, rate: int) -> list[bytes]:
    pcm = speech(rate)
    n = rate // 50
    chunks = [pcm[i : i + n].tobytes() for i in range(0, pcm.size - n + 1, n)]
    return [chunks[i % len(chunks)] for i in range(FRAMES)]


def bench_codec(label: str, codec: Codec, rate: int) -> None:
    frames = frames_for(codec, rate)
    payloads: list[bytes] = []

    def encode() -> int:
        encoder = codec.encoder(rate)
        payloads[:] = [encoder.encode(f) for f in frames]
        return len(frames)

    def decode() -> int:
        decoder = codec.decoder()
        for p in payloads:
            decoder.decode(p)
        return len(payloads)

    enc = best_rate(encode)
    dec = best_rate(decode)
    octets = sum(map(len, payloads)) / len(payloads)
    kbps = octets * 8 * 50 / 1000
    print(f"{label:<34} {enc:>10,.0f} {dec:>10,.0f} {octets:>8.1f} {kbps:>7.1f}")


def bench_transcoder(spec: str, pcm_rate: int) -> None:
    codec = default_registry().by_rtpmap(spec)
    pcm = speech(pcm_rate)
    n = pcm_rate // 50
    chunks = [pcm[i : i + n] for i in range(0, pcm.size - n + 1, n)]
    sender = Transcoder(codec, pcm_rate)
    payloads = [sender.encode(chunks[i % len(chunks)]) for i in range(FRAMES)]

    def tick() -> int:
        ours = Transcoder(codec, pcm_rate)
        for i, payload in enumerate(payloads):
            ours.decode(payload)
            ours.encode(chunks[i % len(chunks)])
        return len(payloads)

    ticks = best_rate(tick)
    print(f"transcoder {spec:<14} @ {pcm_rate:>5} Hz {ticks:>10,.0f} {ticks / 50:>10,.0f}")


def main() -> None:
    registry = default_registry()
    print(f"{'codec (PCM rate)':<34} {'enc fr/s':>10} {'dec fr/s':>10} {'oct/fr':>8} {'kbit/s':>7}")
    bench_codec("PCMU (8 kHz)", registry.by_rtpmap("PCMU/8000"), 8000)
    bench_codec("PCMA (8 kHz)", registry.by_rtpmap("PCMA/8000"), 8000)
    bench_codec("G722 (16 kHz)", registry.by_rtpmap("G722/8000"), 16000)
    opus = registry.by_rtpmap("opus/48000/2")
    for rate in (48000, 16000, 8000):
        bench_codec(f"opus (encode {rate // 1000} kHz, decode 48 kHz)", opus, rate)
    print()
    print(f"{'per-call media tick':<34} {'ticks/s':>10} {'calls/core':>10}")
    for spec in ("PCMU/8000", "G722/8000", "opus/48000/2"):
        for pcm_rate in (8000, 16000):
            bench_transcoder(spec, pcm_rate)


if __name__ == "__main__":
    main()
