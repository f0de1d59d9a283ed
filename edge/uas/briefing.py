"""Attended transfer, the asyncio side: say the brief to the person, then report that it played.

The core (:mod:`edge.uas.bridge`) decides *what* to say and *when* (a :class:`BriefTarget` effect once
the person answered); this adapter only carries it out.  The brief is a text ``PlayAudio`` on the
leg's call, synthesized by the edge's own TTS (``PromptPlayer.say``: recorded as
``SpeechSynthesized`` on the leg, so the leg's timeline shows what the person heard).  When the
leg's ``PlaybackFinished`` for it is seen — or ``max_brief_s`` passed, or the synthesis failed —
``done(leg_call_id)`` tells the core, which joins the calls (a person who already hung up was
handled by the core's ``ended``).  The person is never left waiting in silence for a join.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

import structlog

from edge.uas.call import BriefTarget
from edge.uas.watcher_driver import wait_for_media_session
from schemas import models as f

log = structlog.get_logger(__name__)

MAX_BRIEF_S: Final = 45.0
"""A brief not synthesized and played by then (a stuck synthesis, a lost fact) joins the calls anyway."""

Say = Callable[[f.PlayAudio, str], Awaitable[None]]


class Briefer:
    def __init__(
        self, say: Say, done: Callable[[str], None], *, engine: Any = None, node_id: str = "edge",
        max_brief_s: float = MAX_BRIEF_S,
    ) -> None:  # fmt: skip
        self.say = say
        self.done = done
        self.engine = engine
        self.node_id = node_id
        self.max_brief_s = max_brief_s
        self._playing: dict[str, asyncio.Future[None]] = {}  # by playback id
        self._tasks: set[asyncio.Task[None]] = set()

    def observe(self, record: Any) -> None:
        """Every fact the edge records: the brief's ``PlaybackFinished`` ends the wait."""
        if isinstance(record, f.PlaybackFinished):
            waiting = self._playing.get(record.playback_id)
            if waiting is not None and not waiting.done():
                waiting.set_result(None)

    def brief(self, effect: BriefTarget) -> None:
        task = asyncio.get_running_loop().create_task(self._brief(effect), name="edge-brief")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _brief(self, e: BriefTarget) -> None:
        playback_id = f"brief-{uuid.uuid4()}"
        finished = asyncio.get_running_loop().create_future()
        self._playing[playback_id] = finished
        try:
            command = f.PlayAudio(
                event_id=uuid.uuid4(), call_id=e.leg_call_id, seq=0, occurred_at=datetime.now(UTC),
                source=self.node_id, trace_id=e.call_id, playback_id=playback_id, barge_in=False,
                text=e.text,
            )  # fmt: skip
            await asyncio.wait_for(self._say(command, e.language, finished), self.max_brief_s)
        except TimeoutError:
            log.warning("brief did not finish in time; joining", call_id=e.call_id, leg=e.leg_call_id)
        except Exception as exc:  # the person still gets the caller, unannounced
            log.error("brief failed; joining", call_id=e.call_id, leg=e.leg_call_id, error=str(exc))
        finally:
            self._playing.pop(playback_id, None)
        self.done(e.leg_call_id)

    async def _say(self, command: f.PlayAudio, language: str, finished: asyncio.Future[None]) -> None:
        await wait_for_media_session(self.engine, command.call_id)
        await self.say(command, language)  # synthesized (first use builds the TTS), then queued
        await finished

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
