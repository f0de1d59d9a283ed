"""Turn-taking: end-of-turn delay and premature turn ends against the endpointer's end silence.

Run: taskset -c 0 .venv/bin/python bench/turn_bench.py [--silences 250,350,500,700] [--pauses 300,500,800]
     [--hold 0.8] [--voices espeak,hibari]

Callers: sentences spoken in two parts with a mid-sentence pause between them ("My order number is"
… "four five six"), each part synthesized alone (espeak-ng en-us 160 wpm; hibari-tts 0.2.1's "heart"
voice, a neural one, when installed), resampled to 8 kHz, through G.711 µ-law, trimmed to its sound,
and joined by ``--pauses`` ms of line noise (-60 dBFS white noise, below the endpointer's -50 dBFS
floor), with 0.5 s of it before and 2 s after. Plus the same sentences said without a pause, to see
what the completeness rule costs a caller who finished.

Each clip runs through the real endpointer (``edge.media.vad.endpointer``, Silero VAD, 20 ms frames,
the defaults of ``sentiric.settings`` but for ``end_silence_ms``) and every utterance it emits through
the real STT (Whisper base, ``streams.engines.whisper.WhisperSTT``, what the edge's facts meet in the
worker). Figures per end silence:

- end-of-turn delay: from the end of the last voiced sample of the sentence to the moment the
  endpointer emits its utterance (the frame it ends on), median / p95 / max, ms;
- split: the share of paused sentences the endpointer cut into more than one utterance (each cut is a
  premature turn end for a dialog that answers every utterance, as before this bench);
- premature with the completeness rule (``streams.dialog.completeness.looks_unfinished``) and the
  reducer's holds: a cut whose continuation starts (its ``SpeechStarted``) after the first part's
  final transcript reached the dialog (``--stt-ms`` after the cut) if that transcript reads
  finished, or more than ``--hold`` s after it if it reads unfinished; in all, and
  split into the sentences whose first part the rule can judge (a value or clause must follow) and
  those whose first part is a sentence by itself ("I need help" … "with my bill": no text rule can
  tell; a turn model on the audio might);
- held finished sentences: of the sentences said without a pause, the share whose final transcript
  the rule calls unfinished (the caller then waits ``--hold`` s more for the reply);
- turn delay with the rule: the end-of-turn delay plus ``--hold`` when the final transcript reads
  unfinished (STT time excluded: it is ``bench/stt_bench.py``'s, and noisy on a shared box).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.media.codecs.g711 import ulaw_decode, ulaw_encode  # noqa: E402
from edge.media.codecs.resample import resample  # noqa: E402
from edge.media.vad.endpointer import Endpointer, EndpointerConfig, SpeechStarted, UtteranceEnded  # noqa: E402
from streams.dialog.completeness import looks_unfinished  # noqa: E402

RATE = 8000
FRAME = RATE // 50
LEAD_MS, TAIL_MS = 500, 2000
Pcm = npt.NDArray[np.int16]

# (first part, rest): the pause goes between them. Most cut where a value or a clause must follow;
# the last few after a part that is a sentence by itself, where no text rule can tell.
SENTENCES: list[tuple[str, str]] = [
    ("My order number is", "four five six"),
    ("My account number is", "seven eight nine two"),
    ("The delivery address is", "twelve High Street"),
    ("I would like to", "check the status of my order"),
    ("Can you tell me", "where the nearest shop is"),
    ("I am calling about", "the invoice from last week"),
    ("I want to cancel my subscription and", "get a refund"),
    ("My name is", "John Smith"),
    ("I was wondering if", "you are open on Sunday"),
    ("It is about the", "parcel that never arrived"),
    ("Could you send it to", "my office instead"),
    ("My phone number is", "oh seven seven double nine"),
    ("I need help", "with my bill"),
    ("The order arrived yesterday", "but it was broken"),
    ("I'd like to speak to someone", "about my contract"),
]
WHOLE_HEADS: frozenset[int] = frozenset({12, 13, 14})
"""The sentences whose first part is a sentence by itself: premature there is the text rule's limit."""


@dataclass(frozen=True, slots=True)
class Clip:
    voice: str
    sentence: int
    pause_ms: int  # 0: said without a pause
    pcm: Pcm
    voice_end_ms: int  # end of the last voiced sample, from the clip's start
    resume_ms: int | None  # where the second part's sound starts (None without a pause)


def to_line(pcm: Pcm, rate: int) -> Pcm:
    """8 kHz through G.711 µ-law, trimmed to its sound (frames above -50 dBFS)."""
    line = ulaw_decode(ulaw_encode(resample(pcm.astype(np.int16), rate, RATE)))
    frames = line[: line.size // FRAME * FRAME].astype(np.float64).reshape(-1, FRAME)
    db = 10 * np.log10(np.mean(frames**2, axis=1) / 32768**2 + 1e-12)
    loud = np.flatnonzero(db > -50)
    return line[loud[0] * FRAME : (loud[-1] + 1) * FRAME]


def espeak(text: str) -> Pcm:
    out = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "160", "--stdout", text], capture_output=True, check=True
    )
    with wave.open(BytesIO(out.stdout)) as w:
        return to_line(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate())


def hibari_voice() -> Callable[[str], Pcm] | None:
    try:
        from hibari import SAMPLE_RATE, Hibari
    except ImportError:
        return None
    tts = Hibari(threads=1)

    def say(text: str) -> Pcm:
        audio = np.asarray(tts(text, seed=0), dtype=np.float64)
        return to_line(np.clip(audio * 32767, -32768, 32767).astype(np.int16), SAMPLE_RATE)

    return say


def noise(ms: int, seed: int) -> Pcm:
    level = 32768 * 10 ** (-60 / 20)
    return np.random.default_rng(seed).normal(0, level, RATE * ms // 1000).astype(np.int16)


def build(voices: dict[str, Callable[[str], Pcm]], pauses: list[int]) -> list[Clip]:
    clips = []
    for voice, say in voices.items():
        for i, (head, rest) in enumerate(SENTENCES):
            a, b = say(head), say(rest)
            whole = say(f"{head} {rest}")
            for pause in [0, *pauses]:
                seed = i * 1000 + pause
                if pause:
                    body = np.concatenate([a, noise(pause, seed), b])
                    resume = LEAD_MS + (a.size + RATE * pause // 1000) * 1000 // RATE
                else:
                    body, resume = whole, None
                pcm = np.concatenate([noise(LEAD_MS, seed + 1), body, noise(TAIL_MS, seed + 2)])
                clips.append(Clip(voice, i, pause, pcm, LEAD_MS + body.size * 1000 // RATE, resume))
    return clips


@dataclass(frozen=True, slots=True)
class Cut:
    emitted_ms: int  # end of the frame the utterance ended on
    pcm: bytes


def endpoint(clip: Clip, end_silence_ms: int) -> tuple[list[Cut], list[int]]:
    """The utterances the endpointer emits for the clip, and the times of its SpeechStarted events."""
    endpointer = Endpointer(EndpointerConfig(end_silence_ms=end_silence_ms))
    cuts, onsets = [], []
    for k in range(clip.pcm.size // FRAME):
        for event in endpointer.feed(clip.pcm[k * FRAME : (k + 1) * FRAME], k * 20):
            if isinstance(event, UtteranceEnded):
                cuts.append(Cut(k * 20 + 20, event.pcm))
            elif isinstance(event, SpeechStarted):
                onsets.append(k * 20 + 20)
    return cuts, onsets


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--silences", default="250,350,500,700")
    parser.add_argument("--pauses", default="300,500,800")
    parser.add_argument(
        "--hold", type=float, default=0.8, help="the reducer's hold after an unfinished transcript, s"
    )
    parser.add_argument(
        "--stt-ms",
        type=float,
        default=150.0,
        help="from an utterance's end to its final transcript at the dialog (the streaming STT's final"
        " result, issue 13: ~121 ms p50; not this bench's own Whisper time, which is noisy when shared)",
    )
    parser.add_argument("--voices", default="espeak,hibari")
    parser.add_argument("--show", action="store_true", help="print every cut's transcript")
    args = parser.parse_args()
    silences = [int(x) for x in args.silences.split(",")]
    pauses = [int(x) for x in args.pauses.split(",")]

    voices: dict[str, Callable[[str], Pcm]] = {}
    for name in args.voices.split(","):
        if name == "espeak":
            voices["espeak"] = espeak
        elif name == "hibari":
            say = hibari_voice()
            if say is None:
                print("hibari-tts not installed: espeak-ng only")
            else:
                voices["hibari"] = say
    clips = build(voices, pauses)

    from streams.engines.whisper import WhisperSTT

    cache = Path(os.environ.get("SENTIRIC_CACHE_HOME", Path(tempfile.gettempdir()) / "sentiric-bench-cache"))
    stt = WhisperSTT(cache, cpu_threads=1)
    memo: dict[bytes, tuple[str, float]] = {}

    def transcribe(pcm: bytes) -> tuple[str, float]:
        if pcm not in memo:
            start = time.perf_counter()
            text = stt.transcribe(pcm, RATE, "en-US").text
            memo[pcm] = (text, (time.perf_counter() - start) * 1000)
        return memo[pcm]

    print(
        f"{len(SENTENCES)} sentences x voices {', '.join(voices)} x pauses {pauses} ms"
        f" (+ said without a pause); hold {args.hold:.1f} s"
    )
    print(
        "end_silence voice | end-of-turn delay ms p50/p95/max | split (no rule) | premature with rule |"
        " (judgeable + whole heads) | finished held | turn delay with rule (+ hold) p50/p95 ms"
    )
    for silence in silences:
        for voice in voices:
            row(
                silence,
                voice,
                [c for c in clips if c.voice == voice],
                transcribe,
                args.hold,
                args.stt_ms,
                args.show,
            )


def row(
    silence: int,
    voice: str,
    clips: list[Clip],
    transcribe: Callable[[bytes], tuple[str, float]],
    hold_s: float,
    stt_ms: float,
    show: bool,
) -> None:
    delays, turn_delays = [], []
    paused = split = premature = 0
    whole_heads = premature_whole_heads = 0  # sentences whose first part is a sentence by itself
    whole = held_whole = 0
    examples: list[str] = []
    for clip in clips:
        cuts, onsets = endpoint(clip, silence)
        if not cuts:
            print(f"   no utterance: {clip.voice} #{clip.sentence} pause {clip.pause_ms}")
            continue
        last = cuts[-1]
        delay = last.emitted_ms - clip.voice_end_ms
        delays.append(delay)
        final_text, _ = transcribe(last.pcm)
        extra = hold_s * 1000 if looks_unfinished(final_text) else 0.0
        turn_delays.append(delay + extra)
        if clip.pause_ms == 0:
            whole += 1
            held_whole += extra > 0
            if extra and show:
                print(f"   held finished: {final_text!r}")
            continue
        paused += 1
        whole_heads += clip.sentence in WHOLE_HEADS
        if len(cuts) == 1:
            continue
        split += 1
        cut_premature = False
        for cut, after in itertools.pairwise(cuts):
            text, _ = transcribe(cut.pcm)
            resumed = [t for t in onsets if t > cut.emitted_ms]
            transcript_at = cut.emitted_ms + stt_ms
            # The reducer holds a transcript that reads unfinished for ``hold`` s, and any transcript
            # that comes after the caller started speaking again (``machine._speaking_again``).
            wait = hold_s * 1000 if looks_unfinished(text) else 0.0
            early = not resumed or resumed[0] > transcript_at + wait
            cut_premature = cut_premature or early
            if show or (early and len(examples) < 4):
                mark = "premature" if early else "held"
                examples.append(f"{mark} ({clip.pause_ms} ms): {text!r} | {transcribe(after.pcm)[0]!r}")
        premature += cut_premature
        premature_whole_heads += cut_premature and clip.sentence in WHOLE_HEADS
    print(
        f"{silence:8d} ms {voice:6} | {np.median(delays):5.0f} / {pct(delays, 0.95):5.0f}"
        f" / {max(delays):5.0f}"
        f"            | {split:3d}/{paused} = {100 * split / paused:5.1f} %"
        f" | {premature:3d}/{paused} = {100 * premature / paused:5.1f} %"
        f" ({premature - premature_whole_heads}/{paused - whole_heads}"
        f" + {premature_whole_heads}/{whole_heads} whole heads)"
        f" | {held_whole:2d}/{whole}"
        f" | {statistics.median(turn_delays):5.0f} / {pct(turn_delays, 0.95):5.0f}"
    )
    for line in examples:
        print(f"      {line}")


if __name__ == "__main__":
    main()
