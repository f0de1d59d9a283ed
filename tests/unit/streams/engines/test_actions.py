import json
import uuid
from datetime import UTC, date, datetime

from schemas.models import Action
from streams.engines.actions import Pending, Run, Say, advance, done_text, failed_text, render, triggered

SAT = date(2026, 12, 5)
PARAMETERS = {
    "type": "object",
    "properties": {
        "date": {"type": "string", "format": "date", "x-ask": "Which day would you like?"},
        "time": {"type": "string", "format": "time", "x-ask": "What time would suit you?"},
        "name": {"type": "string", "x-ask": "What name should I put the booking under?"},
        "note": {"type": "string"},
    },
    "required": ["date", "time", "name"],
}


def book(**overrides: object) -> Action:
    fields = {
        "event_id": uuid.uuid4(), "entity_id": "book", "occurred_at": datetime.now(UTC), "source": "test",
        "trace_id": "t", "name": "book_service", "description": "book a service appointment",
        "parameters": json.dumps(PARAMETERS), "url": "https://example.com/book", "secret": "s" * 16,
        "triggers": ("book a service", "make an appointment"),
        "confirm_text": "Shall I book a service for {name} on {date} at {time}?",
        "done_text": "You're booked, {name}: {date} at {time}. Your reference is {booking_id}.",
    } | overrides  # fmt: skip
    return Action(**fields)  # type: ignore[arg-type]


def say(step: object) -> Say:
    assert isinstance(step, Say), step
    return step


def test_the_booking_conversation() -> None:
    actions = [book()]
    first = say(advance(None, "I would like to book a service tomorrow at ten", SAT, actions))
    assert first.text == "What name should I put the booking under?"
    assert first.intent == "action:book:ask:name"
    assert first.pending is not None and dict(first.pending.slots) == {"date": "2026-12-06", "time": "10:00"}
    pending = Pending.from_json(first.pending.to_json())  # stored per call between turns
    second = say(advance(pending, "Alice Smith.", SAT, actions))
    assert second.text == "Shall I book a service for Alice Smith on tomorrow, Sunday 6 December at 10 am?"
    run = advance(second.pending, "Yes, please.", SAT, actions)
    assert isinstance(run, Run)
    assert dict(run.arguments) == {"date": "2026-12-06", "time": "10:00", "name": "Alice Smith"}
    result = {"booking_id": "B-7", "date": "2026-12-06", "message": "ignored"}  # the slots said win
    said = done_text(run.action, run.arguments, result, SAT)
    assert said == "You're booked, Alice Smith: tomorrow, Sunday 6 December at 10 am. Your reference is B-7."


def test_asks_for_each_missing_slot_and_rereads_a_correction() -> None:
    actions = [book()]
    s = say(advance(None, "Can I make an appointment?", SAT, actions))
    assert s.text == "Which day would you like?"
    s = say(advance(s.pending, "um", SAT, actions))
    assert s.text == "Sorry, I didn't catch that. Which day would you like?"
    s = say(advance(s.pending, "Monday", SAT, actions))
    assert s.text == "What time would suit you?"
    s = say(advance(s.pending, "ten thirty", SAT, actions))
    assert s.intent == "action:book:ask:name"
    s = say(advance(s.pending, "my name is Bob", SAT, actions))
    assert s.intent == "action:book:confirm" and "Monday 7 December at 10:30 am" in s.text
    s = say(advance(s.pending, "no, at 11 am", SAT, actions))
    assert s.intent == "action:book:confirm" and "at 11 am" in s.text
    s = say(advance(s.pending, "hmm", SAT, actions))
    assert s.text.startswith("Sorry, was that a yes or a no?")
    s = say(advance(s.pending, "no", SAT, actions))
    assert s.pending is None and s.intent == "action:book:declined"


def test_cancel_gives_up_and_not_an_action() -> None:
    actions = [book()]
    assert advance(None, "when are you open", SAT, actions) is None
    assert advance(None, "book a service", SAT, [book(enabled=False)]) is None
    s = say(advance(None, "book a service", SAT, actions))
    cancelled = say(advance(s.pending, "never mind", SAT, actions))
    assert cancelled.pending is None and cancelled.intent == "action:book:cancelled"
    for _ in range(3):
        s = say(advance(s.pending, "uh", SAT, actions))
    assert s.pending is None and s.intent == "action:book:gave-up"
    # the action removed mid-conversation: the words go to the knowledge engine
    assert advance(Pending("book", {}, "date"), "monday", SAT, []) is None


def test_triggers_and_texts() -> None:
    assert triggered("Could I book my bike in for a service?", [book()]) is not None
    assert triggered("I want to book", [book()]) is None
    assert Pending.from_json(b"{not json") is None and Pending.from_json(None) is None
    assert render("{a} {b", {"a": 1}) == "{a} {b"  # a bad template is said as written
    assert "can't book a service appointment right now" in failed_text(book())
    assert failed_text(book(fallback_text="Closed.")) == "Closed."
    generic = say(advance(Pending("book", {"date": "2026-12-06", "time": "10:00"}, "name"), "Al", SAT,
                          [book(confirm_text="")]))  # fmt: skip
    assert (
        generic.text
        == "Shall I book a service appointment with date tomorrow, Sunday 6 December, time 10 am, name Al?"
    )
