from __future__ import annotations

import pytest

from streams.dialog.language import for_language
from streams.engines.knowledge import KnowledgeEngine, KnowledgeIndex, fallback_text, load_knowledge

KB = for_language(load_knowledge(), "en-US")  # what an English call answers from

PARAPHRASES = [
    ("What are your opening hours?", "hours"),
    ("when do you close on friday", "hours"),
    ("are you open at the weekend", "hours"),
    ("till what time can I come by", "hours"),
    ("where can I find you", "address"),
    ("whats the address", "address"),
    ("where it is in your shop.", "address"),  # a real Whisper mishearing of "where is your shop"
    ("how much for fixing a flat tyre", "prices"),
    ("is it expensive", "prices"),
    ("do I have to book", "appointments"),
    ("can I make a reservation for tuesday", "appointments"),
    ("thanks, bye", "goodbye"),
    ("Thank you. Goodbye.", "goodbye"),
    ("that's all, thank you", "goodbye"),
]


@pytest.mark.parametrize(("text", "entity"), PARAPHRASES)
def test_paraphrases_find_their_entry(text: str, entity: str) -> None:
    reply = KnowledgeEngine().reply(text, [], KB)
    entry = next(e for e in KB if e.entity_id == entity)
    assert reply.intent == entity
    assert reply.text == entry.answer
    assert reply.end_conversation is entry.end_conversation


@pytest.mark.parametrize("text", ["what is the weather like", "do you sell pizza", "5", "", "uh um"])
def test_out_of_domain_gets_the_fallback(text: str) -> None:
    reply = KnowledgeEngine().reply(text, [], KB)
    assert reply.intent == "fallback"
    assert reply.text == (
        "Sorry, I didn't catch that. I can help with our opening hours, our address, prices and "
        "appointments. What would you like to know?"
    )
    assert not reply.end_conversation


def test_ranking_is_deterministic_and_sorted() -> None:
    matches = KnowledgeIndex(KB).search("what are your opening hours")
    assert matches[0].entry.entity_id == "hours"
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_empty_knowledge_base() -> None:
    reply = KnowledgeEngine().reply("hello", [], [])
    assert reply.intent == "fallback"
    assert fallback_text([]) == reply.text


def test_index_follows_changed_knowledge() -> None:
    engine = KnowledgeEngine()
    assert engine.reply("where are you", [], KB).intent == "address"
    fewer = [e for e in KB if e.entity_id != "address"]
    assert engine.reply("where are you", [], fewer).intent == "fallback"
