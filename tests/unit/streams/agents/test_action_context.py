"""Caller context in actions: the request carries it, a result writes back, the next turn uses it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from schemas import models as m
from streams.agents.actions import Executor, take_turn
from streams.dialog.context import CallContext
from streams.engines.actions import Pending
from tests.unit.streams.agents.conftest import Endpoint
from tests.unit.streams.agents.test_actions import action, transcript

CONFIRMING = Pending("book", {"date": "2026-12-06", "time": "10:00", "name": "Alice"}, None, True).to_json()


def known_caller() -> CallContext:
    resolved = m.DialplanResolved(
        event_id=uuid.uuid4(), call_id="call-1", seq=2, occurred_at=datetime(2026, 12, 5, tzinfo=UTC),
        source="edge-1", trace_id="t", dialplan_id="default", action="agent", caller="+4930123456",
        caller_matched_by="contact", caller_contact_id="alice", caller_name="Alice",
        caller_profile='{"customer_no": "C-1001"}',
    )  # fmt: skip
    return CallContext().apply(resolved)


@pytest.mark.parametrize(
    "endpoint",
    [
        [
            (
                200,
                {"booking_id": "B-1", "context": {"name": "Alice Smith", "booking_id": "B-1", "Bad": "x"}},
                0.0,
            )
        ]
    ],
    indirect=True,
)
async def test_the_request_carries_the_context_and_the_result_writes_back(endpoint: Endpoint) -> None:
    executor = Executor(sample_url=endpoint.url)
    book = action(endpoint.url, done_text="Booked, {context.name}. Your reference is {context.booking_id}.")
    try:
        turn = await take_turn(transcript("yes"), CONFIRMING, [book], executor, known_caller())
    finally:
        await executor.aclose()
    requested, completed, update, replied = turn.facts
    assert isinstance(completed, m.ActionCompleted)
    assert isinstance(update, m.CallContextUpdated) and update.request_id == requested.request_id
    assert json.loads(update.values) == {"booking_id": "B-1", "name": "Alice Smith"}  # "Bad": not a name
    assert replied.text == "Booked, Alice Smith. Your reference is B-1."  # the write-back, at once
    assert len({f.event_id for f in turn.facts}) == 4
    ((_, body),) = endpoint.requests
    context = json.loads(body)["context"]
    assert context["caller"] == "+4930123456" and context["known"] is True and context["name"] == "Alice"
    assert context["profile"] == {"customer_no": "C-1001"} and context["contact_id"] == "alice"


@pytest.mark.parametrize("endpoint", [[(200, {"booking_id": "B-2"}, 0.0)]], indirect=True)
async def test_the_next_action_takes_the_name_from_the_context_and_earlier_answers_are_sent(
    endpoint: Endpoint,
) -> None:
    executor = Executor(sample_url=endpoint.url)
    book = action(endpoint.url)
    ctx = known_caller()
    written = m.CallContextUpdated(
        event_id=uuid.uuid4(), call_id="call-1", seq=9, occurred_at=datetime(2026, 12, 5, tzinfo=UTC),
        source="dialog-engine", trace_id="t", request_id="r0", action="lookup", values='{"name": "Bob"}',
    )  # fmt: skip
    earlier = m.ActionRequested(
        event_id=uuid.uuid4(), call_id="call-1", seq=8, occurred_at=datetime(2026, 12, 5, tzinfo=UTC),
        source="dialog-engine", trace_id="t", request_id="r0", action="lookup", name="lookup",
        arguments='{"order_no": "77"}', url=endpoint.url,
    )  # fmt: skip
    ctx = ctx.apply(earlier).apply(written)
    try:
        # a known caller asks to book: the name is not asked for, the confirmation says Bob
        first = await take_turn(
            transcript("I want to book a service tomorrow at ten"), None, [book], executor, ctx
        )
        (confirm,) = first.facts
        assert confirm.intent == "action:book:confirm" and "name Bob" in confirm.text
        assert first.pending is not None
        assert Pending.from_json(first.pending).slots["name"] == "Bob"  # type: ignore[union-attr]
        done = await take_turn(transcript("yes", 2), first.pending, [book], executor, ctx)
    finally:
        await executor.aclose()
    assert done.facts[-1].text == "Booked for Bob, ref B-2."
    ((_, body),) = endpoint.requests
    sent = json.loads(body)
    assert sent["arguments"]["name"] == "Bob" and sent["context"]["answers"] == {"order_no": "77"}
    assert sent["context"]["values"] == {"name": "Bob"} and sent["context"]["name"] == "Bob"


async def test_an_unknown_caller_is_asked_for_the_name() -> None:
    executor = Executor()
    try:
        ctx = CallContext()
        turn = await take_turn(transcript("I want to book a service tomorrow at ten"), None, [action("https://x")],
                               executor, ctx)  # fmt: skip
    finally:
        await executor.aclose()
    (ask,) = turn.facts
    assert ask.intent == "action:book:ask:name"
