"""The edge's command consumer: ``sentiric.commands.<node>`` → the SIP core or the media engine.

``Hangup`` and ``TransferCall`` are signalling (BYE, REFER) and go to the SIP side; a ``PlayAudio``
with only a ``text`` (an operator's "say" from the REST API) goes to the speaker, which synthesizes it;
everything else (PlayAudio, StopPlayback, StartRecording, StopRecording, SendDtmf) goes to
``engine.execute``.
Each edge node reads its own topic from the end as it is at start-up: commands for calls of a
previous run have no call to act on.  A failing command is never fatal: one that does not decode, or
whose dispatch raises or reports an error, is set aside (logged with its offset, counted in
``sentiric_edge_commands_total{outcome="error"}`` and ``sentiric_log_dead_lettered_total``, copied to
``sentiric.deadletter``) and the next command runs.  The follower underneath restarts its read loop
after a broker error (`sentiric.eventlog.follower`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog

from edge import metrics as m
from schemas.codec import default_codec, type_name
from sentiric.eventlog.consumer import UNAPPLIABLE, DeadLetters, RawPublisher, decode_message
from sentiric.eventlog.follower import TopicFollower
from sentiric.logs import bind_call, unbind_call

log = structlog.get_logger(__name__)


class SignallingCommands(Protocol):
    def hangup(self, call_id: str, reason: str) -> None: ...

    def transfer(self, call_id: str, target: str) -> None: ...


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

    async def dispatch(self, command: Any) -> str:
        """Carry out one command; returns the outcome label (ok, ignored). A failure raises: the
        consumer sets the command aside with the error."""
        name = type_name(command)
        bind_call(command.call_id, getattr(command, "trace_id", None))
        try:
            if name == "Hangup":
                self.sip.hangup(command.call_id, command.reason)
            elif name == "TransferCall":
                self.sip.transfer(command.call_id, command.target_uri)
            elif (
                name == "PlayAudio"
                and self.speaker is not None
                and command.pcm is None
                and not command.audio_uri
            ):
                await self.speaker(command)
            else:
                execute = getattr(self.engine, "execute", None)
                if execute is None:
                    log.warning("no media engine for command", command=name)
                    return "ignored"
                result = execute(command)
                if inspect.isawaitable(result):
                    await result
            return "ok"
        finally:
            unbind_call()


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
