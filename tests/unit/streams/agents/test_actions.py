"""The action executor against a real HTTP server on loopback (a scripted one: status, body, delay)."""

from __future__ import annotations

import json
import socket
import uuid
from datetime import UTC, datetime

import pytest

from schemas import models as m
from streams.agents.actions import ActionStore, Executor, acts, take_turn, verify
from streams.engines.actions import Pending
from streams.engines.knowledge import KnowledgeEngine
from streams.engines.openai_tools import OpenAIToolsEngine
from tests.unit.streams.agents.conftest import Endpoint

SECRET = "sample-secret-0123456789"
PARAMETERS = {
    "type": "object",
    "properties": {
        "date": {"type": "string", "format": "date"},
        "time": {"type": "string", "format": "time"},
        "name": {"type": "string", "x-ask": "What name should I put the booking under?"},
    },
    "required": ["date", "time", "name"],
}


def action(url: str, **overrides: object) -> m.Action:
    fields = {
        "event_id": uuid.uuid4(), "entity_id": "book", "occurred_at": datetime.now(UTC), "source": "t",
        "trace_id": "t", "name": "book_service", "description": "book a service appointment",
        "parameters": json.dumps(PARAMETERS), "url": url, "secret": SECRET, "timeout_s": 2.0, "retries": 1,
        "triggers": ("book a service",), "confirm_text": "",
        "done_text": "Booked for {name}, ref {booking_id}.",
        "fallback_text": "", "language": "en-US", "enabled": True,
    } | overrides  # fmt: skip
    return m.Action(**fields)  # type: ignore[arg-type]


def transcript(text: str, n: int = 1) -> m.UtteranceTranscribed:
    return m.UtteranceTranscribed(
        event_id=uuid.uuid4(), call_id="call-1", seq=n, occurred_at=datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
        source="stt", trace_id="t", utterance_id=f"u-{n}", text=text, language="en-US", confidence=None,
        is_final=True, engine="provided", latency_ms=0.0,
    )  # fmt: skip


CONFIRMING = Pending("book", {"date": "2026-12-06", "time": "10:00", "name": "Alice"}, None, True).to_json()


@pytest.mark.parametrize("endpoint", [[(503, {}, 0.0), (200, {"booking_id": "B-1"}, 0.0)]], indirect=True)
async def test_a_yes_runs_the_action_once_signed_and_retried(endpoint: Endpoint) -> None:
    executor = Executor(sample_url=endpoint.url)
    try:
        turn = await take_turn(transcript("yes please"), CONFIRMING, [action(endpoint.url)], executor)
    finally:
        await executor.aclose()
    requested, completed, replied = turn.facts
    assert isinstance(requested, m.ActionRequested) and isinstance(completed, m.ActionCompleted)
    assert json.loads(requested.arguments) == {"date": "2026-12-06", "name": "Alice", "time": "10:00"}
    assert completed.attempts == 2 and completed.status_code == 200
    assert json.loads(completed.result) == {"booking_id": "B-1"}
    assert isinstance(replied, m.AgentReplied) and replied.text == "Booked for Alice, ref B-1."
    assert replied.intent == "action:book:done" and turn.pending is None
    assert len({f.event_id for f in turn.facts}) == 3
    # both attempts carry the same request id, signed with the action's secret
    (h1, b1), (h2, b2) = endpoint.requests
    assert h1["x-sentiric-request-id"] == h2["x-sentiric-request-id"] == requested.request_id
    assert verify(b2, SECRET, h2["x-sentiric-signature"]) and b1 == b2
    assert json.loads(b2)["arguments"]["name"] == "Alice"


@pytest.mark.parametrize("endpoint", [[(200, {"booking_id": "late"}, 1.0)]], indirect=True)
async def test_a_slow_endpoint_gets_the_spoken_fallback(endpoint: Endpoint) -> None:
    executor = Executor(sample_url=endpoint.url)
    try:
        slow = action(endpoint.url, timeout_s=0.3)
        turn = await take_turn(transcript("yes"), CONFIRMING, [slow], executor)
    finally:
        await executor.aclose()
    _, failed, replied = turn.facts
    assert isinstance(failed, m.ActionFailed) and failed.attempts == 2 and "Timeout" in failed.error
    assert replied.text.startswith("I'm sorry, I can't book a service appointment right now")
    assert replied.intent == "action:book:failed"


async def test_an_endpoint_that_is_down_or_refused_gets_the_fallback() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{s.getsockname()[1]}/book"
    executor = Executor(sample_url=down)
    try:
        turn = await take_turn(transcript("yes"), CONFIRMING, [action(down, retries=0)], executor)
        _, failed, replied = turn.facts
        assert isinstance(failed, m.ActionFailed) and failed.attempts == 1 and "Connect" in failed.error
        assert "can't book" in replied.text
        # not the sample endpoint: the webhook address rule refuses loopback, and no retry is made
        other = "https://127.0.0.1:9/book"
        turn = await take_turn(transcript("yes"), CONFIRMING, [action(other)], executor)
        assert "target refused" in turn.facts[1].error and turn.facts[1].attempts == 1
    finally:
        await executor.aclose()


async def test_questions_keep_the_pending_action_and_other_turns_pass() -> None:
    executor = Executor()
    try:
        acts = [action("https://example.com/book")]
        turn = await take_turn(
            transcript("I would like to book a service tomorrow at ten"), None, acts, executor
        )
        (asked,) = turn.facts
        assert asked.text == "What name should I put the booking under?" and turn.pending is not None
        assert asked.reply_id == "u-1:reply" and asked.engine == "actions"
        other = await take_turn(transcript("when are you open"), None, acts, executor)
        assert other.facts == [] and other.pending is None
    finally:
        await executor.aclose()


def test_an_answer_acts_when_it_starts_or_moves_an_action_conversation_or_a_model_may_call_tools() -> None:
    # what the worker asks before answering a caller's words at a pause (an early turn): it waits for
    # the final transcript when the answer would act, since the caller may yet say "no, wait"
    book = [action("https://example.com/book")]
    knowledge = KnowledgeEngine()
    assert acts(transcript("I would like to book a service tomorrow"), None, knowledge, book)
    assert not acts(transcript("when are you open"), None, knowledge, book)
    assert acts(transcript("yes"), CONFIRMING, knowledge, book)  # a confirmation under way
    assert not acts(transcript("I would like to book a service"), None, knowledge, [])
    tools = OpenAIToolsEngine("http://127.0.0.1:9/v1", "tiny")  # never called: deciding is local
    assert acts(transcript("when are you open"), None, tools, book)
    assert not acts(transcript("when are you open"), None, tools, [])


def test_action_store_follows_config_records_and_tombstones() -> None:
    store = ActionStore()
    a = action("https://example.com/book")
    store.apply("action:book", a)
    store.apply("knowledgeentry:x", None)
    assert list(store.actions()) == [a]
    store.apply("action:book", None)
    assert list(store.actions()) == []
