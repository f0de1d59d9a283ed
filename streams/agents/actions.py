"""Agent actions in the dialog-engine worker: the effect executor around `streams.engines.actions`.

The pure conversation (`advance`) says what to do; this module does it, outside the reducer:

    UtteranceTranscribed ─▶ advance(pending, text, today, actions)
        None ─▶ the knowledge engine / LLM answers as usual
        Say  ─▶ AgentReplied (question, confirmation, "okay, I won't")
        Run  ─▶ ActionRequested ─▶ POST endpoint ─▶ ActionCompleted + AgentReplied(done text)
                                                  └▶ ActionFailed + AgentReplied(apology + alternative)

The request (same signing as webhooks, `projections.webhooks`)::

    POST <url>
    Content-Type: application/json
    X-Sentiric-Signature: sha256=<hex HMAC-SHA256(secret, body)>
    X-Sentiric-Request-Id: <request id>    (the same on a retry or a redelivery: endpoints de-duplicate)
    X-Sentiric-Action: <action id>

    {"action": <name>, "request_id", "call_id", "arguments": {...},
     "context": {"caller", "known", "contact_id", "name", "language", "profile": {...},
                 "answers": {...}, "values": {...}}}

`context` is the call's (`streams.dialog.context`): the caller id and the known caller's profile, the
arguments of earlier actions in the call, and values earlier results wrote back. A result may write
back: `{"context": {"name": "Bob", ...}}` (lower-case names, scalar values) becomes a
`CallContextUpdated` fact before the spoken reply, so later prompts ("{caller_name}") and actions
(`{context.name}`, slots of that name) of the call use it, and a replay sees it.

Connection errors, timeouts, 408, 425, 429 and 5xx are retried (`Action.retries`); every attempt has
`Action.timeout_s`, and all of them together at most `BUDGET_S`, below the dialog's no-reply timeout,
so the caller hears the apology rather than the machine's own. Endpoints follow the webhook address
rule (`projections.webhook_targets.GuardedTransport`) but for the built-in sample endpoint.

Facts derive their event ids from the transcript that caused them, so a redelivered "yes" re-issues
the same request id (the endpoint answers it once) and the same facts (consumers de-duplicate).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Protocol

import httpx
import structlog
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs shipped
from jsonschema.exceptions import SchemaError, ValidationError  # type: ignore[import-untyped]  # no stubs shipped

from projections.webhook_targets import GuardedTransport, TargetRefused
from schemas import models as m
from schemas.wiretext import safe_field
from streams.agents import speech
from streams.dialog.context import CallContext, written_values
from streams.engines import actions as engine
from streams.engines.dialog import Turn as DialogTurn
from streams.engines.errors import EngineError
from streams.engines.openai_tools import OpenAIToolsEngine

log = structlog.get_logger("sentiric.streams.actions")
SIGNATURE_HEADER: Final = "X-Sentiric-Signature"
BUDGET_S: Final = 10.0
RETRYABLE: Final = frozenset({408, 425, 429})
MAX_RESULT_CHARS: Final = 4000
ACTION_ENGINE: Final = "actions"


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, signature: str) -> bool:
    return hmac.compare_digest(sign(body, secret), signature)


class ActionStore:
    """The enabled and disabled `Action` records of the config topic (a `ConfigView` listener)."""

    def __init__(self) -> None:
        self._by_key: dict[str, m.Action] = {}
        self._snapshot: tuple[m.Action, ...] = ()

    def apply(self, key: str, record: Any | None) -> None:
        if isinstance(record, m.Action):
            self._by_key[key] = record
        elif self._by_key.pop(key, None) is None:
            return
        self._snapshot = tuple(self._by_key[k] for k in sorted(self._by_key))

    def actions(self, tenant: str | None = None) -> Sequence[m.Action]:
        """The actions (``tenant``'s only, when given: a call may trigger its own tenant's alone)."""
        if tenant is None:
            return self._snapshot
        return tuple(a for a in self._snapshot if a.tenant == tenant)


@dataclass(frozen=True, slots=True)
class CallResult:
    ok: bool
    status_code: int | None
    result: Any
    error: str
    attempts: int
    latency_ms: float


class ActionCaller(Protocol):
    """What calls an action's endpoint: the live `Executor`, or a re-run's stub answering from a
    recorded call (`streams.replay_actions.RecordedActions`)."""

    async def call(self, action: m.Action, body: bytes, request_id: str) -> CallResult: ...


class Executor:
    """Calls action endpoints: one guarded client, one unguarded for the sample endpoint (or for all
    when private targets are allowed)."""

    def __init__(self, *, sample_url: str | None = None, allow_private: bool = False) -> None:
        self.sample_url = sample_url
        self._open = httpx.AsyncClient(trust_env=False)
        # The sample endpoint is this machine's own API on loopback, whose certificate may name another
        # host (a self-signed one): nothing to verify there (as `sentiric up`'s own probes).
        self._sample = httpx.AsyncClient(trust_env=False, verify=False)
        self._guarded = (
            self._open if allow_private else httpx.AsyncClient(transport=GuardedTransport(), trust_env=False)
        )

    async def aclose(self) -> None:
        await self._sample.aclose()
        await self._open.aclose()
        if self._guarded is not self._open:
            await self._guarded.aclose()

    def _client(self, url: str) -> httpx.AsyncClient:
        return self._sample if self.sample_url is not None and url == self.sample_url else self._guarded

    async def call(self, action: m.Action, body: bytes, request_id: str) -> CallResult:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, action.secret),
            "X-Sentiric-Request-Id": request_id,
            "X-Sentiric-Action": action.entity_id,
        }
        start = time.monotonic()
        error, status, attempts = "no attempt made", None, 0
        http = self._client(action.url)
        for attempt in range(1 + max(0, action.retries)):
            left = BUDGET_S - (time.monotonic() - start)
            if left <= 0.05:
                break
            attempts += 1
            try:
                response = await http.post(
                    action.url, content=body, headers=headers, timeout=min(action.timeout_s, left)
                )
            except TargetRefused as exc:
                error = f"target refused: {exc}"
                break  # retrying will not make the address public
            except httpx.HTTPError as exc:
                error, status = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, None
            else:
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        result = response.json()
                    except ValueError:
                        result = {"text": response.text[:MAX_RESULT_CHARS]}
                    return CallResult(True, status, result, "", attempts, _ms(start))
                error = f"HTTP {status}: {response.text[:200]}"
                if status < 500 and status not in RETRYABLE:
                    break  # the endpoint refuses this request: retrying will not help
            if attempt < action.retries:
                await asyncio.sleep(min(0.2 * 2**attempt, max(0.0, BUDGET_S - (time.monotonic() - start))))
        return CallResult(False, status, None, error, attempts, _ms(start))


def _ms(start: float) -> float:
    return (time.monotonic() - start) * 1000.0


def _envelope(cause: m.UtteranceTranscribed, what: str) -> dict[str, Any]:
    out = speech._derived(cause, speech.ENGINE_SOURCE)
    out["event_id"] = uuid.uuid5(out["event_id"], what)  # distinct from the reply the cause also gets
    return out


def reply(
    cause: m.UtteranceTranscribed,
    text: str,
    intent: str,
    ms: float,
    name: str = ACTION_ENGINE,
    end: bool = False,
) -> m.AgentReplied:
    return m.AgentReplied(
        **speech._derived(cause, speech.ENGINE_SOURCE), reply_id=f"{cause.utterance_id}:reply",
        utterance_id=cause.utterance_id, text=safe_field("text", text), intent=intent,
        end_conversation=end, engine=name, latency_ms=ms, language=cause.language,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Turn:
    facts: list[Any]
    """To produce in order (the AgentReplied last); empty: not an action turn."""
    pending: bytes | None
    """The call's new pending action (None: none)."""


async def take_turn(
    cause: m.UtteranceTranscribed,
    pending: bytes | None,
    actions: Sequence[m.Action],
    executor: ActionCaller,
    context: CallContext | None = None,
) -> Turn:
    """Advance the call's action conversation by one caller turn and do what it says."""
    start = time.perf_counter()
    today = cause.occurred_at.date()
    ctx = context or CallContext()
    step = engine.advance(
        engine.Pending.from_json(pending), cause.text, today, actions, ctx.slot_values(), ctx.lookup(),
        cause.language,
    )  # fmt: skip
    if step is None:
        return Turn([], None)
    if isinstance(step, engine.Say):
        ms = (time.perf_counter() - start) * 1000.0
        return Turn(
            [reply(cause, step.text, step.intent, ms)], step.pending.to_json() if step.pending else None
        )
    return Turn(await run(cause, step.action, step.arguments, executor, today, start, ctx), None)


async def execute(
    cause: m.UtteranceTranscribed,
    action: m.Action,
    arguments: Mapping[str, Any],
    executor: ActionCaller,
    context: CallContext | None = None,
) -> tuple[list[Any], CallResult]:
    """Call the action's endpoint: its facts (ActionRequested, then ActionCompleted or ActionFailed,
    and CallContextUpdated when the result writes values back)."""
    request_id = f"{cause.call_id}:{cause.utterance_id}:{action.entity_id}"
    args = json.dumps(dict(arguments), sort_keys=True)
    requested = m.ActionRequested(
        **_envelope(cause, "requested"), request_id=request_id, action=action.entity_id,
        utterance_id=cause.utterance_id, name=action.name, arguments=args, url=action.url,
    )  # fmt: skip
    payload = {
        "action": action.name,
        "request_id": request_id,
        "call_id": cause.call_id,
        "arguments": arguments,
        "context": (context or CallContext()).as_request(),
    }
    body = json.dumps(payload, sort_keys=True).encode()
    try:
        result = await executor.call(action, body, request_id)
    except Exception as exc:  # whatever broke, the caller hears the apology
        log.exception("action call crashed", call_id=cause.call_id, action=action.entity_id)
        result = CallResult(False, None, None, f"{type(exc).__name__}: {exc}", 0, 0.0)
    if result.ok:
        text = json.dumps(result.result, sort_keys=True)[:MAX_RESULT_CHARS]
        done = m.ActionCompleted(
            **_envelope(cause, "completed"), request_id=request_id, action=action.entity_id,
            status_code=result.status_code or 200, result=text,
            attempts=result.attempts, latency_ms=result.latency_ms,
        )  # fmt: skip
        written = written_values(result.result)
        if not written:
            return [requested, done], result
        update = m.CallContextUpdated(
            **_envelope(cause, "context"), request_id=request_id, action=action.entity_id,
            values=json.dumps(written, sort_keys=True),
        )  # fmt: skip
        return [requested, done, update], result
    log.warning("action failed", call_id=cause.call_id, action=action.entity_id, error=result.error)
    failed = m.ActionFailed(
        **_envelope(cause, "failed"), request_id=request_id, action=action.entity_id,
        status_code=result.status_code, error=safe_field("error", result.error[:500]),
        attempts=result.attempts, latency_ms=result.latency_ms,
    )  # fmt: skip
    return [requested, failed], result


async def run(
    cause: m.UtteranceTranscribed,
    action: m.Action,
    arguments: Mapping[str, str],
    executor: ActionCaller,
    today: date,
    start: float,
    context: CallContext | None = None,
) -> list[Any]:
    facts, result = await execute(cause, action, arguments, executor, context)
    ms = (time.perf_counter() - start) * 1000.0
    if result.ok:
        after = context or CallContext()
        for fact in facts:
            after = after.apply(fact)  # the done text may name what the result just wrote back
        said = engine.done_text(action, arguments, result.result, today, after.lookup(), cause.language)
        return [*facts, reply(cause, said, f"action:{action.entity_id}:done", ms)]
    apology = engine.failed_text(action, cause.language)
    return [*facts, reply(cause, apology, f"action:{action.entity_id}:failed", ms)]


def checked_arguments(action: m.Action, raw: str) -> dict[str, Any]:
    """The model's arguments for `action`, valid against its schema; ValueError saying why not."""
    try:
        arguments = json.loads(raw or "{}")
        Draft202012Validator(json.loads(action.parameters)).validate(arguments)
    except ValidationError as exc:
        raise ValueError(f"invalid arguments: {exc.message}") from None
    except (ValueError, SchemaError) as exc:
        raise ValueError(f"unreadable arguments or schema: {exc}") from None
    if not isinstance(arguments, dict):
        raise ValueError("arguments must be an object")
    return arguments


async def llm_turn(
    cause: m.UtteranceTranscribed,
    llm: OpenAIToolsEngine,
    history: Sequence[DialogTurn],
    knowledge: Sequence[m.KnowledgeEntry],
    actions: Sequence[m.Action],
    executor: ActionCaller,
    context: CallContext | None = None,
) -> list[Any]:
    """One caller turn answered by a model with the actions as tools: the model's reply, or its tool
    call run once (facts) and the model's answer to the result. Raises EngineError when the model
    cannot be reached for the first answer (the worker logs it; the dialog's no-reply timer speaks)."""
    start = time.perf_counter()
    facts_of_call = context.prompt_facts() if context is not None else None  # data in the prompt
    first = await asyncio.to_thread(
        llm.reply_with_tools, cause.text, history, knowledge, actions, facts_of_call
    )
    if first.call is None:
        assert first.reply is not None
        ms = (time.perf_counter() - start) * 1000.0
        return [
            reply(
                cause,
                first.reply.text,
                first.reply.intent or "llm",
                ms,
                llm.name,
                first.reply.end_conversation,
            )
        ]
    call = first.call
    action = next((a for a in actions if a.enabled and a.name == call.name), None)
    facts: list[Any] = []
    outcome: dict[str, Any]
    if action is None:
        outcome = {"ok": False, "error": f"there is no tool named {call.name!r}"}
    else:
        try:
            arguments = checked_arguments(action, call.arguments)
        except ValueError as exc:
            outcome = {"ok": False, "error": str(exc)}
        else:
            facts, result = await execute(cause, action, arguments, executor, context)
            outcome = (
                {"ok": True, "result": result.result} if result.ok else {"ok": False, "error": "unavailable"}
            )
    try:
        said = await asyncio.to_thread(
            llm.answer_tool, cause.text, history, knowledge, actions, call, outcome, facts_of_call
        )
        text, end = said.text, said.end_conversation
    except EngineError as exc:  # the model is gone after the action ran: say the outcome ourselves
        log.warning("model failed after a tool call", call_id=cause.call_id, error=str(exc))
        end = False
        if action is not None and outcome["ok"]:
            text = engine.done_text(
                action, {}, outcome["result"], cause.occurred_at.date(), language=cause.language
            )
        elif action is not None:
            text = engine.failed_text(action, cause.language)
        else:
            text = "Sorry, I can't do that. What else can I help with?"
    ms = (time.perf_counter() - start) * 1000.0
    intent = f"action:{action.entity_id if action else call.name}:llm"
    return [*facts, reply(cause, text, intent, ms, llm.name, end)]


def acts(
    cause: m.UtteranceTranscribed,
    pending: bytes | None,
    dialog: Any,
    actions: Sequence[m.Action],
    context: CallContext | None = None,
) -> bool:
    """Whether answering `cause` may call an action's endpoint or move the call's action conversation
    (a slot asked for, a booking confirmed): a tool-calling model with actions, an action conversation
    under way, or words that start one. The worker answers such an early turn (the caller's words at a
    pause) only once the final transcript confirms them: the caller may yet say "no, wait"."""
    if isinstance(dialog, OpenAIToolsEngine):
        return bool(actions)
    if pending is not None:
        return True
    ctx = context or CallContext()
    step = engine.advance(
        None, cause.text, cause.occurred_at.date(), actions, ctx.slot_values(), ctx.lookup(), cause.language
    )
    return step is not None


async def action_turn(
    cause: m.UtteranceTranscribed,
    pending: bytes | None,
    dialog: Any,
    raw_history: bytes | None,
    knowledge: Sequence[m.KnowledgeEntry],
    actions: Sequence[m.Action],
    executor: ActionCaller,
    context: CallContext | None = None,
) -> Turn:
    """The worker's entry: with a tool-calling model as the dialog engine and actions configured, the
    model decides (`llm_turn`); else the embedded conversation (`take_turn`). No facts: not an action
    turn, the dialog engine answers as usual."""
    if isinstance(dialog, OpenAIToolsEngine):
        if not actions:
            return Turn([], None)
        history = speech.load_history(raw_history)
        return Turn(await llm_turn(cause, dialog, history, knowledge, actions, executor, context), None)
    return await take_turn(cause, pending, actions, executor, context)
