"""A real LLM as the dialog engine: any OpenAI-compatible chat-completions endpoint, streamed.

Request (`POST {base_url}/chat/completions`, `Authorization: Bearer <key>` when a key is set)::

    {"model": M, "stream": true, "temperature": 0.2, "max_tokens": N,
     "messages": [{"role": "system", "content": <instructions + knowledge>},
                  ... history as user/assistant turns ..., {"role": "user", "content": <text>}]}

Response: server-sent events, one `data: <json>` line per chunk whose `choices[0].delta.content`
carries the next piece of text, ending with `data: [DONE]`. The knowledge base rides along in the
system prompt; the model ends its reply with the marker `[END]` when the caller wants to finish, which
becomes `Reply.end_conversation`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import httpx

from schemas.models import KnowledgeEntry
from streams.engines.dialog import Reply, Turn
from streams.engines.errors import EngineError

END_MARKER: Final = "[END]"
SYSTEM_PROMPT: Final = (
    "You are the voice agent of a business, speaking with a caller on the phone. Answer in one or two "
    "short spoken sentences, without lists or markup. Use only the facts below; if they do not cover the "
    "question, say so and say what you can help with. When the caller says goodbye or has nothing more "
    f"to ask, say a short goodbye and end your message with {END_MARKER}."
)


def system_prompt(knowledge: Sequence[KnowledgeEntry]) -> str:
    facts = "\n".join(f"- {e.title}: {e.answer}" for e in knowledge if not e.end_conversation)
    return f"{SYSTEM_PROMPT}\n\nFacts:\n{facts or '- (none)'}"


def messages(text: str, history: Sequence[Turn], knowledge: Sequence[KnowledgeEntry]) -> list[dict[str, str]]:
    out = [{"role": "system", "content": system_prompt(knowledge)}]
    out += [{"role": "user" if t.role == "caller" else "assistant", "content": t.text} for t in history]
    out.append({"role": "user", "content": text})
    return out


def parse_sse(lines: Iterator[str]) -> Iterator[str]:
    """Text pieces of an OpenAI chat-completions event stream."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments (": keep-alive"), event names
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            chunk: Any = json.loads(data)
            piece = (chunk["choices"][0].get("delta") or {}).get("content")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise EngineError(f"malformed chat-completions chunk: {data[:200]!r}") from exc
        if piece:
            yield piece


def _ignore(_: str) -> None:
    pass


class OpenAIChatEngine:
    """DialogEngine over an OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp server, Ollama, ...)."""

    name = "openai-chat"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 20.0,
        max_tokens: int = 160,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def reply(self, text: str, history: Sequence[Turn], knowledge: Sequence[KnowledgeEntry]) -> Reply:
        return self.reply_streaming(text, history, knowledge, _ignore)

    def reply_streaming(
        self,
        text: str,
        history: Sequence[Turn],
        knowledge: Sequence[KnowledgeEntry],
        on_text: Callable[[str], None],
    ) -> Reply:
        """`reply`, handing every text piece to `on_text` as it arrives (the marker included)."""
        body = {
            "model": self.model,
            "stream": True,
            "temperature": 0.2,
            "max_tokens": self.max_tokens,
            "messages": messages(text, history, knowledge),
        }
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise EngineError(
                        f"chat completions answered {response.status_code}: {response.text[:200]}"
                    )
                pieces: list[str] = []
                for piece in parse_sse(response.iter_lines()):
                    pieces.append(piece)
                    on_text(piece)
                answer = "".join(pieces)
        except httpx.HTTPError as exc:
            raise EngineError(f"chat completions failed: {type(exc).__name__}: {exc}") from exc
        end = END_MARKER in answer
        answer = answer.replace(END_MARKER, "").strip()
        if not answer:
            raise EngineError("chat completions returned an empty answer")
        return Reply(answer, intent="llm", end_conversation=end)
