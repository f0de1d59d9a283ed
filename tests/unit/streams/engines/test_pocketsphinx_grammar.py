from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import soxr

from streams.engines.errors import EngineError
from streams.engines.knowledge import KnowledgeEngine, load_knowledge
from streams.engines.pocketsphinx_grammar import PocketsphinxGrammarSTT, build_jsgf

SPEECH = Path(__file__).parents[3] / "fixtures" / "speech"
KB = load_knowledge()


def _wav(name: str) -> tuple[bytes, int]:
    with wave.open(str(SPEECH / name)) as w:
        return w.readframes(w.getnframes()), w.getframerate()


@pytest.fixture(scope="module")
def stt() -> PocketsphinxGrammarSTT:
    return PocketsphinxGrammarSTT(p for e in KB for p in e.phrasings)


@pytest.mark.parametrize(
    ("name", "text", "entity"),
    [
        ("opening_hours_16k.wav", "what are your opening hours", "hours"),
        ("where_are_you_16k.wav", "where is your shop", "address"),
    ],
)
def test_recognizes_phrasings_and_the_engine_finds_the_entry(
    stt: PocketsphinxGrammarSTT, name: str, text: str, entity: str
) -> None:
    pcm, rate = _wav(name)
    t = stt.transcribe(pcm, rate, "en-US")
    assert t.text == text
    assert KnowledgeEngine().reply(t.text, [], KB).intent == entity


def test_8khz_input(stt: PocketsphinxGrammarSTT) -> None:
    pcm, _ = _wav("opening_hours_16k.wav")
    narrow = soxr.resample(np.frombuffer(pcm, "<i2"), 16000, 8000).astype("<i2").tobytes()
    assert stt.transcribe(narrow, 8000, "en-US").text == "what are your opening hours"


def test_grammar_drops_unknown_words_and_duplicates() -> None:
    known = {"where", "is", "your", "shop"}.__contains__
    grammar = build_jsgf(
        ["Where is your shop?", "where is your SHOP", "zzqx", "where is your zzqx shop"], known
    )
    assert grammar.endswith("public <utterance> = where is your shop ;\n")


def test_no_usable_phrasing_is_an_error() -> None:
    with pytest.raises(EngineError, match=r"^no phrasing has a word the recognizer knows"):
        build_jsgf(["zzqx"], lambda w: False)
