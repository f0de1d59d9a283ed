"""Text-to-speech: first-audio latency, CPU cost and intelligibility through G.711, hibari vs espeak-ng.

    .venv/bin/python bench/tts_bench.py [--repeat 5] [--engine all|hibari|espeak] [--no-wer]

Texts: the five answers of the sample knowledge base (streams/engines/sample_knowledge.json) and the
dialog machine's five fixed prompts (greeting, reprompt, two goodbyes, sorry), 10 in all, 2-9 s each.
Each engine is used directly (no speech cache: every call synthesizes), one thread, after one
warm-up synthesis. Per engine:

    load          constructing the engine (hibari: ONNX session, lexicons, tagger, warm-up)
    whole reply   text → 16 kHz PCM as the TTS worker makes a SpeechSynthesized today: the reply's
                  first audio can leave only when this is done. p50 / max over texts x repeat
    1st sentence  the first sentence alone (what a reply streamed sentence by sentence waits for)
    CPU           process CPU seconds per second of speech produced (whole replies)
    WER           the knowledge answers as a PCMU caller hears them (16 kHz → 8 kHz with the edge's
                  resampler → µ-law → back), transcribed by Whisper base (the platform's STT):
                  word edit distance over reference words; lower-case, no punctuation, numbers
                  spelled as cardinals ("45" = "forty five"), British "harbour" = "harbor"
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.media.codecs.g711 import ulaw_decode, ulaw_encode  # noqa: E402
from edge.media.codecs.resample import TELEPHONY_RATE, resample  # noqa: E402
from sentiric.settings import Settings  # noqa: E402
from streams.agents import speech  # noqa: E402
from streams.dialog.language import for_language  # noqa: E402
from streams.dialog.machine import DEFAULT_POLICY  # noqa: E402
from streams.dialog.prompts import with_caller  # noqa: E402
from streams.dialog.script import CallScript  # noqa: E402
from streams.engines.knowledge import load_knowledge  # noqa: E402
from streams.engines.tts import TextToSpeech  # noqa: E402

ANSWERS = [e.answer for e in for_language(load_knowledge(), "en-US")]  # the English sample business
PROMPTS = [
    with_caller(DEFAULT_POLICY.greeting, None),
    DEFAULT_POLICY.reprompt,
    DEFAULT_POLICY.goodbye_no_input,
    DEFAULT_POLICY.goodbye_dtmf,
    DEFAULT_POLICY.sorry,
]
ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
US_SPELLING = {"harbour": "harbor"}


def cardinal(n: int) -> str:
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    return " ".join(ONES[int(d)] for d in str(n))


def words(text: str) -> list[str]:
    spoken = re.sub(r"\d+", lambda d: f" {cardinal(int(d.group()))} ", text.lower().replace("-", " "))
    return [US_SPELLING.get(w, w) for w in re.sub(r"[^a-z' ]", " ", spoken).split()]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+", text.strip())[0]


def build(name: str) -> tuple[TextToSpeech, float]:
    t0 = time.perf_counter()
    if name == "hibari":
        from streams.engines.hibari import HibariTTS

        engine: TextToSpeech = HibariTTS()
    else:
        from streams.engines.espeak import EspeakTTS

        engine = EspeakTTS()
    return engine, time.perf_counter() - t0


def pct(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples):.1f} ms, max {max(samples):.1f} ms"


def bench(name: str, repeat: int, stt: object | None) -> None:
    engine, load_s = build(name)
    speech.synthesize(CallScript().replied("w", "Warm up."), engine, "en-US")
    whole, first, audio_s = [], [], 0.0
    cpu0 = time.process_time()
    for r in range(repeat):
        for i, text in enumerate(ANSWERS + PROMPTS):
            t0 = time.perf_counter()
            fact = speech.synthesize(CallScript().replied(f"u{r}-{i}", text), engine, "en-US")
            whole.append((time.perf_counter() - t0) * 1000)
            audio_s += len(fact.pcm) / 2 / fact.sample_rate
    cpu = time.process_time() - cpu0
    for _ in range(repeat):
        for i, text in enumerate(ANSWERS + PROMPTS):
            t0 = time.perf_counter()
            speech.synthesize(CallScript().replied(f"s{i}", first_sentence(text)), engine, "en-US")
            first.append((time.perf_counter() - t0) * 1000)
    n = len(ANSWERS + PROMPTS)
    each = audio_s / repeat
    print(f"{name}: load {load_s * 1000:.0f} ms; {n} texts x{repeat}, {each:.1f} s of speech per round")
    print(f"  first audio, whole reply:  {pct(whole)}")
    print(f"  first audio, 1st sentence: {pct(first)}")
    print(f"  CPU: {cpu / audio_s:.4f} CPU-s per second of speech ({100 * cpu / audio_s:.2f} % of a core)")
    if stt is None:
        return
    from streams.engines.whisper import WhisperSTT

    assert isinstance(stt, WhisperSTT)
    errors = ref_words = 0
    for i, text in enumerate(ANSWERS):
        fact = speech.synthesize(CallScript().replied(f"k{i}", text), engine, "en-US")
        line = resample(np.frombuffer(fact.pcm, dtype="<i2"), fact.sample_rate, TELEPHONY_RATE)
        heard = ulaw_decode(ulaw_encode(line)).astype("<i2").tobytes()
        got = stt.transcribe(heard, TELEPHONY_RATE, "en-US").text
        err = edit_distance(words(text), words(got))
        errors, ref_words = errors + err, ref_words + len(words(text))
        if err:
            print(f"    {err} errors: {got!r}")
    print(f"  WER through G.711 (Whisper base): {100 * errors / ref_words:.1f} % ({errors}/{ref_words})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--engine", choices=["all", "hibari", "espeak"], default="all")
    parser.add_argument("--no-wer", action="store_true", help="skip the Whisper intelligibility check")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    stt = None
    if not args.no_wer:
        from streams.engines.whisper import WhisperSTT

        settings = Settings()
        cache = Path(
            os.environ.get("SENTIRIC_CACHE_HOME", Path(tempfile.gettempdir()) / "sentiric-bench-cache")
        )
        stt = WhisperSTT(cache if cache.exists() else settings.cache_dir)
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    for name in ("espeak", "hibari") if args.engine == "all" else (args.engine,):
        bench(name, args.repeat, stt)


if __name__ == "__main__":
    main()
