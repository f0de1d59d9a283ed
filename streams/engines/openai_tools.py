"""Agent actions as tools of an OpenAI-compatible chat-completions model.

The engine returns the model's tool call as an effect (`ToolReply.call`); the worker runs the action
(`streams.agents.actions.llm_turn`: validated arguments, the signed request, its facts) and hands the
result back with `answer_tool`, whose reply is what the caller hears. The engine itself makes no
action request, so the pure/effect split of the embedded engine holds here too.

First request: the chat request of `streams.engines.openai_chat` plus
``"tools": [{"type": "function", "function": {"name", "description", "parameters"}}, ...]`` (the enabled
actions). A streamed tool call arrives as ``delta.tool_calls[i]`` pieces: the first carries ``id`` and
``function.name``, the rest append to ``function.arguments`` (JSON text). Second request: the same
messages, then ``{"role": "assistant", "tool_calls": [<the call>]}`` and ``{"role": "tool",
"tool_call_id": <id>, "content": <result JSON>}``; its text is the reply. One call per turn: a model
asking for several gets its first run and the others answered "not run".
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from schemas.models import Action, KnowledgeEntry
from streams.engines.dialog import Reply, Turn
from streams.engines.errors import EngineError
from streams.engines.openai_chat import END_MARKER, OpenAIChatEngine, messages

TOOLS_PROMPT = (
    " When the caller asks for something one of your tools does, first ask for whatever the tool needs "
    "that the caller has not said, then say back what you will do and call the tool only after the "
    "caller agrees."
)


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """JSON text, as the model wrote it (the worker validates it against the action's schema)."""


@dataclass(frozen=True, slots=True)
class ToolReply:
    reply: Reply | None
    call: ToolCall | None


def tools_of(actions: Sequence[Action]) -> list[dict[str, Any]]:
    out = []
    for a in actions:
        if not a.enabled:
            continue
        try:
            parameters = json.loads(a.parameters)
        except ValueError:
            continue  # checked at the admin API; an unreadable one is not offered
        function = {"name": a.name, "description": a.description, "parameters": parameters}
        out.append({"type": "function", "function": function})
    return out


def parse_stream(lines: Iterator[str]) -> tuple[str, list[ToolCall]]:
    """The text and the tool calls of a chat-completions event stream."""
    text: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        try:
            delta = json.loads(data)["choices"][0].get("delta") or {}
            if delta.get("content"):
                text.append(str(delta["content"]))
            for piece in delta.get("tool_calls") or ():
                call = calls.setdefault(int(piece.get("index", 0)), {"id": "", "name": "", "arguments": ""})
                function = piece.get("function") or {}
                call["id"] = piece.get("id") or call["id"]
                call["name"] = function.get("name") or call["name"]
                call["arguments"] += function.get("arguments") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise EngineError(f"malformed chat-completions chunk: {data[:200]!r}") from exc
    tool_calls = [
        ToolCall(c["id"] or f"call_{i}", c["name"], c["arguments"]) for i, c in sorted(calls.items())
    ]
    return "".join(text), [c for c in tool_calls if c.name]


class OpenAIToolsEngine(OpenAIChatEngine):
    """`OpenAIChatEngine` that offers the actions as tools (`reply_with_tools`, `answer_tool`)."""

    def _post(self, body: dict[str, Any]) -> tuple[str, list[ToolCall]]:
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise EngineError(
                        f"chat completions answered {response.status_code}: {response.text[:200]}"
                    )
                return parse_stream(response.iter_lines())
        except httpx.HTTPError as exc:
            raise EngineError(f"chat completions failed: {type(exc).__name__}: {exc}") from exc

    def _body(self, msgs: list[dict[str, Any]], actions: Sequence[Action]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model, "stream": True, "temperature": 0.2, "max_tokens": self.max_tokens,
            "messages": msgs,
        }  # fmt: skip
        tools = tools_of(actions)
        if tools:
            body["tools"] = tools
            msgs[0] = {**msgs[0], "content": msgs[0]["content"] + TOOLS_PROMPT}
        return body

    @staticmethod
    def _reply(text: str) -> Reply:
        end = END_MARKER in text
        text = text.replace(END_MARKER, "").strip()
        if not text:
            raise EngineError("chat completions returned an empty answer")
        return Reply(text, intent="llm", end_conversation=end)

    def reply_with_tools(
        self,
        text: str,
        history: Sequence[Turn],
        knowledge: Sequence[KnowledgeEntry],
        actions: Sequence[Action],
        context: Mapping[str, Any] | None = None,
    ) -> ToolReply:
        msgs: list[dict[str, Any]] = list(messages(text, history, knowledge, context))
        answer, calls = self._post(self._body(msgs, actions))
        if calls:
            return ToolReply(None, calls[0])
        return ToolReply(self._reply(answer), None)

    def answer_tool(
        self,
        text: str,
        history: Sequence[Turn],
        knowledge: Sequence[KnowledgeEntry],
        actions: Sequence[Action],
        call: ToolCall,
        result: Any,
        context: Mapping[str, Any] | None = None,
    ) -> Reply:
        msgs: list[dict[str, Any]] = list(messages(text, history, knowledge, context))
        function = {"name": call.name, "arguments": call.arguments}
        msgs.append({"role": "assistant", "content": None,
                     "tool_calls": [{"id": call.id, "type": "function", "function": function}]})  # fmt: skip
        msgs.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result, sort_keys=True)})
        answer, _ = self._post(self._body(msgs, actions))  # a second call in a row is not run
        return self._reply(answer)
