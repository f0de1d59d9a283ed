"""The call's context (caller, profile, answers, written values) and the reducer's use of it."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from schemas import models as m
from streams.dialog.context import CallContext, context_values, written_values
from streams.dialog.decisions import Record
from streams.dialog.machine import DEFAULT_POLICY, decide, new_state
from streams.dialog.script import CallScript
from streams.dialog.state import DialogState


def _said(state: DialogState, facts: list[Any]) -> tuple[DialogState, list[m.AgentReplied]]:
    said = []
    for fact in facts:
        state, decisions = decide(state, fact, DEFAULT_POLICY)
        said += [d.fact for d in decisions if isinstance(d, Record) and isinstance(d.fact, m.AgentReplied)]
    return state, said


def _setup(s: CallScript, language: str = "en-US", **caller: Any) -> list[Any]:
    return [
        s.fact(m.CallInviteReceived),
        s.fact(m.DialplanResolved, action="agent", language=language, **caller),
        s.fact(m.MediaPortAllocated),
        s.fact(m.CallAnswered),
        s.established(),
    ]


def test_a_known_caller_is_greeted_by_name() -> None:
    s = CallScript("call-known")
    known = {"caller": "+1555", "caller_matched_by": "contact", "caller_name": "Alice"}
    state, said = _said(new_state("call-known"), _setup(s, **known))
    assert said[0].text == "Hello Alice, thank you for calling. How can I help you?"
    assert state.caller_name == "Alice"


def test_an_unknown_caller_gets_the_plain_greeting_whatever_their_phone_claims() -> None:
    s = CallScript("call-unknown")
    _, said = _said(new_state("call-unknown"), _setup(s, caller="+1666", caller_claimed_name="The CEO"))
    assert said[0].text == "Hello, thank you for calling. How can I help you?"


def test_an_auto_call_takes_the_contacts_language() -> None:
    s = CallScript("call-tr")
    state, said = _said(new_state("call-tr"), _setup(s, "auto", caller_name="Ayşe", caller_language="tr-TR"))
    assert state.language == "tr-TR" and said[0].language == "tr-TR"
    assert said[0].text.startswith("Merhaba Ayşe,")


def test_a_name_written_back_by_an_action_is_said_by_later_prompts() -> None:
    s = CallScript("call-wb")
    state, said = _said(new_state("call-wb"), _setup(s))
    rid = said[0].reply_id
    state, _ = _said(state, [s.synthesized(rid), *s.played(rid)])
    written = s.fact(
        m.CallContextUpdated, request_id="r1", action="lookup", values=json.dumps({"name": "Bob"})
    )
    state, _ = _said(state, [written])
    assert state.caller_name == "Bob"
    # the caller says nothing: the reprompt, then the goodbye, use the configured texts with the new name
    policy_reprompt = "Sorry {caller_name}, I didn't hear anything."
    p = replace(DEFAULT_POLICY, reprompt=policy_reprompt)
    assert state.timer is not None
    state, decisions = decide(state, s.timer(str(state.timer.name), state.timer.armed_seq), p)
    (reprompt,) = [d.fact for d in decisions if isinstance(d, Record) and isinstance(d.fact, m.AgentReplied)]
    assert reprompt.text == "Sorry Bob, I didn't hear anything."
    # replaying the same facts gives the same state: the write-back is a fact on the log
    again, _ = _said(new_state("call-wb"), [*_setup(CallScript("call-wb"))])
    assert again.caller_name is None


def test_context_folds_the_caller_answers_and_written_values() -> None:
    s = CallScript("call-ctx")
    ctx = CallContext()
    resolved = s.fact(
        m.DialplanResolved, action="agent", caller="+1555", caller_matched_by="contact",
        caller_contact_id="c1", caller_name="Alice", caller_profile='{"tier": "gold"}',
    )  # fmt: skip
    ctx = ctx.apply(resolved)
    ctx = ctx.apply(s.fact(m.ActionRequested, arguments=json.dumps({"date": "2026-12-07", "time": "10:00"})))
    ctx = ctx.apply(s.fact(m.CallContextUpdated, values=json.dumps({"name": "Bob", "booking": "B-7"})))
    assert ctx.as_request() == {
        "caller": "+1555", "known": True, "contact_id": "c1", "name": "Bob", "language": None,
        "profile": {"tier": "gold"}, "answers": {"date": "2026-12-07", "time": "10:00"},
        "values": {"name": "Bob", "booking": "B-7"},
    }  # fmt: skip
    assert (
        ctx.lookup()["name"] == "Bob" and ctx.lookup()["tier"] == "gold" and ctx.lookup()["caller"] == "+1555"
    )
    assert CallContext.from_json(ctx.to_json()) == ctx
    assert ctx.apply(s.fact(m.CallAnswered)) is ctx
    assert CallContext.from_json(b"not json") == CallContext()


def test_written_values_are_checked_names_and_safe_bounded_text() -> None:
    result = {
        "context": {
            "name": "Bob\x00", "Bad-Name": "x", "count": 3, "flag": True, "nested": {"a": 1},
            "long": "y" * 1000, "empty": "  ",
        },
        "other": "ignored",
    }  # fmt: skip
    out = written_values(result)
    assert set(out) == {"name", "count", "long"}
    assert "\x00" not in out["name"] and out["count"] == "3" and len(out["long"]) <= 200
    assert written_values({"context": ["name"]}) == {} and written_values("text") == {}
    assert context_values('{"a": "b", "n": 1, "t": true, "o": {}}') == {"a": "b", "n": "1"}
    assert context_values("[1]") == {} and context_values("{bad") == {}


def test_an_outbound_calls_knowledge_ids_choose_the_entries_the_agent_answers_from() -> None:
    import uuid
    from datetime import UTC, datetime

    def entry(entity_id: str) -> m.KnowledgeEntry:
        return m.KnowledgeEntry(
            event_id=uuid.uuid4(), entity_id=entity_id, occurred_at=datetime.now(UTC), source="t",
            trace_id="t", title=entity_id, phrasings=[entity_id], answer=entity_id,
        )  # fmt: skip

    entries = [entry("hours"), entry("refunds"), entry("parking")]
    s = CallScript("call-kb")
    assert CallContext().chosen(entries) == entries  # an inbound call: every entry
    ctx = CallContext().apply(s.fact(m.DialplanResolved, action="agent", knowledge=("refunds", "hours")))
    assert [e.entity_id for e in ctx.chosen(entries)] == ["hours", "refunds"]
    assert CallContext.from_json(ctx.to_json()) == ctx  # kept in the worker's table
    gone = CallContext().apply(s.fact(m.DialplanResolved, action="agent", knowledge=("deleted",)))
    assert gone.chosen(entries) == entries  # none of them exists any more: the agent still answers
