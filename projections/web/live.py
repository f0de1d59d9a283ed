"""Live calls for the dashboard: a fold of call facts into "who is on the line now", fanned out as
server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html).

``LiveCalls`` is pure: ``apply(fact)`` updates the table and returns the change to publish (a JSON
object, or None). ``LiveFeed`` is the I/O: one ``TopicFollower`` per API process that follows every
partition of ``sentiric.calls`` from its end (restarting itself after a broker error), started by the
first subscriber; each subscriber gets a snapshot and then the changes, through a bounded queue (a
subscriber that falls behind is dropped; its EventSource reconnects and gets a fresh snapshot). It
decodes only the facts it folds: the Avro single-object header names the schema (bytes 2-10, the
fingerprint), so the audio-carrying facts of every call are skipped without being parsed.

Tenants (issue 15): each live call carries its tenant (from its facts, or the CDR row it was seeded
from), and a subscriber sees only the calls of the tenant it acts in (a platform admin acting in none:
every call).

SSE wire format: ``event: <snapshot|call>\\ndata: <json>\\n\\n``; a ``: keep-alive`` comment every
15 s keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import structlog
from aiokafka import ConsumerRecord

from schemas import models as m
from schemas.codec import CodecError, default_codec
from sentiric.eventlog.consumer import DeadLetters, RawPublisher
from sentiric.eventlog.follower import TopicFollower
from sentiric.eventlog.topics import CALLS

log = structlog.get_logger(__name__)

FOLDED: Final = (
    m.CallInviteReceived,
    m.CallAnswered,
    m.CallRejected,
    m.CallEnded,
    m.DialogStateChanged,
    m.UtteranceTranscribed,
    m.AgentReplied,
)
MAX_LIVE: Final = 5000  # calls held; the oldest are dropped beyond this (a lost CallEnded cannot leak)
STALE_AFTER: Final = timedelta(hours=4)  # a call with no fact for this long is dropped
SUBSCRIBER_QUEUE: Final = 1000
KEEPALIVE_S: Final = 15.0


@dataclass(frozen=True, slots=True)
class LiveCall:
    call_id: str
    channel: str = "sip"
    caller: str = ""
    callee: str = ""
    status: str = "ringing"  # ringing | answered | ended
    invite_at: str | None = None
    answered_at: str | None = None
    dialog_state: str | None = None
    turn: int = 0
    last_caller_text: str | None = None
    last_agent_text: str | None = None
    updated_at: str | None = None
    tenant: str = "default"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class LiveCalls:
    def __init__(self) -> None:
        self.calls: dict[str, LiveCall] = {}

    def seed(self, rows: Iterable[dict[str, Any]]) -> None:
        """Calls the CDR store says are in progress (``finished_at IS NULL``), before the tail starts."""
        for row in rows:
            call_id = row["call_id"]
            if call_id in self.calls:
                continue
            invite, answered = row.get("invite_at"), row.get("answered_at")
            self.calls[call_id] = LiveCall(
                call_id,
                channel=row.get("channel") or "sip",
                caller=row.get("caller") or "",
                callee=row.get("callee") or "",
                status="answered" if answered else "ringing",
                invite_at=_iso(invite) if invite else None,
                answered_at=_iso(answered) if answered else None,
                updated_at=_iso(invite) if invite else None,
                tenant=row.get("tenant") or "default",
            )

    def apply(self, fact: Any) -> dict[str, Any] | None:
        call_id = fact.call_id
        at = _iso(fact.occurred_at)
        current = self.calls.get(call_id)
        if isinstance(fact, m.CallInviteReceived):
            call = LiveCall(
                call_id,
                fact.channel,
                fact.caller,
                fact.callee,
                "ringing",
                at,
                updated_at=at,
                tenant=fact.tenant,
            )
        elif current is None:
            return None  # a call that started before we looked, and is not in the snapshot
        elif isinstance(fact, m.CallAnswered):
            call = replace(current, status="answered", answered_at=at, updated_at=at)
        elif isinstance(fact, m.CallRejected | m.CallEnded):
            del self.calls[call_id]
            return {**asdict(current), "status": "ended", "updated_at": at}
        elif isinstance(fact, m.DialogStateChanged):
            call = replace(current, dialog_state=fact.to_state, turn=fact.turn, updated_at=at)
        elif isinstance(fact, m.UtteranceTranscribed):
            if not fact.is_final or not fact.text.strip():
                return None
            call = replace(current, last_caller_text=fact.text, updated_at=at)
        elif isinstance(fact, m.AgentReplied):
            if not fact.final:
                return None  # a sentence of a streamed reply; the whole reply follows
            call = replace(current, last_agent_text=fact.text, updated_at=at)
        else:
            return None
        self.calls[call_id] = call
        self._bound(fact.occurred_at)
        return asdict(call)

    def _bound(self, now: datetime) -> None:
        if len(self.calls) <= MAX_LIVE:
            return
        cutoff = _iso(now - STALE_AFTER)
        for call_id, call in list(self.calls.items()):
            if (call.updated_at or "") < cutoff or len(self.calls) > MAX_LIVE:
                del self.calls[call_id]
            if len(self.calls) <= MAX_LIVE // 2:
                break

    def snapshot(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """The live calls (of ``tenant``; None: all), newest first."""
        calls = [c for c in self.calls.values() if tenant is None or c.tenant == tenant]
        return [asdict(c) for c in sorted(calls, key=lambda c: c.invite_at or "", reverse=True)]


def sse(event: str, data: Any) -> bytes:
    """One server-sent event (``data`` as one line of compact JSON)."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()


class LiveFeed:
    def __init__(self, client: dict[str, Any], *, dead_letters: RawPublisher | None = None) -> None:
        self.client = client
        self.dead_letters = DeadLetters(dead_letters, "web-live")  # a fact it cannot fold is set aside
        self.live = LiveCalls()
        self.subscribers: dict[asyncio.Queue[bytes | None], str | None] = {}  # → the tenant it sees
        self._codec = default_codec()
        self._wanted = frozenset(self._codec.fingerprint_of(model) for model in FOLDED)
        self._task: asyncio.Task[None] | None = None
        self._follower: TopicFollower | None = None
        self._ready = asyncio.Event()

    async def ensure_started(self, seed: Iterable[dict[str, Any]] = ()) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(list(seed)), name="web-live-feed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 10.0)

    async def _run(self, seed: list[dict[str, Any]]) -> None:
        follower = TopicFollower(
            CALLS, self._on_record, name="web-live", dead_letters=self.dead_letters, **self.client
        )
        try:
            await follower.start()  # positions resolved at the end: the tail starts after the seed
        except Exception as exc:
            log.warning("live feed: cannot read the call topic", error=str(exc))
            with contextlib.suppress(Exception):
                await follower.stop()
            self._ready.set()
            return
        self._follower = follower
        self.live.seed(seed)  # before the follower's task first runs: no fact is folded before it
        self._ready.set()

    def _on_record(self, msg: ConsumerRecord[bytes, bytes]) -> None:
        """One call fact; raising in the fold sets it aside (the follower) and the feed goes on."""
        value = msg.value
        if value is None or value[2:10] not in self._wanted:
            return
        try:
            fact = self._codec.decode(value)
        except CodecError:
            return  # the CDR projector dead-letters corrupt facts
        change = self.live.apply(fact)
        if change is not None:
            self._publish(sse("call", change), change["tenant"])

    def _publish(self, event: bytes, tenant: str) -> None:
        for queue, sees in list(self.subscribers.items()):
            if sees is not None and sees != tenant:
                continue
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self.subscribers.pop(queue, None)  # too slow: its stream ends, the browser reconnects
                with contextlib.suppress(asyncio.QueueFull):
                    queue.get_nowait()
                    queue.put_nowait(None)

    async def stream(self, tenant: str | None = None) -> AsyncIterator[bytes]:
        """The snapshot and the changes of ``tenant``'s calls (None: every tenant's)."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self.subscribers[queue] = tenant
        try:
            yield b"retry: 2000\n\n" + sse("snapshot", self.live.snapshot(tenant))
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if event is None:
                    return
                yield event
        finally:
            self.subscribers.pop(queue, None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._follower is not None:
            with contextlib.suppress(Exception):
                await self._follower.stop()
            self._follower = None
