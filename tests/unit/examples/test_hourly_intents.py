"""The hourly intents fold (examples.hourly_intents.HourlyIntents): replies to questions by intent and
hour, fallback replies filing the caller's question as unanswered."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from examples.hourly_intents import HourlyIntents, hour_of
from projections.synthetic import day_of_calls
from schemas import models as m


def test_replies_count_by_hour_and_intent_and_fallbacks_file_the_question() -> None:
    call = next(c for c in day_of_calls(11, seed=3) if c.scenario == "answered" and c.turns >= 2)
    fold = HourlyIntents()
    hours = set()
    for fact in call.facts:
        if isinstance(fact, m.AgentReplied) and fact.utterance_id == "u1":
            fact = dataclasses.replace(fact, intent="fallback")
        elif isinstance(fact, m.AgentReplied) and fact.utterance_id is not None:
            fact = dataclasses.replace(fact, intent="prices")
        if (hour := fold.observe(fact)) is not None:
            hours.add(hour)
    (hour,) = hours  # the greeting (no utterance) is not a reply to a question
    assert hour == hour_of(call.facts[0].occurred_at)
    assert fold.hours[hour].intents == {"fallback": 1, "prices": call.turns - 1}
    assert fold.hours[hour].unanswered == ["question 1"]
    assert fold.hours[hour].to_json(hour)["hour"] == hour


def test_the_hour_is_the_replys_event_time() -> None:
    call = next(c for c in day_of_calls(11, seed=3) if c.turns)
    reply = next(f for f in call.facts if isinstance(f, m.AgentReplied) and f.utterance_id)
    later = dataclasses.replace(reply, occurred_at=reply.occurred_at + timedelta(hours=3))
    fold = HourlyIntents()
    assert fold.observe(later) == hour_of(later.occurred_at) != hour_of(reply.occurred_at)
    assert fold.hours[hour_of(later.occurred_at)].unanswered == []  # a reply whose question was not seen
