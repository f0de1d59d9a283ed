from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.engines.dialog import Turn
from streams.engines.errors import EngineError
from streams.engines.knowledge import load_knowledge
from streams.engines.openai_chat import OpenAIChatEngine, parse_sse
from tests.support.fake_chat import FakeChatServer


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    s = FakeChatServer()
    yield s
    s.stop()


def test_streamed_reply_with_knowledge_and_history(server: FakeChatServer) -> None:
    server.say("We are open ", "nine to six", ".")
    engine = OpenAIChatEngine(server.url, "tiny-model", api_key="sk-test")
    kb = load_knowledge()
    history = [Turn("agent", "Hello, how can I help?")]
    reply = engine.reply("when are you open", history, kb)
    engine.close()
    assert reply.text == "We are open nine to six."
    assert reply.intent == "llm" and not reply.end_conversation
    headers, body = server.requests[0].headers, server.requests[0].body
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "tiny-model" and body["stream"] is True
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "assistant", "user"]
    assert "12 Harbour Street" in body["messages"][0]["content"]
    assert body["messages"][-1]["content"] == "when are you open"


def test_end_marker_ends_the_conversation(server: FakeChatServer) -> None:
    server.say("Goodbye, thanks for calling! ", "[END]")
    engine = OpenAIChatEngine(server.url, "m")
    reply = engine.reply("bye", [], [])
    engine.close()
    assert reply.text == "Goodbye, thanks for calling!"
    assert reply.end_conversation


def test_http_error_is_an_engine_error(server: FakeChatServer) -> None:
    server.status = 503
    engine = OpenAIChatEngine(server.url, "m")
    with pytest.raises(EngineError, match=r"^chat completions answered 503: "):
        engine.reply("hi", [], [])
    engine.close()


def test_unreachable_server_is_an_engine_error(server: FakeChatServer) -> None:
    url = server.url
    server.stop()
    engine = OpenAIChatEngine(url, "m", timeout_s=2)
    with pytest.raises(EngineError, match=r"^chat completions failed: ConnectError"):
        engine.reply("hi", [], [])
    engine.close()


def test_malformed_chunk() -> None:
    with pytest.raises(EngineError, match=r"^malformed chat-completions chunk: "):
        list(parse_sse(iter(["data: {not json"])))
