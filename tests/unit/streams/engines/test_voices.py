"""Voice selection: the natural voice for the languages it speaks, espeak-ng for the rest."""

from __future__ import annotations

import pytest

from schemas import models as m
from sentiric.settings import Settings
from streams.agents import speech
from streams.dialog.script import CallScript
from streams.engines.errors import EngineError
from streams.engines.espeak import EspeakTTS
from streams.engines.factory import build_tts
from streams.engines.hibari import HibariTTS
from streams.engines.speech_cache import SpeechCache
from streams.engines.tts import Speech
from streams.engines.voices import ByLanguage, primary_language


class Recorder:
    def __init__(self, name: str, *, names_itself: bool = False) -> None:
        self.name = name
        self.names_itself = names_itself
        self.calls: list[tuple[str, str]] = []

    def synthesize(self, text: str, language: str) -> Speech:
        self.calls.append((text, language))
        return Speech(b"\x01\x00" * 160, 16000, engine=f"{self.name}:itself" if self.names_itself else "")


@pytest.mark.parametrize(
    ("tag", "primary"),
    [("en-US", "en"), ("en_GB", "en"), ("EN", "en"), (" en-gb ", "en"), ("tr-TR", "tr"), ("de", "de")],
)
def test_primary_language(tag: str, primary: str) -> None:
    assert primary_language(tag) == primary


@pytest.mark.parametrize("tag", ["en-US", "en-GB", "en", "en-gb", "en-AU"])
def test_english_goes_to_the_natural_voice(tag: str) -> None:
    natural, fallback = Recorder("natural"), Recorder("fallback")
    out = ByLanguage(natural, fallback).synthesize("hello", tag)
    assert natural.calls == [("hello", tag)] and fallback.calls == []
    assert out.engine == "natural"


@pytest.mark.parametrize("tag", ["tr-TR", "tr", "de-DE", "fr", "es-MX", ""])
def test_other_languages_go_to_the_fallback(tag: str) -> None:
    natural, fallback = Recorder("natural"), Recorder("fallback")
    out = ByLanguage(natural, fallback).synthesize("merhaba", tag)
    assert fallback.calls == [("merhaba", tag)] and natural.calls == []
    assert out.engine == "fallback"


def test_an_engine_that_names_itself_is_believed() -> None:
    out = ByLanguage(Recorder("natural", names_itself=True), Recorder("fallback")).synthesize("hi", "en")
    assert out.engine == "natural:itself"


def test_the_fact_names_the_engine_that_spoke() -> None:
    tts = ByLanguage(Recorder("natural"), Recorder("fallback"))
    assert tts.name == "natural|fallback"
    said = CallScript().replied("u1", "Merhaba.")
    assert speech.synthesize(said, tts, "tr-TR").engine == "fallback"
    assert speech.synthesize(said, tts, "en-US").engine == "natural"


def test_hibari_is_the_default_and_espeak_can_be_forced() -> None:
    cached = build_tts(Settings())
    assert isinstance(cached, SpeechCache) and cached.max_bytes == 32 * 1024 * 1024
    default = cached.engine
    assert isinstance(default, ByLanguage)
    assert isinstance(default.natural, HibariTTS) and isinstance(default.fallback, EspeakTTS)
    assert default.natural.voice == "heart"
    assert isinstance(build_tts(Settings(tts_engine="espeak", tts_cache_mb=0)), EspeakTTS)
    forced = build_tts(Settings(tts_engine="espeak"))
    assert isinstance(forced, SpeechCache) and isinstance(forced.engine, EspeakTTS)


def test_unknown_engine_names_the_known_ones() -> None:
    with pytest.raises(EngineError, match=r"^unknown tts_engine 'piper' \(known: hibari, espeak, remote\)$"):
        build_tts(Settings(tts_engine="piper"))


def test_turkish_is_spoken_by_espeak_and_english_by_hibari_for_real() -> None:
    tts = build_tts(Settings())
    said = CallScript().replied("u1", "Merhaba, hoş geldiniz.")
    turkish = speech.synthesize(said, tts, "tr-TR")
    english = speech.synthesize(CallScript().replied("u2", "Welcome to Harbour Bikes."), tts, "en-US")
    assert (turkish.engine, english.engine) == ("espeak-ng", "hibari")
    assert isinstance(turkish, m.SpeechSynthesized) and turkish.sample_rate == english.sample_rate == 16000
    assert len(turkish.pcm) > 16000 and len(english.pcm) > 16000  # both over half a second
