"""Actions as tools of an OpenAI-compatible model: a fake chat-completions server (a real HTTP server
on loopback) returns a tool call; the action runs once against a real endpoint, and its result reaches
the model's reply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from schemas import models as m
from streams.agents.actions import Executor, action_turn
from streams.engines.openai_tools import OpenAIToolsEngine, parse_stream
from tests.support.fake_chat import FakeChatServer
from tests.unit.streams.agents.test_actions import Endpoint, action, transcript

ARGS = {"date": "2026-12-06", "time": "10:00", "name": "Alice"}


def tool_call_chunks(arguments: str) -> list[dict[str, Any]]:
    """A tool call streamed the way OpenAI does: id and name first, the arguments in pieces."""
    first = {
        "index": 0,
        "id": "call_7",
        "type": "function",
        "function": {"name": "book_service", "arguments": ""},
    }
    pieces = [arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]]
    return [{"tool_calls": [first]}] + [
        {"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces
    ]


@pytest.fixture
def chat(request: pytest.FixtureRequest) -> Iterator[FakeChatServer]:
    server = FakeChatServer(request.param)
    yield server
    server.stop()


BOOKED = [{"content": "You're booked for tomorrow at ten, "}, {"content": "reference B-42."}]


@pytest.mark.parametrize("chat", [[tool_call_chunks(json.dumps(ARGS)), BOOKED]], indirect=True)
@pytest.mark.parametrize("endpoint", [[(200, {"booking_id": "B-42"}, 0.0)]], indirect=True)
async def test_the_model_calls_the_action_once_and_answers_with_its_result(
    chat: FakeChatServer, endpoint: Endpoint
) -> None:
    llm = OpenAIToolsEngine(chat.url, "tiny")
    executor = Executor(sample_url=endpoint.url)
    try:
        said = transcript("yes, book it: tomorrow at ten, Alice")
        turn = await action_turn(said, None, llm, None, [], [action(endpoint.url)], executor)
    finally:
        await executor.aclose()
        llm.close()
    requested, completed, replied = turn.facts
    assert isinstance(requested, m.ActionRequested) and json.loads(requested.arguments) == ARGS
    assert isinstance(completed, m.ActionCompleted) and json.loads(completed.result) == {"booking_id": "B-42"}
    assert (
        isinstance(replied, m.AgentReplied)
        and replied.text == "You're booked for tomorrow at ten, reference B-42."
    )
    assert replied.engine == "openai-chat" and replied.intent == "action:book:llm"
    assert len(endpoint.requests) == 1  # the action ran once
    assert json.loads(endpoint.requests[0][1])["arguments"] == ARGS
    first, second = (r.body for r in chat.requests)
    (tool,) = first["tools"]
    assert tool["function"]["name"] == "book_service" and tool["function"]["parameters"]["required"] == [
        "date", "time", "name",
    ]  # fmt: skip
    assistant, result = second["messages"][-2:]
    assert (
        assistant["tool_calls"][0]["id"] == "call_7"
        and json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == ARGS
    )
    assert result["role"] == "tool" and result["tool_call_id"] == "call_7"
    assert json.loads(result["content"]) == {"ok": True, "result": {"booking_id": "B-42"}}


@pytest.mark.parametrize(
    "chat",
    [[tool_call_chunks('{"date": "2026-12-06"}'), [{"content": "What name and time?"}]]],
    indirect=True,
)
@pytest.mark.parametrize("endpoint", [[(200, {}, 0.0)]], indirect=True)
async def test_arguments_against_the_schema_are_not_sent(chat: FakeChatServer, endpoint: Endpoint) -> None:
    llm = OpenAIToolsEngine(chat.url, "tiny")
    executor = Executor(sample_url=endpoint.url)
    try:
        turn = await action_turn(transcript("book it"), None, llm, None, [], [action(endpoint.url)], executor)
    finally:
        await executor.aclose()
        llm.close()
    (replied,) = turn.facts
    assert replied.text == "What name and time?" and endpoint.requests == []
    outcome = json.loads(chat.requests[1].body["messages"][-1]["content"])
    assert outcome["ok"] is False and "invalid arguments" in outcome["error"]


@pytest.mark.parametrize("chat", [[[{"content": "We open at nine."}]]], indirect=True)
async def test_a_plain_answer_and_no_actions(chat: FakeChatServer) -> None:
    llm = OpenAIToolsEngine(chat.url, "tiny")
    executor = Executor()
    try:
        turn = await action_turn(
            transcript("when do you open"), None, llm, None, [], [action("https://x.example/b")], executor
        )
        assert [f.text for f in turn.facts] == ["We open at nine."] and "tools" in chat.requests[0].body
        none = await action_turn(transcript("hi"), None, llm, None, [], [], executor)
        assert none.facts == [] and len(chat.requests) == 1  # no actions: the plain chat path answers
    finally:
        await executor.aclose()
        llm.close()


def test_parse_stream_joins_pieces_and_tool_calls() -> None:
    lines = [f"data: {json.dumps({'choices': [{'delta': d}]})}" for d in tool_call_chunks('{"a": 1}')]
    text, calls = parse_stream(iter([": keep-alive", *lines, "data: [DONE]"]))
    assert text == "" and [(c.id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_7", "book_service", {"a": 1})
    ]
