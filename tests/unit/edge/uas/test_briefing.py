"""The attended transfer's brief, carried out: said on the leg, then the core is told — when its
PlaybackFinished is seen, when it never finishes, and when it cannot be synthesized."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from edge.uas.briefing import Briefer
from edge.uas.call import BriefTarget
from schemas import models as m

BRIEF = BriefTarget("caller-1", "leg-1", "Transferring alice: wants a refund.", "en-US")


def finished(call_id: str, playback_id: str) -> m.PlaybackFinished:
    return m.PlaybackFinished(
        event_id=uuid.uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC), source="t",
        trace_id="t", playback_id=playback_id, interrupted=False, played_ms=900, duration_ms=900,
    )  # fmt: skip


async def test_the_brief_is_said_on_the_leg_and_the_calls_join_when_it_has_played() -> None:
    said: list[tuple[m.PlayAudio, str]] = []
    done: list[str] = []
    briefer = Briefer(lambda c, lang: _record(said, c, lang), done.append)
    briefer.brief(BRIEF)
    await asyncio.sleep(0.05)
    ((command, language),) = said
    assert (command.call_id, command.text, command.barge_in, language) == (
        "leg-1",
        BRIEF.text,
        False,
        "en-US",
    )
    assert done == []  # still playing
    briefer.observe(finished("leg-1", "some-other-prompt"))
    await asyncio.sleep(0.01)
    assert done == []
    briefer.observe(finished("leg-1", command.playback_id))
    await asyncio.sleep(0.01)
    assert done == ["leg-1"]


async def test_a_brief_that_never_ends_or_fails_still_joins() -> None:
    done: list[str] = []
    briefer = Briefer(lambda c, lang: _record([], c, lang), done.append, max_brief_s=0.05)
    briefer.brief(BRIEF)
    await asyncio.sleep(0.2)
    assert done == ["leg-1"]

    async def broken(command: m.PlayAudio, language: str) -> None:
        raise RuntimeError("no TTS")

    failed = Briefer(broken, done.append)
    failed.brief(BriefTarget("caller-2", "leg-2", "x", "en-US"))
    await asyncio.sleep(0.05)
    assert done == ["leg-1", "leg-2"]
    await failed.stop()
    await briefer.stop()


async def _record(into: list[Any], command: m.PlayAudio, language: str) -> None:
    into.append((command, language))
