"""A fake OpenAI-compatible chat-completions server for unit tests of the chat engines: a real HTTP
server on loopback (the engines' own HTTP client talks to it), streaming scripted deltas as
server-sent events the way the OpenAI API does, optionally one every `delay_s` (a model's pace)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class ChatRequest:
    headers: dict[str, str]
    body: dict[str, Any]


class FakeChatServer:
    """The n-th request is answered with ``script[n]``, a list of ``delta`` objects (the last list
    repeats), each streamed as one chunk, then a ``finish_reason`` chunk and ``[DONE]``; a keep-alive
    comment comes first, as real servers send one.  A ``status`` other than 200 answers an error body."""

    def __init__(
        self, script: list[list[dict[str, Any]]] | None = None, *, status: int = 200, delay_s: float = 0.0
    ) -> None:
        self.script = script or [[]]
        self.status = status
        self.delay_s = delay_s
        """Pause before each chunk, as a model writing token by token does."""
        self.chunks_sent = 0
        """Text chunks written so far (all requests): how far the model has got."""
        self.requests: list[ChatRequest] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(ChatRequest(dict(self.headers), body))
                self.send_response(owner.status)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                if owner.status != 200:
                    self.wfile.write(b'{"error": "nope"}')
                    return
                self.wfile.write(b": keep-alive\n\n")
                deltas = owner.script[min(len(owner.requests), len(owner.script)) - 1]
                for delta in deltas:
                    if owner.delay_s:
                        time.sleep(owner.delay_s)
                    chunk = {"choices": [{"index": 0, "delta": delta}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    owner.chunks_sent += 1
                reason = "tool_calls" if any("tool_calls" in d for d in deltas) else "stop"
                end = {"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}
                self.wfile.write(f"data: {json.dumps(end)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self._stopped = False

    def say(self, *pieces: str) -> None:
        """Every request from now on is answered with these text pieces."""
        self.script = [[{"content": piece} for piece in pieces]]

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
