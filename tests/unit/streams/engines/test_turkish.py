"""Turkish knowledge search: case, accents and suffixes do not keep a caller from the answer."""

from __future__ import annotations

import pytest

from streams.dialog.language import for_language
from streams.engines.knowledge import KnowledgeEngine, load_knowledge
from streams.engines.turkish import analyze, fold, stem

KB = for_language(load_knowledge(), "tr-TR")  # what a Turkish call (extension 2000) answers from


def test_turkish_case_and_accent_folding() -> None:
    assert fold("ÇALIŞMA SAATLERİNİZ") == "calisma saatleriniz"
    assert fold("IĞDIR İzmir") == "igdir izmir"  # I → ı → i, İ → i (not "i̇")
    assert fold("çşğöüı") == "csgoui"


@pytest.mark.parametrize(
    ("word", "stemmed"), [("saatleriniz", "saat"), ("fiyatlariniz", "fiyat"), ("dukkaniniz", "dukkan")]
)
def test_light_stemming(word: str, stemmed: str) -> None:
    assert stem(word) == stemmed


def test_every_spelling_gives_the_same_terms() -> None:
    spellings = [
        "çalışma saatleriniz nedir",
        "ÇALIŞMA SAATLERİNİZ",
        "calisma saatleriniz",
        "Çalışma saatleri?",
    ]
    assert {tuple(analyze(t)) for t in spellings} == {("calis", "saat")}


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("çalışma saatleriniz nedir", "tr-hours"),
        ("ÇALIŞMA SAATLERİNİZ", "tr-hours"),
        ("calisma saatleriniz", "tr-hours"),
        ("cumartesi acik misiniz", "tr-hours"),
        ("adresiniz nedir", "tr-address"),
        ("DÜKKANINIZ NEREDE", "tr-address"),
        ("dukkaniniz nerede", "tr-address"),
        ("bakım ne kadar", "tr-prices"),
        ("lastik tamiri kac para", "tr-prices"),
        ("randevu almam gerekiyor mu", "tr-appointments"),
        ("tesekkurler hosca kalin", "tr-goodbye"),
    ],
)
def test_turkish_questions_reach_their_answer(text: str, entity: str) -> None:
    reply = KnowledgeEngine().reply(text, [], KB)
    assert reply.intent == entity, reply.text


def test_out_of_domain_turkish_gets_the_turkish_fallback() -> None:
    reply = KnowledgeEngine().reply("hava nasıl", [], KB)
    assert reply.intent == "fallback"
    assert reply.text.startswith("Özür dilerim, anlayamadım.")
    assert "çalışma saatlerimiz" in reply.text
