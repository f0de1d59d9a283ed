from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from streams.engines.dialog import Turn
from streams.engines.errors import EngineError
from streams.engines.knowledge import load_knowledge
from streams.engines.openai_chat import OpenAIChatEngine, parse_sse


class _Server:
    """A tiny chat-completions server: streams the configured pieces as server-sent events."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.status = 200
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append((dict(self.headers), body))
                self.send_response(owner.status)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                if owner.status != 200:
                    self.wfile.write(b'{"error": "nope"}')
                    return
                self.wfile.write(b": keep-alive\n\n")
                for piece in owner.pieces:
                    chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(
                    b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n'
                )
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.stop()


def test_streamed_reply_with_knowledge_and_history(server: _Server) -> None:
    server.pieces = ["We are open ", "nine to six", "."]
    engine = OpenAIChatEngine(server.url, "tiny-model", api_key="sk-test")
    kb = load_knowledge()
    history = [Turn("agent", "Hello, how can I help?")]
    reply = engine.reply("when are you open", history, kb)
    engine.close()
    assert reply.text == "We are open nine to six."
    assert reply.intent == "llm" and not reply.end_conversation
    headers, body = server.requests[0]
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "tiny-model" and body["stream"] is True
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "assistant", "user"]
    assert "12 Harbour Street" in body["messages"][0]["content"]
    assert body["messages"][-1]["content"] == "when are you open"


def test_end_marker_ends_the_conversation(server: _Server) -> None:
    server.pieces = ["Goodbye, thanks for calling! ", "[END]"]
    engine = OpenAIChatEngine(server.url, "m")
    reply = engine.reply("bye", [], [])
    engine.close()
    assert reply.text == "Goodbye, thanks for calling!"
    assert reply.end_conversation


def test_http_error_is_an_engine_error(server: _Server) -> None:
    server.status = 503
    engine = OpenAIChatEngine(server.url, "m")
    with pytest.raises(EngineError, match=r"^chat completions answered 503: "):
        engine.reply("hi", [], [])
    engine.close()


def test_unreachable_server_is_an_engine_error(server: _Server) -> None:
    url = server.url
    server.stop()
    server.stop = lambda: None  # type: ignore[method-assign]
    engine = OpenAIChatEngine(url, "m", timeout_s=2)
    with pytest.raises(EngineError, match=r"^chat completions failed: ConnectError"):
        engine.reply("hi", [], [])
    engine.close()


def test_malformed_chunk() -> None:
    with pytest.raises(EngineError, match=r"^malformed chat-completions chunk: "):
        list(parse_sse(iter(["data: {not json"])))
