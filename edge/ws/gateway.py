"""The WebSocket gateway's registry of live web calls, and its two feeds from the log.

``WebGateway`` knows every web call this edge holds (one per connection, see ``edge.ws.server``)
and is the seam the rest of the edge talks to:

- ``owns(call_id)``: is this a web call of ours?
- ``await execute(command)``: carry out a command for one of our calls (PlayAudio, StopPlayback,
  Hangup); True if the call was ours, False otherwise (then the SIP side / media engine has it).
- ``observe(fact)``: a fact about one of our calls from elsewhere (transcripts, replies, dialog
  states) is passed on to its browser.

The log feeds: ``CallTail`` follows ``sentiric.calls`` from its end and hands our calls' facts to
``observe`` (it decodes only records keyed by a call we hold: the audio-carrying facts of other calls
are never decoded). Commands reach ``execute`` either from the edge's own command consumer
(``GatewayFirst`` wraps its dispatcher) or, for a gateway running alone, from a ``CommandConsumer``
of its own (``own_commands=True`` in ``edge.ws.server.WebService``), never both.
"""

from __future__ import annotations

import asyncio
import wave
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import numpy as np
import structlog

from edge.facts import FactSink
from edge.uas.callerid import Caller
from edge.uas.dialplan import Plan
from edge.uas.tenants import route
from edge.ws.session import Effect, WebCall
from schemas import models as m
from schemas.codec import default_codec, type_name
from sentiric.eventlog.consumer import decode_message
from sentiric.eventlog.follower import TopicFollower
from sentiric.eventlog.topics import CALLS

log = structlog.get_logger(__name__)


class Link(Protocol):
    """What the gateway needs from a connection adapter."""

    call: WebCall

    def apply(self, effects: list[Effect]) -> None: ...


class Dialplans(Protocol):
    def dialplans(self) -> Any: ...


class Callers(Protocol):
    def caller(self, caller_id: str, tenant: str | None = None) -> Caller | None: ...


def load_wav(uri: str) -> tuple[bytes, int]:
    """A ``file://`` (or plain path) WAV prompt as mono s16le PCM and its rate."""
    parts = urlsplit(uri)
    path = Path(unquote(parts.path)) if parts.scheme in ("file", "") else None
    if path is None:
        raise ValueError(f"unsupported audio URI for a web call: {uri}")
    with wave.open(str(path)) as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit WAV prompts are supported on web calls")
        raw = w.readframes(w.getnframes())
        channels, rate = w.getnchannels(), w.getframerate()
    if channels > 1:
        frames = np.frombuffer(raw, dtype="<i2").reshape(-1, channels).mean(axis=1)
        raw = frames.astype("<i2").tobytes()
    return raw, rate


class WebGateway:
    def __init__(
        self, facts: FactSink, *, directory: Dialplans | None = None, callers: Callers | None = None
    ) -> None:
        self.facts = facts
        self.directory = directory
        self.callers = callers  # contacts and SIP users (the edge's config table, or the gateway's own)
        self.links: dict[str, Link] = {}

    # --- the edge's seam ---

    def owns(self, call_id: str) -> bool:
        return call_id in self.links

    async def execute(self, command: Any) -> bool:
        link = self.links.get(command.call_id)
        if link is None:
            return False
        call = link.call
        if isinstance(command, m.PlayAudio) and command.pcm is None and command.audio_uri:
            try:
                pcm, rate = await asyncio.to_thread(load_wav, command.audio_uri)
            except (OSError, ValueError, wave.Error) as exc:
                log.warning("web call prompt failed", call_id=call.call_id, error=str(exc))
                link.apply(call.play_failed(command.playback_id))
                return True
            now = asyncio.get_running_loop().time()
            link.apply(
                call.play(
                    command.playback_id,
                    pcm,
                    rate,
                    barge_in=command.barge_in,
                    source_uri=command.audio_uri,
                    now=now,
                    after_utterance=command.after_utterance,
                )
            )
            return True
        try:
            link.apply(call.execute(command, asyncio.get_running_loop().time()))
        except ValueError as exc:
            log.warning("command refused by web call", call_id=call.call_id, error=str(exc))
        return True

    def observe(self, fact: Any) -> None:
        link = self.links.get(getattr(fact, "call_id", ""))
        if link is not None:
            link.apply(link.call.observe(fact))

    # --- for the connection adapter ---

    def plan_for(self, callee: str) -> Plan:
        """The plan for a web call to ``callee``, its ``tenant`` the call's: routed by the number as a
        SIP call without a domain match is (``edge.uas.tenants``); a disabled tenant's plan refuses (403)."""
        plans = () if self.directory is None else self.directory.dialplans()
        tenants = getattr(self.directory, "tenants", None)
        routed = route(plans, tenants() if tenants is not None else {}, "", callee)
        plan = replace(routed.plan, tenant=routed.tenant)
        return plan if routed.enabled else replace(plan, action="reject", reject_status=403)

    def caller_for(self, caller: str, tenant: str | None = None) -> Caller | None:
        """The contact or SIP user the ``caller`` query parameter names (``edge.uas.callerid``), among
        ``tenant``'s: a claim of the client's, like a From number — a greeting and a profile, never an
        authorization."""
        return self.callers.caller(caller, tenant) if self.callers is not None else None

    def register(self, link: Link) -> None:
        self.links[link.call.call_id] = link

    def unregister(self, call_id: str) -> None:
        self.links.pop(call_id, None)
        forget = getattr(self.facts, "forget", None)
        if forget is not None:
            forget(call_id)


class GatewayFirst:
    """A command dispatcher that offers each command to the gateway before the edge's own dispatcher.

    ``CommandConsumer(topic, GatewayFirst(gateway, CommandDispatcher(...)))`` in ``edge.app``.
    """

    def __init__(self, gateway: WebGateway, fallback: Any | None = None) -> None:
        self.gateway = gateway
        self.fallback = fallback

    async def dispatch(self, command: Any) -> str:
        try:
            if await self.gateway.execute(command):
                return "ok"
        except Exception as exc:  # a failing command is logged and counted, never fatal
            log.warning("web command failed", command=type_name(command), error=str(exc))
            return "error"
        if self.fallback is None:
            return "ignored"
        outcome: str = await self.fallback.dispatch(command)
        return outcome


class CallTail:
    """Follows ``sentiric.calls`` from its end; facts of calls the gateway holds go to ``observe``."""

    def __init__(self, gateway: WebGateway, **client: Any) -> None:
        self.gateway = gateway
        self._codec = default_codec()
        self._follower = TopicFollower(CALLS, self._observe, name="ws-call-tail", **client)
        self.observed = 0

    async def start(self) -> None:
        await self._follower.start()

    def _observe(self, msg: Any) -> None:
        if msg.key is None or msg.key.decode(errors="replace") not in self.gateway.links:
            return
        decoded = decode_message(msg, self._codec, None)  # logs a corrupt one with its offset
        if decoded is None:
            return
        self.observed += 1
        self.gateway.observe(decoded.record)

    async def stop(self) -> None:
        await self._follower.stop()
