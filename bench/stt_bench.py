"""Final-transcript latency, CPU cost and WER of the Whisper STT engine, before and after issue 13.

    .venv/bin/python bench/stt_bench.py [--repeat 1] [--threads 1] [--mode all|padded|window|batch]
        [--batch 4]
    .venv/bin/python bench/stt_bench.py --mode pause

Clips: the three committed speech fixtures plus 17 more sentences synthesized the same way
(espeak-ng en-us 150 wpm → 8 kHz → G.711 µ-law → 16 kHz: a phone line), 20 in all, 1.3-8 s, the
longest 8 s so its window grows to 10 s. Per clip and mode the transcript is computed
after the whole clip is available, so the call's wall time is the final result's latency after the
audio ends. Modes:

    padded  WhisperModel.transcribe(): every utterance padded to a 30 s window (the engine before)
    window  WhisperSTT.transcribe(): generate() on an 8 s / audio + 2 s window (the engine now)
    batch   WhisperSTT.transcribe_many() on groups of --batch clips, as if that many callers had
            stopped speaking at the same moment (one batch per window size): latency is the group's
    pause   each clip at 8 kHz with 1 s of silence after it through the edge's endpointer on the
            platform's defaults: the final's audio and its pause chunk's (joined); where the worker
            takes the pause chunk's transcript for the final (streams.agents.partials ``final``), how
            often decoding the final's own audio would have said other words

Prints per mode: latency p50 / max (ms), CPU-seconds per audio-second (process CPU time over
the clips' total duration) and WER (word edit distance over reference words, lower-case, no
punctuation, digits spelled).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SPEECH = ROOT / "tests" / "fixtures" / "speech"
FIXTURES = {
    "opening_hours_16k.wav": "what are your opening hours",
    "where_are_you_16k.wav": "where is your shop",
    "goodbye_16k.wav": "thank you goodbye",
}
SENTENCES = [
    "when are you open",
    "what time do you close on saturday",
    "what is your address",
    "how much does a service cost",
    "can i book an appointment for tomorrow morning",
    "i would like to speak to a person please",
    "my order number is four five six",
    "do you have parking near the shop",
    "i want to cancel my booking",
    "is the shop open on sunday",
    "please send me the invoice by email",
    "can you call me back later today",
    "my name is john smith",
    "the delivery did not arrive yesterday",
    "how long does the repair take",
    "do you accept credit cards",
    "i called last week about a broken screen on my phone and nobody has called me back since then"
    " so i am calling again",
]


def phone_line(text: str) -> bytes:
    sys.path.insert(0, str(SPEECH))
    from generate import phone_line as synth  # the fixtures' own recipe

    return np.asarray(synth(text)).astype("<i2").tobytes()


def clips() -> list[tuple[str, bytes]]:
    out = []
    for name, ref in FIXTURES.items():
        with wave.open(str(SPEECH / name)) as w:
            out.append((ref, w.readframes(w.getnframes())))
    out.extend((s, phone_line(s)) for s in SENTENCES)
    return out


DIGITS = "zero one two three four five six seven eight nine".split()


def words(text: str) -> list[str]:
    # digits as the words spoken ("456" for "four five six" is right, "4.6" still misses one)
    spelled = re.sub(r"[0-9]", lambda d: f" {DIGITS[int(d.group())]} ", text.lower())
    return re.sub(r"[^a-z' ]", " ", spelled).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def run(mode: str, stt: object, data: list[tuple[str, bytes]], repeat: int, batch: int) -> None:
    from streams.engines.whisper import WhisperSTT, pcm_to_float

    assert isinstance(stt, WhisperSTT)
    latencies, errors, ref_words, audio_s, misses = [], 0, 0, 0.0, []
    cpu0 = time.process_time()
    size = batch if mode == "batch" else 1
    for start in range(0, len(data), size):
        group = data[start : start + size]
        for _ in range(repeat):
            t0 = time.perf_counter()
            if mode == "padded":
                with stt._lock:  # the engine's old path, kept for utterances longer than a window
                    texts = [stt._transcribe_long(pcm_to_float(group[0][1], 16000), "en-US").text]
            else:
                texts = [t.text for t in stt.transcribe_many([(pcm, 16000, "en-US") for _, pcm in group])]
            latencies.append((time.perf_counter() - t0) * 1000)
            audio_s += sum(len(pcm) for _, pcm in group) / 2 / 16000
        for (ref, _), text in zip(group, texts, strict=True):
            err = edit_distance(words(ref), words(text))
            errors, ref_words = errors + err, ref_words + len(words(ref))
            if err:
                misses.append(f"{ref!r} -> {text!r}")
    cpu = time.process_time() - cpu0
    print(
        f"{mode:7s} {len(data)} clips x{repeat} in groups of {size}:"
        f" latency after end p50 {statistics.median(latencies):.0f} ms,"
        f" max {max(latencies):.0f} ms; {cpu / audio_s:.3f} CPU-s per audio-s;"
        f" WER {100 * errors / ref_words:.1f} % ({errors}/{ref_words})"
    )
    for m in misses:
        print(f"    {m}")


def pause_vs_final(stt: object, data: list[tuple[str, bytes]]) -> None:
    """Mode ``pause``: is a final that only adds silence to its pause chunk heard as the same words?"""
    import soxr

    from edge.media.vad.endpointer import Endpointer, EndpointerConfig, UtteranceEnded, UtteranceGrew
    from schemas import models as m
    from sentiric.settings import Settings
    from streams.agents.partials import Partials
    from streams.dialog.script import CallScript
    from streams.engines.whisper import WhisperSTT

    assert isinstance(stt, WhisperSTT)
    settings = Settings()
    config = EndpointerConfig(
        end_silence_ms=settings.vad_end_silence_ms,
        chunk_ms=settings.partial_audio_ms,
        pause_ms=settings.vad_pause_ms,
    )
    taken, same, same_words, misses = 0, 0, 0, []
    for ref, pcm16 in data:
        audio = soxr.resample(np.frombuffer(pcm16, dtype="<i2"), 16000, 8000).astype("<i2")
        audio = np.concatenate([audio, np.zeros(8000, dtype="<i2")])
        endpointer, partials, script = Endpointer(config), Partials(), CallScript()
        final: bytes | None = None
        for i in range(0, audio.size - 159, 160):
            for event in endpointer.feed(audio[i : i + 160].tobytes(), i // 8):
                if isinstance(event, UtteranceGrew):
                    chunk = script.fact(
                        m.UtteranceChunkCaptured, utterance_id="u", index=event.index, sample_rate=8000,
                        pcm=event.pcm, pause=event.pause,
                    )  # fmt: skip
                    partials.add(b"k", chunk)
                    for waiting in partials.take(float("inf")):
                        if waiting.chunk.pause:
                            text = stt.transcribe(waiting.pcm, 8000, "en-US").text
                            heard = script.fact(m.UtteranceTranscribed, utterance_id="u", text=text)
                            partials.heard(waiting, heard)
                elif isinstance(event, UtteranceEnded) and final is None:
                    final = event.pcm
        if final is None:
            continue
        at_pause = partials.final("u", final, 8000)
        if at_pause is None:
            continue
        taken += 1
        own = stt.transcribe(final, 8000, "en-US").text
        same += own == at_pause.text
        same_words += words(own) == words(at_pause.text)
        if own != at_pause.text:
            misses.append(f"{ref!r}: pause {at_pause.text!r}, final {own!r}")
    print(
        f"pause   {len(data)} clips: {taken} finals take their pause chunk's transcript; a decode of the"
        f" final's own audio says the same text for {same}, the same words for {same_words}"
    )
    for miss in misses:
        print(f"    {miss}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="CTranslate2 cpu_threads (0: its default)")
    parser.add_argument("--mode", choices=["all", "window", "padded", "batch", "pause"], default="all")
    parser.add_argument("--batch", type=int, default=4, help="clips per transcribe_many() in mode batch")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from streams.engines.whisper import WhisperSTT

    cache = Path(os.environ.get("SENTIRIC_CACHE_HOME", Path(tempfile.gettempdir()) / "sentiric-bench-cache"))
    stt = WhisperSTT(cache, cpu_threads=args.threads)
    data = clips()
    total = sum(len(p) for _, p in data) / 2 / 16000
    load = os.getloadavg()[0]
    print(f"{len(data)} clips, {total:.1f} s of audio, cpu_threads={args.threads}, load {load:.1f}")
    stt.transcribe(data[0][1], 16000, "en-US")  # warm-up: first-call allocations
    for mode in ("padded", "window", "batch", "pause") if args.mode == "all" else (args.mode,):
        if mode == "pause":
            pause_vs_final(stt, data)
        else:
            run(mode, stt, data, args.repeat, args.batch)


if __name__ == "__main__":
    main()
