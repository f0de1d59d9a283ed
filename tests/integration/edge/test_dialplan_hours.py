"""Dialplan business hours and ring time with sipp and the real Kafka: outside its hours a number is
routed to its out-of-hours plan (here an announcement), which rings for its own ring time first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas import models
from sentiric.hours import DAYS
from tests.support.sipp import run_sipp

from .conftest import StartEdge, node_facts
from .test_never_silent_edge import dialplan


async def test_out_of_hours_calls_take_the_night_plan_after_its_ring_time(
    start_edge: StartEdge, config: Any, kafka: str, tmp_path: Path
) -> None:
    number = f"2{uuid.uuid4().int % 10**6:06d}"
    closed_day = DAYS[(datetime.now(UTC).weekday() + 3) % 7].title()  # open one day, not today
    await config(
        dialplan(f"night-{number}", f"night-{number}", action="prompt_hangup", ring_ms=600),
        dialplan(
            f"office-{number}", number, hours=f"{closed_day} 00:00-24:00", out_of_hours=f"night-{number}"
        ),
    )
    app = await start_edge(tts_engine="espeak")
    result = await run_sipp(
        app.sip_port, tmp_path, scenario="uac_wait_bye.xml", service=number, calls=1, timeout_s=40
    )
    assert result.last("SuccessfulCall(C)") == 1, result.describe()
    (records,) = (await node_facts(app, kafka, 1)).values()
    resolved = next(r for r in records if isinstance(r, models.DialplanResolved))
    assert (resolved.dialplan_id, resolved.action) == (f"night-{number}", "prompt_hangup")
    invited = next(r for r in records if isinstance(r, models.CallInviteReceived)).occurred_at
    answered = next(r for r in records if isinstance(r, models.CallAnswered)).occurred_at
    assert 0.6 <= (answered - invited).total_seconds() < 2.0  # the night plan's ring time
    ended = next(r for r in records if isinstance(r, models.CallEnded))
    assert ended.reason == "prompt_played"
