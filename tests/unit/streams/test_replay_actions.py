"""Re-running a call that booked: the actions' calls answered by the stub built from the recording.

The recorded call is made as the worker makes it (`action_turn` per caller turn) against a fake
endpoint at the seam (`ActionCaller`); the re-run must never reach that endpoint again."""

from __future__ import annotations

import json
from typing import Any

from schemas import models as m
from streams.agents.actions import CallResult, action_turn
from streams.dialog.context import CallContext
from streams.dialog.script import CallScript
from streams.engines.knowledge import KnowledgeEngine, load_knowledge
from streams.replay_actions import RecordedActions, actions_of
from streams.replay_diff import NO_RECORDING, compare, summarize
from streams.replay_report import call_lines, report_html, report_json
from streams.replay_rerun import recorded_turns, recording, rerun_turns
from tests.unit.streams.agents.test_actions import action

KNOWLEDGE = load_knowledge()
BOOK = action("https://book.example/api")
TURNS = ("I would like to book a service tomorrow at ten", "Alice Smith", "yes please")


class Endpoint:
    """The real endpoint's stand-in while recording: books, and counts every call."""

    def __init__(self, ok: bool = True) -> None:
        self.calls: list[dict[str, Any]] = []
        self.ok = ok

    async def call(self, action: m.Action, body: bytes, request_id: str) -> CallResult:
        self.calls.append(json.loads(body))
        if not self.ok:
            return CallResult(False, 503, None, "HTTP 503: down", 2, 40.0)
        return CallResult(True, 200, {"booking_id": "B-7"}, "", 1, 12.0)


async def booking_call(endpoint: Endpoint, turns: tuple[str, ...] = TURNS) -> list[Any]:
    """A booking call as the platform records it (the worker's action turns included)."""
    s = CallScript("call-b")
    facts = [*s.setup(), s.established()]
    pending: bytes | None = None
    context = CallContext()
    for i, text in enumerate(turns):
        uid = f"u{i}"
        facts += [s.captured(uid), s.transcribed(uid, text)]
        engine = KnowledgeEngine()
        turn = await action_turn(facts[-1], pending, engine, None, KNOWLEDGE, [BOOK], endpoint, context)
        assert turn.facts, text
        pending = turn.pending
        for fact in turn.facts:
            context = context.apply(fact)
        facts += turn.facts
    return [*facts, s.ended()]


async def test_a_booking_call_reruns_unchanged_without_calling_the_endpoint():
    endpoint = Endpoint()
    facts = await booking_call(endpoint)
    assert len(endpoint.calls) == 1
    rec = recording("call-b", facts)
    recorded = recorded_turns(rec)
    assert [len(t.actions) for t in recorded] == [0, 0, 1]
    (booked,) = recorded[2].actions
    assert (booked.name, booked.outcome) == ("book_service", "completed")
    assert json.loads(booked.arguments) == {"date": "2026-01-03", "name": "Alice Smith", "time": "10:00"}
    made = await rerun_turns(rec, None, KnowledgeEngine(), KNOWLEDGE, actions=[BOOK])
    diff = compare("call-b", recorded, made)
    assert not diff.changed, call_lines(diff)
    assert made[2].reply == "Booked for Alice Smith, ref B-7." and made[2].actions == recorded[2].actions
    assert len(endpoint.calls) == 1  # the re-run answered from the recording
    assert "[book_service completed]" in "\n".join(call_lines(diff))


async def test_a_call_with_other_arguments_has_no_recording_and_fails_aloud():
    facts = await booking_call(Endpoint())
    rec = recording("call-b", facts)
    # today's engine hears "tomorrow at ten" as eleven: a call the recording cannot answer
    later = [
        f.__class__(**{**f.to_record(), "text": "I would like to book a service tomorrow at eleven"})
        if isinstance(f, m.UtteranceTranscribed) and f.utterance_id == "u0"
        else f
        for f in facts
    ]
    made = await rerun_turns(recording("call-b", later), None, KnowledgeEngine(), KNOWLEDGE, actions=[BOOK])
    diff = compare("call-b", recorded_turns(rec), made)
    last = diff.turns[2]
    assert last.actions_changed and last.reply_changed and last.decision_changed
    assert last.rerun is not None and last.rerun.intent == "action:book:failed"
    (unanswered,) = last.rerun.actions
    assert unanswered.outcome == "no recording" and unanswered.result == NO_RECORDING
    assert json.loads(unanswered.arguments)["time"] == "11:00"
    text = "\n".join(call_lines(diff))
    assert "action 1 recorded: book_service(" in text and '"time": "10:00"' in text
    assert "action 1 re-run:   book_service(" in text and f"({NO_RECORDING}; answered as a failure)" in text
    summary = summarize([diff])
    assert (summary.actions_changed, summary.unrecorded_actions) == (1, 1)
    assert "1 action calls, 1 with no recording" in str(summary)
    data = report_json([diff], {})
    assert data["summary"]["unrecorded_actions"] == 1
    assert data["calls"][0]["turns"][2]["rerun"]["actions"][0]["outcome"] == "no recording"
    assert "no recording" in report_html([diff], {})


async def test_a_recorded_failure_is_replayed_as_a_failure():
    endpoint = Endpoint(ok=False)
    facts = await booking_call(endpoint)
    rec = recording("call-b", facts)
    made = await rerun_turns(rec, None, KnowledgeEngine(), KNOWLEDGE, actions=[BOOK])
    diff = compare("call-b", recorded_turns(rec), made)
    assert not diff.changed and len(endpoint.calls) == 1
    (failed,) = made[2].actions
    assert (failed.outcome, failed.result) == ("failed", "HTTP 503: down")


async def test_without_the_action_configured_the_turns_change_and_no_call_is_made():
    facts = await booking_call(Endpoint())
    rec = recording("call-b", facts)
    made = await rerun_turns(rec, None, KnowledgeEngine(), KNOWLEDGE, actions=[])
    diff = compare("call-b", recorded_turns(rec), made)
    assert diff.turns[2].actions_changed and made[2].actions == ()


async def test_the_stub_answers_each_recording_once_by_name_and_arguments():
    facts = await booking_call(Endpoint())
    stub = RecordedActions(facts)
    (requested,) = [f for f in facts if isinstance(f, m.ActionRequested)]
    body = json.dumps({"arguments": json.loads(requested.arguments)}).encode()
    first = await stub.call(BOOK, body, "r1")
    assert first.ok and first.result == {"booking_id": "B-7"} and first.status_code == 200
    again = await stub.call(BOOK, body, "r2")  # the record has one booking, not two
    assert not again.ok and again.error == NO_RECORDING
    other = await stub.call(action("https://x", name="other"), body, "r3")
    assert not other.ok and stub.unmatched == [
        ("book_service", json.dumps(json.loads(requested.arguments), sort_keys=True)),
        ("other", json.dumps(json.loads(requested.arguments), sort_keys=True)),
    ]
    assert not (await stub.call(BOOK, b"not json", "r4")).ok
    assert actions_of(facts)["u2"][0].outcome == "completed"
