"""Never an answered silent call: the edge's own prompt when the AI side does not speak.

Admission (:mod:`edge.uas.admission`) answers a call only while a dialog worker can serve it, but a
worker can die or stall after the answer.  So every answered SIP call for the AI agent is watched:

* ``CallAnswered`` of an agent call (its ``DialplanResolved`` said ``agent``) arms a deadline
  ``greeting_timeout_s`` later;
* the first ``PlaybackStarted`` (the agent's greeting reached the caller) disarms it;
* past the deadline the call is degraded: :class:`Degrade` asks the adapter to record
  ``CallDegraded(reason="no_greeting")``.

A call the UAS answered only to tell the caller that every line is busy (dialplan
``busy_action="busy_prompt"``) carries ``CallDegraded`` from its answer on.  Either way, once the call
is degraded and established (ACKed: an unproven caller gets no media before), :class:`PlayFallback`
plays the busy prompt and, when its ``PlaybackFinished`` comes — or ``hangup_after_s`` later in any
case — :class:`HangUp` ends the call (``reason="degraded"``).  Whatever the worker sends later for
the call finds it gone.

:class:`GreetingWatchdog` is pure: facts in (``observe``), actions out; ``due(now)`` runs the
deadlines.  :class:`FallbackPlayer` carries the actions out in the edge process, through the recorder,
the media engine and the SIP endpoint; :class:`edge.uas.watcher_driver.WatcherDriver` shows it every
fact the edge records (``ObservedPublisher`` wraps the publisher under the ``FactRecorder``) and runs
the deadlines.  Web (``/ws``) calls are not watched: their admission refuses with close code 1013 and
the browser shows the failure itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import structlog

from edge import call_facts as cf
from edge.prompts import busy_prompt
from edge.uas.call_facts import CallFacts
from edge.uas.watcher_driver import WatcherDriver, wait_for_media_session
from schemas import models as f

log = structlog.get_logger(__name__)

NO_GREETING: Final = "no_greeting"
SIP_TRANSPORTS: Final = frozenset({"udp", "tcp", "tls"})


@dataclass(frozen=True, slots=True)
class Degrade:
    call_id: str
    reason: str
    waited_ms: float


@dataclass(frozen=True, slots=True)
class PlayFallback:
    call_id: str
    playback_id: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class HangUp:
    call_id: str


Action = Degrade | PlayFallback | HangUp


@dataclass(slots=True)
class _Watched:
    agent: bool = False
    answered_at: float | None = None
    deadline: float | None = None  # greeting deadline, then the hang-up deadline once playing
    established: bool = False
    degraded: bool = False
    playback_id: str | None = None
    language: str | None = None  # the dialplan's: the busy prompt is said in it


@dataclass(slots=True)
class GreetingWatchdog:
    timeout_s: float = 4.0
    hangup_after_s: float = 8.0  # the prompt is 3.5 s: hang up even if its PlaybackFinished never comes
    calls: dict[str, _Watched] = field(default_factory=dict)

    def observe(self, fact: Any, now: float) -> list[Action]:
        call_id = fact.call_id
        if isinstance(fact, f.CallInviteReceived):
            if fact.transport in SIP_TRANSPORTS:
                self.calls[call_id] = _Watched()
            return []
        w = self.calls.get(call_id)
        if w is None:
            return []
        if isinstance(fact, f.CallEnded):
            del self.calls[call_id]
        elif isinstance(fact, f.DialplanResolved):
            w.agent = fact.action == "agent"
            w.language = fact.language
        elif isinstance(fact, f.CallAnswered):
            w.answered_at = now
            if w.agent and self.timeout_s > 0 and not w.degraded:
                w.deadline = now + self.timeout_s
        elif isinstance(fact, f.PlaybackStarted):
            if not w.degraded:
                w.deadline = None  # the agent speaks: nothing to do for this call any more
                w.agent = False
        elif isinstance(fact, f.CallEstablished):
            w.established = True
            return self._play(call_id, w, now)
        elif isinstance(fact, f.CallDegraded):
            w.degraded, w.deadline = True, None
            return self._play(call_id, w, now)
        elif isinstance(fact, f.PlaybackFinished):
            if w.playback_id is not None and fact.playback_id == w.playback_id:
                del self.calls[call_id]
                return [HangUp(call_id)]
        return []

    def _play(self, call_id: str, w: _Watched, now: float) -> list[Action]:
        if not (w.degraded and w.established) or w.playback_id is not None:
            return []
        w.playback_id = f"fallback-{uuid.uuid4()}"
        w.deadline = now + self.hangup_after_s
        return [PlayFallback(call_id, w.playback_id, w.language)]

    def due(self, now: float) -> list[Action]:
        out: list[Action] = []
        for call_id, w in list(self.calls.items()):
            if w.deadline is None or w.deadline > now:
                continue
            if w.playback_id is not None:  # the prompt's end never came: hang up anyway
                del self.calls[call_id]
                out.append(HangUp(call_id))
            else:
                w.deadline = None
                waited = (now - w.answered_at) * 1000 if w.answered_at is not None else 0.0
                out.append(Degrade(call_id, NO_GREETING, round(waited, 3)))
        return out


class ObservedPublisher:
    """A publisher that shows every record to ``observer`` after passing it on."""

    def __init__(self, inner: Any, observer: Callable[[Any], None]) -> None:
        self._inner = inner
        self._observer = observer

    def publish(
        self,
        record: Any,
        *,
        topic: str = "sentiric.calls",
        key: str | None = None,
        headers: tuple[tuple[str, bytes], ...] = (),
    ) -> None:
        if headers:  # a turn's span (sentiric.tracing); else the inner publisher's own signature
            self._inner.publish(record, topic=topic, key=key, headers=headers)
        else:
            self._inner.publish(record, topic=topic, key=key)
        if topic == "sentiric.calls":
            self._observer(record)

    def __getattr__(self, name: str) -> Any:  # fill_ratio, start/stop… of the real producer
        return getattr(self._inner, name)


class FallbackPlayer:
    """Carries out the watchdog's actions in the edge process."""

    def __init__(self, watchdog: GreetingWatchdog) -> None:
        self.watchdog = watchdog
        self.driver = WatcherDriver(watchdog, self._apply, name="edge-greeting-watchdog")
        self.recorder: Any = None  # edge.facts.FactRecorder
        self.engine: Any = None  # the media engine (execute(PlayAudio))
        self.hangup: Callable[[str, str], None] | None = None

    def start(self, recorder: Any, engine: Any, hangup: Callable[[str, str], None]) -> None:
        self.recorder, self.engine, self.hangup = recorder, engine, hangup
        self.driver.start()

    def observe(self, record: Any) -> None:
        self.driver.observe(record)

    def _apply(self, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, Degrade):
                log.warning("answered call degraded", call_id=action.call_id, reason=action.reason)
                CallFacts(self.recorder).record(
                    cf.call_degraded(
                        action.call_id,
                        reason=action.reason,
                        action="fallback_prompt",
                        waited_ms=action.waited_ms,
                    )
                )
            elif isinstance(action, PlayFallback):
                self.driver.spawn(self._play(action))
            elif isinstance(action, HangUp) and self.hangup is not None:
                self.hangup(action.call_id, "degraded")

    async def _play(self, action: PlayFallback) -> None:
        command = f.PlayAudio(
            event_id=uuid.uuid4(),
            call_id=action.call_id,
            seq=0,
            occurred_at=datetime.now(UTC),
            source=getattr(self.recorder, "node_id", "edge"),
            trace_id=action.call_id,
            playback_id=action.playback_id,
            audio_uri=busy_prompt(action.language).as_uri(),
            barge_in=False,
        )
        await wait_for_media_session(self.engine, action.call_id)
        try:
            await self.engine.execute(command)
        except Exception as exc:  # the hang-up deadline still ends the call
            log.error("fallback prompt failed", call_id=action.call_id, error=str(exc))

    async def stop(self) -> None:
        await self.driver.stop()
