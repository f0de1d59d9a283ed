"""Dialplan ``prompt_hangup``: the edge answers, says the plan's prompt, and hangs up.

No dialog worker takes part: an announcement number ("we are closed", "this number has changed")
must work while the AI side is down.  :class:`PromptHangupWatcher` is pure, facts in, actions out:

* ``DialplanResolved(action="prompt_hangup")`` marks the call and keeps its ``prompt_uri``;
* ``CallEstablished`` (the ACK: an unproven caller gets no media before) → :class:`PlayPrompt`;
* the prompt's ``PlaybackFinished`` → :class:`EndCall` (reason ``prompt_played``), or
  ``max_prompt_s`` after the play was asked for in any case, so a prompt whose end never comes (or
  whose synthesis failed) still ends the call: never an answered silent line left open.

:class:`PromptPlayer` carries the actions out (run by :class:`edge.uas.watcher_driver.WatcherDriver`,
like the greeting watchdog).  It resolves what to say (:func:`resolve_prompt`):
the plan's ``prompt_uri`` names a ``Prompt`` config record (``prompt:<id>`` or the bare id) whose
``uri`` is played as is, or whose ``text`` is synthesized by the same TTS the speech workers use
(``streams.engines.factory.build_tts``, built on first use, in a thread); a ``file://`` URI is played
directly; nothing configured → :data:`DEFAULT_TEXT`.  Synthesized audio goes out as a ``PlayAudio``
with ``pcm`` and is recorded as ``SpeechSynthesized`` first, so the timeline shows what was said.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import structlog

from edge import call_facts as cf
from edge.uas.call_facts import CallFacts
from edge.uas.watcher_driver import WatcherDriver, wait_for_media_session
from schemas import models as f
from schemas.envelope import DEFAULT_TENANT

log = structlog.get_logger(__name__)

ACTION: Final = "prompt_hangup"
END_REASON: Final = "prompt_played"
DEFAULT_TEXT: Final = "Thank you for calling. Goodbye."


@dataclass(frozen=True, slots=True)
class PlayPrompt:
    call_id: str
    playback_id: str
    prompt_uri: str | None
    language: str


@dataclass(frozen=True, slots=True)
class EndCall:
    call_id: str
    reason: str = END_REASON


@dataclass(slots=True)
class _Announced:
    prompt_uri: str | None
    language: str
    playback_id: str | None = None
    deadline: float | None = None


@dataclass(slots=True)
class PromptHangupWatcher:
    max_prompt_s: float = 60.0
    calls: dict[str, _Announced] = field(default_factory=dict)

    def observe(self, fact: Any, now: float) -> list[PlayPrompt | EndCall]:
        call_id = fact.call_id
        if isinstance(fact, f.DialplanResolved):
            if fact.action == ACTION:
                self.calls[call_id] = _Announced(fact.prompt_uri, fact.language)
            return []
        a = self.calls.get(call_id)
        if a is None:
            return []
        if isinstance(fact, f.CallEnded):
            del self.calls[call_id]
        elif isinstance(fact, f.CallEstablished) and a.playback_id is None:
            a.playback_id = f"announce-{uuid.uuid4()}"
            a.deadline = now + self.max_prompt_s
            return [PlayPrompt(call_id, a.playback_id, a.prompt_uri, a.language)]
        elif isinstance(fact, f.PlaybackFinished) and fact.playback_id == a.playback_id:
            del self.calls[call_id]
            return [EndCall(call_id)]
        return []

    def due(self, now: float) -> list[EndCall]:
        out: list[EndCall] = []
        for call_id, a in list(self.calls.items()):
            if a.deadline is not None and a.deadline <= now:
                del self.calls[call_id]
                out.append(EndCall(call_id))
        return out


@dataclass(frozen=True, slots=True)
class Resolved:
    audio_uri: str | None = None
    text: str | None = None


def resolve_prompt(
    prompt_uri: str | None, prompts: Callable[[str], Any | None], tenant: str | None = None
) -> Resolved:
    """What a ``prompt_hangup`` plan says: a WAV to play, or a text to synthesize. With ``tenant`` (the
    call's), another tenant's ``Prompt`` record is as absent as one that does not exist."""
    if prompt_uri and prompt_uri.startswith("file://"):
        return Resolved(audio_uri=prompt_uri)
    if prompt_uri:
        record = prompts(prompt_uri.removeprefix("prompt:"))
        if record is not None and tenant is not None and getattr(record, "tenant", DEFAULT_TENANT) != tenant:
            record = None
        if record is not None and record.uri:
            return Resolved(audio_uri=record.uri)
        if record is not None and record.text:
            return Resolved(text=record.text)
        log.warning("prompt not configured, default text said", prompt_uri=prompt_uri)
    return Resolved(text=DEFAULT_TEXT)


class PromptPlayer:
    """Carries out the watcher's actions in the edge process."""

    def __init__(
        self, watcher: PromptHangupWatcher, tts_factory: Callable[[], Any], prompts: Callable[[str], Any]
    ) -> None:
        self.watcher = watcher
        self.driver = WatcherDriver(watcher, self._apply, name="edge-prompt-hangup")
        self.prompts = prompts
        self._tts_factory = tts_factory
        self._tts: Any = None
        self.recorder: Any = None
        self.engine: Any = None
        self.hangup: Callable[[str, str], None] | None = None

    def start(self, recorder: Any, engine: Any, hangup: Callable[[str, str], None]) -> None:
        self.recorder, self.engine, self.hangup = recorder, engine, hangup
        self.driver.start()

    def observe(self, record: Any) -> None:
        self.driver.observe(record)

    def _apply(self, actions: Sequence[PlayPrompt | EndCall]) -> None:
        for action in actions:
            if isinstance(action, PlayPrompt):
                self.driver.spawn(self._play(action))
            elif self.hangup is not None:
                self.hangup(action.call_id, action.reason)

    async def _synthesize(self, text: str, language: str) -> Any:
        if self._tts is None:
            self._tts = await asyncio.to_thread(self._tts_factory)
        return await asyncio.to_thread(self._tts.synthesize, text, language)

    async def _play(self, action: PlayPrompt) -> None:
        try:
            tenant_of = getattr(self.recorder, "tenant", None)  # the call's (edge.facts.FactRecorder)
            tenant = tenant_of(action.call_id) if callable(tenant_of) else None
            what = resolve_prompt(action.prompt_uri, self.prompts, tenant)
            command = f.PlayAudio(
                event_id=uuid.uuid4(), call_id=action.call_id, seq=0, occurred_at=datetime.now(UTC),
                source=getattr(self.recorder, "node_id", "edge"), trace_id=action.call_id,
                playback_id=action.playback_id, audio_uri=what.audio_uri, barge_in=False, text=what.text,
            )  # fmt: skip
            await wait_for_media_session(self.engine, action.call_id)
            await self.say(command, action.language)
        except Exception as exc:  # the watcher's deadline still ends the call
            log.error("announcement failed", call_id=action.call_id, error=str(exc))
            if self.hangup is not None:
                self.hangup(action.call_id, "prompt_failed")

    async def say(self, command: f.PlayAudio, language: str = "en-US") -> None:
        """Play ``command``; one with only a ``text`` (an operator's words from the REST API, an
        announcement) is synthesized first and recorded as ``SpeechSynthesized``."""
        if command.pcm is None and command.audio_uri is None and command.text:
            began = time.perf_counter()
            speech = await self._synthesize(command.text, language)
            CallFacts(self.recorder).record(
                cf.speech_synthesized(
                    command.call_id,
                    reply_id=command.playback_id,
                    text=command.text,
                    sample_rate=speech.sample_rate,
                    pcm=speech.pcm,
                    engine=speech.engine or getattr(self._tts, "name", "tts"),
                    latency_ms=round((time.perf_counter() - began) * 1000, 3),
                )
            )
            command = dataclasses.replace(command, pcm=speech.pcm, sample_rate=speech.sample_rate)
        await self.engine.execute(command)

    async def stop(self) -> None:
        await self.driver.stop()
