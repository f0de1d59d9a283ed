"""The edge serves a call itself when the AI side cannot (never silent), with sipp and the real Kafka:
the busy prompt for a dialplan with ``busy_action = busy_prompt`` while no worker serves, and the
greeting watchdog's fallback prompt when an answered call's greeting never starts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge.app import EdgeApp
from schemas import models
from tests.support.sipp import run_sipp

from .conftest import StartEdge, node_facts


def dialplan(entity_id: str, pattern: str, action: str = "agent", **fields: Any) -> models.Dialplan:
    return models.Dialplan(
        event_id=uuid.uuid4(), entity_id=entity_id, occurred_at=datetime.now(UTC), source="test",
        trace_id="test", pattern=pattern, priority=1, action=action, **fields,
    )  # fmt: skip


async def no_worker_serves(app: EdgeApp, within_s: float = 15.0) -> None:
    """Until the edge sees no live worker: an earlier test's worker on this broker may have just
    stopped (its last heartbeat stays live for worker_timeout_s)."""
    assert app.placement is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while any(app.placement.refusal(str(uuid.uuid4())) is None for _ in range(20)):
        assert loop.time() < deadline, app.workers.workers()
        await asyncio.sleep(0.2)


def kinds(records: list[Any]) -> list[str]:
    return [type(r).__name__ for r in records]


@pytest.mark.parametrize(("language", "prompt"), [("en-US", "busy.wav"), ("tr-TR", "busy_tr.wav")])
async def test_no_worker_busy_prompt_then_hang_up(
    start_edge: StartEdge, config: Any, kafka: str, tmp_path: Path, language: str, prompt: str
) -> None:
    number = f"7{uuid.uuid4().int % 10**6:06d}"
    await config(dialplan(f"busy-{number}", number, busy_action="busy_prompt", language=language))
    app = await start_edge(require_worker=True, worker_timeout_s=2.0)
    await no_worker_serves(app)
    await run_sipp(app.sip_port, tmp_path, service=number, calls=1, extra=["-d", "10000"], timeout_s=30)
    (records,) = (await node_facts(app, kafka, 1)).values()
    names = kinds(records)
    assert "PlaybackStarted" in names, ",".join(names)
    assert names.index("CallAnswered") < names.index("CallDegraded") < names.index("PlaybackStarted")
    degraded = next(r for r in records if isinstance(r, models.CallDegraded))
    assert (degraded.reason, degraded.action) == ("no_worker", "busy_prompt")
    started = next(r for r in records if isinstance(r, models.PlaybackStarted))
    finished = next(r for r in records if isinstance(r, models.PlaybackFinished))
    assert started.playback_id.startswith("fallback-") and started.source_uri.endswith(f"/{prompt}")
    assert (finished.playback_id, finished.interrupted) == (started.playback_id, False)
    ended = next(r for r in records if isinstance(r, models.CallEnded))
    assert ended.reason == "degraded" and ended.hangup_by != "caller"  # the edge hung up, not sipp
    assert ended.total_ms < 10_000


async def test_no_worker_reject_is_503_and_a_number_without_the_agent_is_answered(
    start_edge: StartEdge, config: Any, kafka: str, tmp_path: Path
) -> None:
    ivr = f"8{uuid.uuid4().int % 10**6:06d}"
    await config(dialplan(f"ivr-{ivr}", ivr, action="transfer", target="sip:op@127.0.0.1:9"))
    app = await start_edge(require_worker=True, worker_timeout_s=2.0)
    await no_worker_serves(app)
    refused = await run_sipp(app.sip_port, tmp_path / "agent", calls=1, extra=["-d", "200"], timeout_s=20)
    assert refused.last("FailedCall(C)") == 1
    await run_sipp(app.sip_port, tmp_path / "ivr", service=ivr, calls=1, extra=["-d", "200"], timeout_s=20)
    calls = await node_facts(app, kafka, 2)
    by_number = {
        next(r.callee for r in c if isinstance(r, models.CallInviteReceived)): c for c in calls.values()
    }
    rejected = next(r for r in by_number["1000"] if isinstance(r, models.CallRejected))
    assert (rejected.sip_status, rejected.reason, rejected.stage) == (503, "no_worker", "overload")
    assert "CallAnswered" not in kinds(by_number["1000"])
    assert "CallAnswered" in kinds(by_number[ivr])  # a transfer needs no dialog worker


async def test_an_answered_call_whose_greeting_never_starts_gets_the_fallback(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    app = await start_edge(require_worker=False, greeting_timeout_s=1.0)  # admitted, nobody greets
    await run_sipp(app.sip_port, tmp_path, calls=1, extra=["-d", "10000"], timeout_s=30)
    (records,) = (await node_facts(app, kafka, 1)).values()
    degraded = next(r for r in records if isinstance(r, models.CallDegraded))
    assert (degraded.reason, degraded.action) == ("no_greeting", "fallback_prompt")
    assert 1000 <= degraded.waited_ms < 3000
    started = next(r for r in records if isinstance(r, models.PlaybackStarted))
    assert started.playback_id.startswith("fallback-")
    ended = next(r for r in records if isinstance(r, models.CallEnded))
    assert ended.reason == "degraded"
