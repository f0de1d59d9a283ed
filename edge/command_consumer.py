"""The edge's command consumer: ``sentiric.commands.<node>`` → the SIP core or the media engine.

``Hangup``, ``TransferCall`` and ``OriginateCall`` are signalling (BYE, REFER, INVITE) and go to the
SIP side; a ``PlayAudio`` with only a ``text`` (an operator's "say" from the REST API) goes to the
speaker, which synthesizes it; ``MuteAgent`` (an operator's) makes the agent's prompts play as silence
until it is unmuted; everything else (PlayAudio, StopPlayback, StartRecording, StopRecording,
SendDtmf) goes to ``engine.execute``.
Each edge node reads its own topic from the end as it is at start-up: commands for calls of a
previous run have no call to act on.  A failing command is never fatal: one that does not decode, or
whose dispatch raises or reports an error, is set aside (logged with its offset, counted in
``sentiric_edge_commands_total{outcome="error"}`` and ``sentiric_log_dead_lettered_total``, copied to
``sentiric.deadletter``) and the next command runs.  The follower underneath restarts its read loop
after a broker error (`sentiric.eventlog.follower`).
"""

from __future__ import annotations

import dataclasses
import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog

from edge import metrics as m
from edge import turn_spans
from schemas.codec import default_codec, type_name
from schemas.models import StopPlayback
from sentiric import tracing
from sentiric.eventlog.consumer import UNAPPLIABLE, DeadLetters, RawPublisher, decode_message
from sentiric.eventlog.follower import TopicFollower
from sentiric.logs import bind_call, unbind_call

log = structlog.get_logger(__name__)


TRANSFER_MODES = (None, "refer", "bridge", "attended")  # None: the call's dialplan transfer_mode


class SignallingCommands(Protocol):
    def hangup(self, call_id: str, reason: str, by: str = "agent") -> None: ...

    def transfer(
        self, call_id: str, target: str, mode: str | None = None, brief: str | None = None
    ) -> None: ...

    def originate(self, command: Any) -> None: ...


class Dispatcher(Protocol):
    """What the consumer hands each command to: ``CommandDispatcher``, or the web gateway's
    ``GatewayFirst`` in front of it. The outcome labels the command metric."""

    async def dispatch(self, command: Any) -> str: ...


Speaker = Callable[[Any], Awaitable[None]]


def _text_only(command: Any) -> bool:
    return command.pcm is None and not command.audio_uri and bool(command.text)


class CommandDispatcher:
    def __init__(self, sip: SignallingCommands, engine: Any | None, speaker: Speaker | None = None) -> None:
        self.sip = sip
        self.engine = engine
        self.speaker = speaker  # a PlayAudio with only a text is synthesized by it (PromptPlayer.say)
        self.muted: set[str] = set()  # calls whose agent an operator muted (MuteAgent)

    async def dispatch(self, command: Any) -> str:
        """Carry out one command; returns the outcome label (ok, ignored). A failure raises: the
        consumer sets the command aside with the error."""
        name = type_name(command)
        bind_call(command.call_id, getattr(command, "trace_id", None))
        try:
            if name == "Hangup":
                by = "operator" if command.requested_by else "agent"  # an operator's, from the REST API
                self.sip.hangup(command.call_id, command.reason, by)
            elif name == "TransferCall":
                mode = "refer" if command.mode == "blind" else command.mode
                if mode not in TRANSFER_MODES:  # set aside (dead letter) with this reason
                    raise ValueError(f"unknown transfer mode {command.mode!r}")
                self.sip.transfer(command.call_id, command.target_uri, mode, command.brief)
            elif name == "OriginateCall":
                self.sip.originate(command)
            elif name == "ListenCall":  # the audit record of an operator listening (the audio: gRPC)
                log.info("operator listening", by=command.requested_by, listening=command.listening)
            elif name == "MuteAgent":
                return await self._mute(command)
            elif name == "PlayAudio" and self.speaker is not None and _text_only(command):
                await self.speaker(command)
            else:
                execute = getattr(self.engine, "execute", None)
                if execute is None:
                    log.warning("no media engine for command", command=name)
                    return "ignored"
                if name == "PlayAudio" and command.call_id in self.muted and command.requested_by is None:
                    command = await self._silenced(command)
                result = execute(command)
                if inspect.isawaitable(result):
                    await result
            return "ok"
        finally:
            unbind_call()

    async def _mute(self, command: Any) -> str:
        """An operator mutes the agent: its current prompt stops, and its next ones play as silence of
        the same length (the dialog's timing and facts go on unchanged); unmuting ends that."""
        session = getattr(self.engine, "session", None)
        if session is not None:  # calls that have ended since they were muted are forgotten here
            self.muted = {c for c in self.muted if session(c) is not None}
            if session(command.call_id) is None:
                return "ignored"
        if not command.muted:
            self.muted.discard(command.call_id)
            return "ok"
        self.muted.add(command.call_id)
        if self.engine is not None:
            stop = StopPlayback(
                event_id=uuid.uuid4(), call_id=command.call_id, seq=0, occurred_at=command.occurred_at,
                source=command.source, trace_id=command.trace_id, playback_id=None,
            )  # fmt: skip
            await self.engine.execute(stop)
        return "ok"

    async def _silenced(self, command: Any) -> Any:
        if command.pcm is not None:
            return dataclasses.replace(command, pcm=bytes(len(command.pcm)))
        engine = self.engine
        if command.audio_uri and engine is not None and hasattr(engine, "load_prompt"):
            pcm = await engine.load_prompt(command.audio_uri)
            return dataclasses.replace(command, audio_uri=None, pcm=bytes(2 * pcm.size), sample_rate=8000)
        return command  # a text only: the speaker is absent, nothing can be heard anyway


class CommandConsumer:
    def __init__(
        self,
        topic: str,
        dispatcher: Dispatcher,
        *,
        dead_letters: RawPublisher | None = None,
        **client: Any,
    ) -> None:
        self.topic = topic
        self.dispatcher = dispatcher
        self._codec = default_codec()
        self.dead_letters = DeadLetters(dead_letters, "edge-commands")
        self._follower = TopicFollower(
            topic, self._execute, name="edge-commands", dead_letters=self.dead_letters, **client
        )

    @property
    def restarts(self) -> int:
        return self._follower.restarts

    async def start(self) -> None:
        await self._follower.start()

    async def _execute(self, msg: Any) -> None:
        decoded = decode_message(msg, self._codec, self.dead_letters)
        if decoded is None:
            if msg.value is not None:
                m.COMMANDS.labels("undecodable", "error").inc()
            return
        command = decoded.record
        name = type_name(command)
        if name == "PlayAudio" and tracing.enabled():  # the playback's span joins the worker's tts span
            turn_spans.expect_playback(command.call_id, command.playback_id, tracing.parent_in(msg.headers))
        try:
            outcome = await self.dispatcher.dispatch(command)
        except Exception:
            m.COMMANDS.labels(name, "error").inc()
            raise  # the follower sets it aside with the error, and goes on
        m.COMMANDS.labels(name, outcome).inc()
        if outcome == "error":  # a dispatcher that logged its own failure (the web gateway's)
            self.dead_letters.send(msg, f"{name}: dispatch reported an error", reason=UNAPPLIABLE)

    async def stop(self) -> None:
        await self._follower.stop()
