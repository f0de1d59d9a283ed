"""hibari text-to-speech, embedded: a natural English voice (the `hibari-tts` wheel, Apache-2.0).

hibari is a 6 M-parameter distillation of Kokoro-82M: an int8 ONNX acoustic model (7.9 MB, voice
"heart", American English, inside the wheel) plus a misaki-style grapheme-to-phoneme front end that
needs neither spaCy nor espeak-ng. Text in, float32 audio at 24 kHz out, one array per sentence.
Each sentence comes padded with ~300 ms of silence before and ~450 ms after; the padding is cut to
30 ms / 80 ms and sentences are joined with 300 ms, so the caller hears the reply 0.3 s sooner and
without 0.75 s hesitations between its sentences.

Loading costs ~0.5 s (ONNX session, lexicons, tagger, the out-of-vocabulary net) and ~160 MB, so the
model is loaded once per process and shared by every `HibariTTS` of the same voice; the first
synthesis after loading is made at load time (a warm-up), not on a caller's reply.

Thread safety: the shared object is read-only once loaded. onnxruntime's `InferenceSession.run` may
be called from several threads at once, the G2P only reads its tables (its lazily built parts are
forced at load time), and each call draws its noise from its own generator. So concurrent calls
(the speech server's gRPC thread pool) run in parallel without a lock.

Nothing is downloaded at run time: the bundled voice is a file in the package; another voice
(`tts_voice`) must already be in hibari's cache directory (`HIBARI_HOME`), else loading fails with
the path to copy it to.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import soxr

from streams.engines.errors import EngineError
from streams.engines.tts import Speech

MODEL_RATE: Final = 24000
DEFAULT_VOICE: Final = "heart"
DEFAULT_RATE: Final = 16000
"""What SpeechSynthesized carries (streams.agents.speech.TTS_RATE); the edge makes 8 kHz of it for G.711."""
SEED: Final = 0
"""hibari adds a random noise component; a fixed seed makes the same text give the same audio, so a
redelivered AgentReplied yields the very same SpeechSynthesized."""
FULL_SCALE: Final = 32767.0
SILENCE_LEVEL: Final = 10 ** (-60 / 20)
"""-60 dBFS. hibari pads every sentence with ~300 ms of silence before and ~450 ms after (below
-130 dBFS: digital silence); its speech starts above -50 dBFS within a few ms."""
LEAD_S: Final = 0.03
"""Kept before a sentence's first sample above SILENCE_LEVEL: a soft onset's ramp, not 300 ms of
nothing before the caller hears the reply."""
TAIL_S: Final = 0.08
SENTENCE_GAP_S: Final = 0.3
"""Silence between sentences (hibari's own padding would give ~750 ms, a hesitating pause)."""

_models: dict[str, Any] = {}
_load_lock = threading.Lock()


def to_pcm16(audio: npt.NDArray[np.float32], in_rate: int, out_rate: int) -> bytes:
    """Float audio in [-1, 1] → 16-bit little-endian PCM at `out_rate`.

    libsoxr (HQ: linear phase, its anti-alias filter cuts at the new Nyquist frequency) resamples the
    float signal before it is quantized once, so the 16-bit rounding happens a single time.
    """
    if in_rate <= 0 or out_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {in_rate} and {out_rate}")
    samples = np.asarray(audio, dtype=np.float32)
    if in_rate != out_rate and samples.size:
        samples = np.asarray(soxr.resample(samples, in_rate, out_rate, quality="HQ"), dtype=np.float32)
    scaled: npt.NDArray[np.float32] = np.rint(np.clip(samples, -1.0, 1.0) * FULL_SCALE)
    return scaled.astype("<i2").tobytes()


def trim(
    audio: npt.NDArray[np.float32], rate: int, lead_s: float = LEAD_S, tail_s: float = TAIL_S
) -> npt.NDArray[np.float32]:
    """The audio from `lead_s` before its first sample above SILENCE_LEVEL to `tail_s` after its last;
    empty if no sample is."""
    loud = np.flatnonzero(np.abs(audio) > SILENCE_LEVEL)
    if loud.size == 0:
        return audio[:0]
    start = max(0, int(loud[0]) - round(lead_s * rate))
    end = min(audio.size, int(loud[-1]) + 1 + round(tail_s * rate))
    return audio[start:end]


def join_sentences(sentences: list[npt.NDArray[np.float32]], rate: int) -> npt.NDArray[np.float32]:
    """Trimmed sentences with SENTENCE_GAP_S of silence between them."""
    parts = [p for p in (trim(s, rate) for s in sentences) if p.size]
    if not parts:
        return np.zeros(0, np.float32)
    gap = np.zeros(round(SENTENCE_GAP_S * rate), np.float32)
    return np.concatenate([x for p in parts for x in (gap, p)][1:])


def _load(voice: str) -> Any:
    """The process-wide hibari model of `voice`, loaded and warmed up on first use."""
    with _load_lock:
        model = _models.get(voice)
        if model is not None:
            return model
        try:
            from hibari import Hibari
            from hibari.voices import VOICES, cache_dir, voice_path
        except ImportError as exc:
            raise EngineError("hibari is not available: install hibari-tts") from exc
        if voice not in VOICES:
            raise EngineError(f"hibari has no voice {voice!r} (known: {', '.join(VOICES)})")
        try:
            path = voice_path(voice, download_missing=False)  # never a download on a worker
        except FileNotFoundError as exc:
            raise EngineError(
                f"hibari voice {voice!r} is not installed: copy {VOICES[voice]['file']} into "
                f"{cache_dir()} (HIBARI_HOME); only {DEFAULT_VOICE!r} ships in the package"
            ) from exc
        model = Hibari(voice=voice, model=path, threads=1)
        model.g2p.oov  # noqa: B018  # force the lazy parts now: no race between threads, no slow first reply
        model("Warm up.", seed=SEED)
        _models[voice] = model
        return model


def loaded_voices() -> frozenset[str]:
    """The voices loaded in this process (each once)."""
    return frozenset(_models)


class HibariTTS:
    """TextToSpeech with hibari; English only (`streams.engines.voices` routes other languages)."""

    name = "hibari"

    def __init__(self, voice: str = DEFAULT_VOICE, *, sample_rate: int = DEFAULT_RATE) -> None:
        if sample_rate <= 0:
            raise EngineError(f"sample_rate must be positive, got {sample_rate}")
        self.voice = voice
        self.sample_rate = sample_rate
        self._model = _load(voice)

    def synthesize(self, text: str, language: str) -> Speech:
        if not text.strip():
            raise EngineError("nothing to synthesize: empty text")
        audio = join_sentences(list(self._model.stream(text, seed=SEED)), MODEL_RATE)
        if audio.size == 0:  # e.g. only punctuation: no phoneme the model can say
            raise EngineError(f"hibari produced no audio for {text[:40]!r}")
        return Speech(to_pcm16(audio, MODEL_RATE, self.sample_rate), self.sample_rate, engine=self.name)
