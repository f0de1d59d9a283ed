"""Turn-taking: end-of-turn delay and premature turn ends against the endpointer's end silence.

Run: taskset -c 0 .venv/bin/python bench/turn_bench.py [--silences 250,350,500,700] [--pauses 300,500,800]
     [--hold 0.8] [--voices espeak,hibari[,piper --piper-wavs DIR]]
     [--turn-model smart-turn --smart-turn PATH [--turn-silences 200,300] [--fallback 500]
      [--thresholds 0.5,0.9]]

Callers: sentences spoken in two parts with a mid-sentence pause between them ("My order number is"
… "four five six"), each part synthesized alone (espeak-ng en-us 160 wpm; hibari-tts 0.2.1's "heart"
voice, a neural one, when installed; Piper's "joe" voice, another neural one, from the WAVs that
``bench/piper_clips.py`` writes: ``--piper-wavs``), resampled to 8 kHz, through G.711 µ-law, trimmed
to its sound, and joined by ``--pauses`` ms of line noise (-60 dBFS white noise, below the
endpointer's -50 dBFS floor), with 0.5 s of it before and 2 s after. Plus the same sentences said
without a pause, to see what the completeness rule costs a caller who finished.

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

Turn model (``--turn-model smart-turn``): smart-turn v3.2 (pipecat's, BSD-2, an 8.7 MB ONNX model
inside the ``pipecat-ai`` wheel; not a platform dependency). Get it without installing pipecat:

    .venv/bin/pip download pipecat-ai==1.14.0 --no-deps -d /tmp/pipecat-wheel
    unzip -o /tmp/pipecat-wheel/pipecat_ai-1.14.0-py3-none-any.whl \\
        'pipecat/audio/turn/smart_turn/data/*.onnx' -d /tmp/pipecat-wheel
    --smart-turn /tmp/pipecat-wheel/pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx

It is fed as pipecat's ``LocalSmartTurnAnalyzerV3`` feeds it: the turn's audio from 0.5 s before its
speech (plus the VAD's start time) to the moment of the decision, as float in [-1, 1] at 16 kHz (the
8 kHz line resampled with libsoxr HQ), its last 8 s, zero-padded at the start to 8 s, normalized to
zero mean and unit variance, as 80 Whisper log-mel bins x 800 frames (faster-whisper's STFT and mel
filters, in float64: bit for bit the features pipecat computes with its numpy copy of transformers'
``WhisperFeatureExtractor``, and so its probabilities); the model's output is the
probability that the turn is complete. On one onnxruntime thread. Two tables:

- separation, per decision silence S, voice and band: the model on "the first part, cut at its
  mid-sentence pause" (incomplete; the sentences whose first part is a sentence by itself apart, as
  "whole heads") and on "the whole sentence" (complete: said without a pause, and each paused
  sentence to its end), each followed by S ms of line noise; the share decided right at each
  ``--thresholds`` value, the mean probabilities, and the AUC (the chance that a complete sentence
  scores above a cut-off first part, whole heads left out: 0.5 is no separation). Band ``line`` is
  what the platform hears (8 kHz µ-law); ``wide`` the voice's own audio at 16 kHz, to tell what the
  telephone band costs the model from what the voice does;
- the rule "end the turn after ``S`` ms of silence when the model says complete (probability above
  the threshold), else after ``--fallback`` ms", with everything after the endpointer as today (the
  reducer's completeness rule, holds and speaking-again), figures as above, next to today's rule at
  ``--fallback`` ms measured directly. Simulated on the endpointer at ``S``: each of its cuts asks the
  model; a cut it calls incomplete waits ``fallback - S`` ms more and is no cut if the caller's next
  ``SpeechStarted`` comes before (the endpointer at ``fallback`` would not have cut; its utterance then
  runs on, and is transcribed whole). The row with threshold ``never`` (the model never says complete)
  is that simulation of today's rule, to check it against the direct one.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

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
WIDE = 16000  # the turn model's rate, and the band of the ``wide`` control
LEAD_MS, TAIL_MS = 500, 2000
PRE_SPEECH_MS = 500  # pipecat's: the turn model hears this much before the speech's onset
Pcm = npt.NDArray[np.int16]
Wave = npt.NDArray[np.float32]

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
class Said:
    """One part of a sentence (or a whole one) as a caller says it."""

    line: Pcm  # 8 kHz through G.711 µ-law, trimmed to its sound: what the platform hears
    wide: Pcm  # the voice's own audio at 16 kHz, trimmed to the same span (no telephone band)


Voice = Callable[[str], Said]


@dataclass(frozen=True, slots=True)
class Sentence:
    head: Said
    rest: Said
    whole: Said  # head and rest said as one sentence


@dataclass(frozen=True, slots=True)
class Clip:
    voice: str
    sentence: int
    pause_ms: int  # 0: said without a pause
    pcm: Pcm
    voice_end_ms: int  # end of the last voiced sample, from the clip's start
    resume_ms: int | None  # where the second part's sound starts (None without a pause)


def said(pcm: Pcm, rate: int) -> Said:
    """8 kHz through G.711 µ-law, trimmed to its sound (frames above -50 dBFS); and the same span of
    the voice's own audio at 16 kHz."""
    line = ulaw_decode(ulaw_encode(resample(pcm.astype(np.int16), rate, RATE)))
    frames = line[: line.size // FRAME * FRAME].astype(np.float64).reshape(-1, FRAME)
    db = 10 * np.log10(np.mean(frames**2, axis=1) / 32768**2 + 1e-12)
    loud = np.flatnonzero(db > -50)
    first, last = int(loud[0]), int(loud[-1]) + 1
    wide = resample(pcm.astype(np.int16), rate, WIDE)
    wide_frame = WIDE // 50
    return Said(line[first * FRAME : last * FRAME], wide[first * wide_frame : last * wide_frame])


def espeak(text: str) -> Said:
    out = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "160", "--stdout", text], capture_output=True, check=True
    )
    with wave.open(BytesIO(out.stdout)) as w:
        return said(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate())


def hibari_voice() -> Voice | None:
    try:
        from hibari import SAMPLE_RATE, Hibari
    except ImportError:
        return None
    tts = Hibari(threads=1)

    def say(text: str) -> Said:
        audio = np.asarray(tts(text, seed=0), dtype=np.float64)
        return said(np.clip(audio * 32767, -32768, 32767).astype(np.int16), SAMPLE_RATE)

    return say


def piper_voice(wavs: Path) -> Voice:
    """The WAVs ``bench/piper_clips.py`` wrote: ``{i:02d}-a.wav``, ``-b.wav`` and ``-whole.wav``."""
    files: dict[str, Path] = {}
    for i, (head, rest) in enumerate(SENTENCES):
        for part, text in (("a", head), ("b", rest), ("whole", f"{head} {rest}")):
            files[text] = wavs / f"{i:02d}-{part}.wav"

    def say(text: str) -> Said:
        with wave.open(str(files[text])) as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise SystemExit(f"{files[text]}: not mono 16-bit")
            return said(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate())

    return say


def noise(ms: int, seed: int, rate: int = RATE) -> Pcm:
    level = 32768 * 10 ** (-60 / 20)
    return np.random.default_rng(seed).normal(0, level, rate * ms // 1000).astype(np.int16)


def synthesize(voices: dict[str, Voice]) -> dict[str, list[Sentence]]:
    return {
        voice: [Sentence(say(head), say(rest), say(f"{head} {rest}")) for head, rest in SENTENCES]
        for voice, say in voices.items()
    }


def build(spoken: dict[str, list[Sentence]], pauses: list[int]) -> list[Clip]:
    clips = []
    for voice, sentences in spoken.items():
        for i, sentence in enumerate(sentences):
            a, b, whole = sentence.head.line, sentence.rest.line, sentence.whole.line
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
    start_ms: int  # the utterance's audio: clip.pcm from start_ms to end_ms
    end_ms: int
    pcm: bytes


def endpoint(clip: Clip, end_silence_ms: int) -> tuple[list[Cut], list[int]]:
    """The utterances the endpointer emits for the clip, and the times of its SpeechStarted events."""
    endpointer = Endpointer(EndpointerConfig(end_silence_ms=end_silence_ms))
    cuts, onsets = [], []
    for k in range(clip.pcm.size // FRAME):
        for event in endpointer.feed(clip.pcm[k * FRAME : (k + 1) * FRAME], k * 20):
            if isinstance(event, UtteranceEnded):
                cuts.append(Cut(k * 20 + 20, event.start_ms, event.end_ms, event.pcm))
            elif isinstance(event, SpeechStarted):
                onsets.append(k * 20 + 20)
    return cuts, onsets


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class SmartTurn:
    """smart-turn v3 as pipecat's ``LocalSmartTurnAnalyzerV3`` runs it, without pipecat: the
    probability that the turn in a 16 kHz float waveform (ending at the moment of the decision) is
    complete. Memoized by audio; ``feature_ms`` and ``model_ms`` time each decision computed."""

    WINDOW = 8 * WIDE

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort
        from faster_whisper.feature_extractor import FeatureExtractor

        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session: Any = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        # Whisper's mel filters and STFT, from faster-whisper, in float64 as transformers computes
        # them (faster-whisper's own __call__ is complex64: within 2e-6, but the int8 model's input
        # quantization turns such differences into steps of ~0.01 in its probability)
        self.stft: Any = FeatureExtractor.stft
        self.mel_filters = np.asarray(FeatureExtractor.get_mel_filters(WIDE, 400, n_mels=80), np.float64)
        self.window = np.hanning(401)[:-1]
        self.feature_ms: list[float] = []
        self.model_ms: list[float] = []
        self.memo: dict[bytes, float] = {}

    def probability(self, audio: Wave) -> float:
        key = hashlib.sha1(audio.tobytes()).digest()
        if key not in self.memo:
            start = time.perf_counter()
            x = audio[-self.WINDOW :].astype(np.float32)
            x = np.pad(x, (self.WINDOW - x.size, 0))  # zeros before: pipecat's padding
            x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)  # WhisperFeatureExtractor's do_normalize
            features = self.log_mel(x)
            mid = time.perf_counter()
            out = self.session.run(None, {"input_features": features[np.newaxis]})
            self.memo[key] = float(np.asarray(out[0]).ravel()[0])
            self.feature_ms.append((mid - start) * 1000)
            self.model_ms.append((time.perf_counter() - mid) * 1000)
        return self.memo[key]

    def log_mel(self, x: Wave) -> Wave:
        """Whisper's log-mel features of 8 s at 16 kHz, (80, 800)."""
        stft = self.stft(x.astype(np.float64), 400, 160, window=self.window, return_complex=True)
        power = np.abs(stft[:, :-1]) ** 2
        log = np.log10(np.maximum(self.mel_filters @ power, 1e-10))
        log = np.maximum(log, log.max() - 8.0)
        features: Wave = np.asarray((log + 4.0) / 4.0, dtype=np.float32)
        return features

    def line(self, pcm: Pcm) -> float:
        """The probability for 8 kHz line audio, resampled to 16 kHz as pipecat does: as float (an
        int16 round trip adds quantization noise to the empty 4-8 kHz band, which moves the model's
        probability by up to 0.15 on these clips)."""
        import soxr

        audio = soxr.resample(self.wide(pcm), RATE, WIDE, quality="HQ")
        return self.probability(np.asarray(audio, dtype=np.float32))

    @staticmethod
    def wide(pcm: Pcm) -> Wave:
        return (pcm.astype(np.float32) / 32768.0).astype(np.float32)


def auc(positives: list[float], negatives: list[float]) -> float:
    """The chance that a positive scores above a negative (ties count half)."""
    pairs = [(p > n) + 0.5 * (p == n) for p in positives for n in negatives]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def separation(
    model: SmartTurn,
    spoken: dict[str, list[Sentence]],
    pauses: list[int],
    silences: list[int],
    thresholds: list[float],
) -> None:
    """Does the model tell a first part cut at its pause from a whole sentence, S ms after each?"""
    print(
        "\nsmart-turn separation: each sample followed by S ms of line noise; right = complete scored"
        " above the threshold, cut-off at or below it"
    )
    print(
        "  S voice  band | thr  | complete right (mean p) | cut-off right (mean p)"
        " | whole heads called incomplete (mean p) | AUC complete vs cut-off"
    )
    for silence, (voice, sentences), band in itertools.product(silences, spoken.items(), ("line", "wide")):
        rate = RATE if band == "line" else WIDE

        def score(
            parts: list[Pcm], seed: int, rate: int = rate, band: str = band, tail: int = silence
        ) -> float:
            pcm = np.concatenate([noise(LEAD_MS, seed, rate), *parts, noise(tail, seed + 1, rate)])
            return model.line(pcm) if band == "line" else model.probability(SmartTurn.wide(pcm))

        complete: list[float] = []
        cut_off: list[float] = []
        whole_heads: list[float] = []
        for i, s in enumerate(sentences):
            head, rest, whole = (getattr(x, band) for x in (s.head, s.rest, s.whole))
            seed = i * 1000 + 7
            complete.append(score([whole], seed))
            for pause in pauses:
                complete.append(score([head, noise(pause, seed + pause, rate), rest], seed))
            (whole_heads if i in WHOLE_HEADS else cut_off).append(score([head], seed))
        for threshold in thresholds:
            right_complete = sum(p > threshold for p in complete)
            right_cut = sum(p <= threshold for p in cut_off)
            heads_incomplete = sum(p <= threshold for p in whole_heads)
            print(
                f"{silence:4d} {voice:6} {band:4} | {threshold:.2f}"
                f" | {right_complete:3d}/{len(complete)} = {100 * right_complete / len(complete):5.1f} %"
                f" ({statistics.mean(complete):.2f})"
                f" | {right_cut:3d}/{len(cut_off)} = {100 * right_cut / len(cut_off):5.1f} %"
                f" ({statistics.mean(cut_off):.2f})"
                f" | {heads_incomplete}/{len(whole_heads)} ({statistics.mean(whole_heads):.2f})"
                f" | {auc(complete, cut_off):.2f}"
            )


def rule_row(
    silence: int,
    fallback: int,
    threshold: float | None,
    voice: str,
    clips: list[Clip],
    model: SmartTurn,
    transcribe: Callable[[bytes], tuple[str, float]],
    hold_s: float,
    stt_ms: float,
) -> None:
    """The rule "end the turn after ``silence`` ms if the model says complete, else after
    ``fallback`` ms", on the endpointer at ``silence``; ``threshold`` None: the model never says so."""
    start_ms = EndpointerConfig().start_ms
    delays, turn_delays = [], []
    paused = premature = whole_heads = premature_whole_heads = 0
    whole = held_whole = early_ends = ends = 0
    examples: list[str] = []
    for clip in clips:
        cuts, onsets = endpoint(clip, silence)
        if not cuts:
            print(f"   no utterance: {clip.voice} #{clip.sentence} pause {clip.pause_ms}")
            continue
        turn_from = onsets[0] if onsets else 0  # the onset of the turn's speech
        span_from: int | None = None  # the start of an utterance the fallback did not cut
        cut_premature = False
        for k, cut in enumerate(cuts):
            resumed = next((t for t in onsets if t > cut.emitted_ms), None)
            audio_from = max(0, turn_from - start_ms - PRE_SPEECH_MS) * RATE // 1000
            if threshold is None:
                complete = False
            else:
                p = model.line(clip.pcm[audio_from : cut.emitted_ms * RATE // 1000])
                complete = p > threshold
            cut_at = cut.emitted_ms if complete else cut.emitted_ms + fallback - silence
            if not complete and resumed is not None and resumed <= cut_at:
                span_from = cut.start_ms if span_from is None else span_from
                continue  # no cut at the fallback silence: the utterance goes on
            utterance = cut.pcm
            if span_from is not None:
                utterance = clip.pcm[span_from * RATE // 1000 : cut.end_ms * RATE // 1000].tobytes()
                span_from = None
            text, _ = transcribe(utterance)
            hold = hold_s * 1000 if looks_unfinished(text) else 0.0
            if k == len(cuts) - 1:
                delay = cut_at - clip.voice_end_ms
                delays.append(delay)
                turn_delays.append(delay + hold)
                ends += 1
                early_ends += complete
                if clip.pause_ms == 0:
                    held_whole += hold > 0
                break
            # The reducer: a transcript that reads unfinished is held, one after the caller's next
            # SpeechStarted waits for the rest.
            assert resumed is not None
            if resumed > cut_at + stt_ms + hold:
                cut_premature = True
                ends += 1
                early_ends += complete
                turn_from = resumed
                if len(examples) < 4:
                    examples.append(f"premature ({clip.pause_ms} ms): {text!r}")
        if clip.pause_ms == 0:
            whole += 1
            continue
        paused += 1
        whole_heads += clip.sentence in WHOLE_HEADS
        premature += cut_premature
        premature_whole_heads += cut_premature and clip.sentence in WHOLE_HEADS
    label = "never" if threshold is None else f"{threshold:5.2f}"
    print(
        f"{silence:4d}/{fallback} ms {label} {voice:6} | {np.median(delays):5.0f} / {pct(delays, 0.95):5.0f}"
        f" / {max(delays):5.0f}"
        f" | {premature:3d}/{paused} = {100 * premature / paused:5.1f} %"
        f" ({premature - premature_whole_heads}/{paused - whole_heads}"
        f" + {premature_whole_heads}/{whole_heads} whole heads)"
        f" | {held_whole:2d}/{whole}"
        f" | {statistics.median(turn_delays):5.0f} / {pct(turn_delays, 0.95):5.0f}"
        f" | {early_ends:3d}/{ends}"
    )
    for line in examples:
        print(f"      {line}")


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
    parser.add_argument("--voices", default="espeak,hibari", help="of espeak, hibari, piper")
    parser.add_argument(
        "--piper-wavs", type=Path, help="the WAVs of bench/piper_clips.py, for the piper voice"
    )
    parser.add_argument("--turn-model", choices=["none", "smart-turn"], default="none")
    parser.add_argument("--smart-turn", type=Path, help="smart-turn-v3.2-cpu.onnx (see above)")
    parser.add_argument(
        "--turn-silences", default="200,300", help="the short silences S after which the model decides"
    )
    parser.add_argument(
        "--fallback", type=int, default=500, help="the end silence when the model says incomplete, ms"
    )
    parser.add_argument(
        "--thresholds", default="0.5", help="probabilities of complete above which the turn ends at S"
    )
    parser.add_argument("--show", action="store_true", help="print every cut's transcript")
    args = parser.parse_args()
    silences = [int(x) for x in args.silences.split(",") if x]
    pauses = [int(x) for x in args.pauses.split(",")]
    model = None
    if args.turn_model == "smart-turn":
        if args.smart_turn is None or not args.smart_turn.is_file():
            parser.error("--turn-model smart-turn needs --smart-turn PATH to the .onnx file")
        model = SmartTurn(args.smart_turn)

    voices: dict[str, Voice] = {}
    for name in args.voices.split(","):
        if name == "espeak":
            voices["espeak"] = espeak
        elif name == "hibari":
            say = hibari_voice()
            if say is None:
                print("hibari-tts not installed: skipped")
            else:
                voices["hibari"] = say
        elif name == "piper":
            if args.piper_wavs is None:
                parser.error("the piper voice needs --piper-wavs DIR (bench/piper_clips.py)")
            voices["piper"] = piper_voice(args.piper_wavs)
        else:
            parser.error(f"unknown voice {name!r}")
    spoken = synthesize(voices)
    clips = build(spoken, pauses)

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
    header = (
        "end_silence voice | end-of-turn delay ms p50/p95/max | split (no rule) | premature with rule |"
        " (judgeable + whole heads) | finished held | turn delay with rule (+ hold) p50/p95 ms"
    )
    if silences:
        print(header)
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
    if model is None:
        return

    turn_silences = [int(x) for x in args.turn_silences.split(",")]
    thresholds = [float(x) for x in args.thresholds.split(",")]
    separation(model, spoken, pauses, turn_silences, thresholds)
    print(
        f"\nthe rule: end after S ms of silence when smart-turn says complete, else after {args.fallback} ms"
        " (then the completeness rule and holds, as today)"
    )
    print(
        "S/fallback    thr   voice  | end-of-turn delay ms p50/p95/max | premature with rule"
        " (judgeable + whole heads) | finished held | turn delay with rule (+ hold) p50/p95 ms"
        " | turn ends at S"
    )
    for voice in voices:
        own = [c for c in clips if c.voice == voice]
        print(f"today, end silence {args.fallback} ms, measured directly:")
        row(args.fallback, voice, own, transcribe, args.hold, args.stt_ms, False)
        for silence in turn_silences:
            for threshold in [None, *thresholds]:
                rule_row(
                    silence, args.fallback, threshold, voice, own, model, transcribe, args.hold, args.stt_ms
                )
    decision = [f + m for f, m in zip(model.feature_ms, model.model_ms, strict=True)]
    print(
        f"\nsmart-turn per decision, one thread ({len(decision)} decisions): features p50"
        f" {statistics.median(model.feature_ms):.1f} ms,"
        f" model p50 {statistics.median(model.model_ms):.1f} ms;"
        f" together p50 {statistics.median(decision):.1f} / p95 {pct(decision, 0.95):.1f} ms"
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
