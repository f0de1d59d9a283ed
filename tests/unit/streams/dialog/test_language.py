"""A call's language: what it picks (prompts, knowledge entries, the reply's voice) and how `auto` settles."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import models as m
from streams.dialog.decisions import Record
from streams.dialog.language import (
    detect_text_language,
    for_language,
    is_auto,
    primary_language,
    settled_language,
    spoken_language,
)
from streams.dialog.machine import DEFAULT_POLICY, Policy, decide, new_state
from streams.dialog.prompts import BUILT_IN, book_of, prompt_text, with_caller
from streams.dialog.script import CallScript
from streams.engines.knowledge import load_knowledge


@pytest.mark.parametrize(
    ("tag", "primary"), [("en-US", "en"), ("tr_TR", "tr"), ("TR", "tr"), (" tr-tr ", "tr"), ("auto", "auto")]
)
def test_primary_language(tag: str, primary: str) -> None:
    assert primary_language(tag) == primary


def test_auto_settles_on_the_first_words_heard_and_a_configured_language_never_changes() -> None:
    assert is_auto("AUTO") and not is_auto("tr-TR") and not is_auto(None)
    assert settled_language("auto", "tr", "merhaba") == "tr"
    assert settled_language("auto", "tr", "  ") == "auto"  # noise decides nothing
    assert settled_language("auto", "auto", "hello") == "auto"
    assert settled_language("tr-TR", "en", "hello") == "tr-TR"
    assert spoken_language("auto", "en-US") == "en-US"
    assert spoken_language("tr-TR", "en-US") == "tr-TR"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("çalışma saatleriniz nedir", "tr"),
        ("ÇALIŞMA SAATLERİNİZ", "tr"),
        ("calisma saatleriniz nedir", "tr"),
        ("adresiniz nerede", "tr"),
        ("what are your opening hours", "en"),
        ("where is the shop", "en"),
    ],
)
def test_typed_text_language(text: str, language: str) -> None:
    assert detect_text_language(text) == language


def test_knowledge_entries_of_the_calls_language_else_all() -> None:
    entries = load_knowledge()
    turkish = for_language(entries, "tr-TR")
    english = for_language(entries, "en-US")
    assert turkish and all(primary_language(e.language) == "tr" for e in turkish)
    assert english and all(primary_language(e.language) == "en" for e in english)
    assert for_language(english, "de-DE") == english  # no German entries: every entry answers


def _prompt(kind: str | None, language: str, text: str, entity_id: str) -> m.Prompt:
    return m.Prompt(
        event_id="00000000-0000-0000-0000-000000000001", entity_id=entity_id, occurred_at=0, source="api",
        trace_id="t", uri=None, text=text, kind=kind, language=language,
    )  # fmt: skip


def test_prompt_configured_else_built_in_else_english() -> None:
    book = book_of(
        [
            _prompt("greeting", "tr-TR", "Hoş geldiniz!", "b"),
            _prompt("greeting", "tr", "İkinci", "c"),  # same (language, kind): the smaller id wins
            _prompt(None, "tr-TR", "prompt_hangup only", "a"),
            _prompt("greeting", "de-DE", " ", "d"),  # blank: ignored
        ]
    )
    english = dict(BUILT_IN["en"])
    assert prompt_text(book, "greeting", "tr-TR", english) == "Hoş geldiniz!"
    assert prompt_text(book, "reprompt", "tr-TR", english) == BUILT_IN["tr"]["reprompt"]
    assert prompt_text(book, "greeting", "de-DE", english) == english["greeting"]
    assert prompt_text(book, "sorry", "en-GB", {**english, "sorry": "Oops"}) == "Oops"


# -- the reducer speaks the call's language --------------------------------------------------------


def _run(
    language: str, policy: Policy = DEFAULT_POLICY, tenant: str = "default"
) -> tuple[CallScript, Any, list[m.AgentReplied]]:
    s = CallScript("call-lang", tenant=tenant)
    facts = [s.fact(m.CallInviteReceived), s.fact(m.DialplanResolved, action="agent", language=language)]
    facts += [s.fact(m.MediaPortAllocated), s.fact(m.CallAnswered), s.established()]
    state, said = new_state("call-lang"), []
    for fact in facts:
        state, decisions = decide(state, fact, policy)
        said += [d.fact for d in decisions if isinstance(d, Record) and isinstance(d.fact, m.AgentReplied)]
    return s, state, said


def test_turkish_dialplan_greets_in_turkish_with_the_language_on_the_reply() -> None:
    _, state, said = _run("tr-TR")
    assert state.language == "tr-TR"
    assert [(r.text, r.language) for r in said] == [(with_caller(BUILT_IN["tr"]["greeting"], None), "tr-TR")]


def test_configured_prompt_is_said() -> None:
    book = book_of([_prompt("greeting", "tr-TR", "Harbour Bisiklet, buyurun.", "g")])
    _, _, said = _run("tr-TR", Policy(prompts=book))
    assert said[0].text == "Harbour Bisiklet, buyurun."


def test_a_call_hears_its_own_tenants_prompts_only() -> None:
    """Tenant ornek's greeting for ornek's calls; another tenant's calls (and the default tenant's) hear
    their own configured text, else the built-in one in their language — never ornek's."""
    ornek = book_of([_prompt("greeting", "tr-TR", "Liman Bisiklet, buyurun.", "o")])
    mine = book_of([_prompt("greeting", "tr-TR", "Varsayılan işletme.", "d")])
    policy = Policy(prompts=mine, tenant_prompts={"ornek": ornek})
    _, state, said = _run("tr-TR", policy, tenant="ornek")
    assert (
        state.tenant == "ornek" and said[0].text == "Liman Bisiklet, buyurun." and said[0].tenant == "ornek"
    )
    _, _, said = _run("tr-TR", policy, tenant="acme")
    assert said[0].text == with_caller(BUILT_IN["tr"]["greeting"], None) and said[0].tenant == "acme"
    _, _, said = _run("tr-TR", policy)
    assert said[0].text == "Varsayılan işletme." and said[0].tenant == "default"


def test_auto_call_greets_in_the_default_then_follows_the_caller() -> None:
    s, state, said = _run("auto")
    assert (said[0].text, said[0].language) == (with_caller(DEFAULT_POLICY.greeting, None), "en-US")
    rid = said[0].reply_id
    facts = [s.synthesized(rid), *s.played(rid)]
    facts += [s.fact(m.UtteranceTranscribed, utterance_id="u1", text="çalışma saatleriniz", language="tr")]
    for fact in facts:
        state, _ = decide(state, fact, DEFAULT_POLICY)
    assert state.language == "tr"
    assert state.pending_utterance == "u1"
