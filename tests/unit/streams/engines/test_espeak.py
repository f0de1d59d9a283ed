from __future__ import annotations

import numpy as np
import pytest

from streams.engines.errors import EngineError
from streams.engines.espeak import EspeakTTS, voice_for


def _rms(pcm: bytes) -> float:
    return float(np.sqrt(np.mean(np.frombuffer(pcm, dtype="<i2").astype(np.float64) ** 2)))


@pytest.mark.parametrize("prefer_cli", [False, True], ids=["library", "cli"])
def test_synthesizes_audible_speech(prefer_cli: bool) -> None:
    speech = EspeakTTS(prefer_cli=prefer_cli).synthesize("We are open from nine to six.", "en-US")
    assert speech.sample_rate == 22050
    seconds = len(speech.pcm) / 2 / speech.sample_rate
    assert 1.0 < seconds < 4.0
    assert _rms(speech.pcm) > 500


def test_library_is_reusable_across_voices() -> None:
    tts = EspeakTTS()
    a = tts.synthesize("hello", "en-US")
    b = tts.synthesize("merhaba", "tr-TR")
    c = tts.synthesize("hello", "en-US")
    assert abs(len(a.pcm) - len(c.pcm)) < 0.05 * len(a.pcm)  # espeak-ng adds a little random jitter
    assert b.pcm != a.pcm
    assert _rms(c.pcm) > 500


def test_empty_text_is_an_error() -> None:
    with pytest.raises(EngineError, match=r"^nothing to synthesize: empty text$"):
        EspeakTTS().synthesize("  ", "en-US")


@pytest.mark.parametrize(
    ("tag", "voice"), [("en-US", "en-us"), ("en-GB", "en-gb"), ("en", "en"), ("tr-TR", "tr"), ("de_DE", "de")]
)
def test_voice_names(tag: str, voice: str) -> None:
    assert voice_for(tag) == voice
