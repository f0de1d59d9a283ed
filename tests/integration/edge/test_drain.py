"""Graceful drain (SIGTERM): the edge refuses new calls with 503 `draining` while its established call
goes on, then, the drain deadline passed, ends that call with a BYE and `CallEnded` reason `drain`.
Real broker, real sipp (the established caller waits for the edge's BYE)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from edge.app import EdgeApp
from tests.support.sipp import edge_settings, run_sipp

from .conftest import node_facts


async def test_a_draining_edge_refuses_new_calls_then_ends_its_calls_with_drain(
    kafka: str, tmp_path: Path
) -> None:
    app = EdgeApp(edge_settings(kafka, tmp_path / "home"))
    await app.start()
    stopped = False
    try:
        assert app.core is not None and app.admission is not None
        up = asyncio.create_task(
            run_sipp(app.sip_port, tmp_path / "up", scenario="uac_wait_bye.xml", calls=1)
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not [c for c in app.core.calls.values() if c.established_at is not None]:
            assert loop.time() < deadline, "no established call"
            await asyncio.sleep(0.05)

        drain = asyncio.create_task(app.drain(4.0))
        while not app.admission.draining:  # noqa: ASYNC110 - a flag set by the task just started
            await asyncio.sleep(0.01)
        refused = await run_sipp(app.sip_port, tmp_path / "new", calls=1, timeout_s=15)
        assert refused.returncode != 0  # sipp's uac counts the 503 as a failed call
        assert not up.done() and len(app.core.calls) == 1  # the established call is not touched
        await drain  # the deadline passes with the call still up
        await app.stop(reason="drain")
        stopped = True
        result = await up  # uac_wait_bye succeeds only when the edge's BYE arrives
        assert result.returncode == 0, result.describe()
    finally:
        if not stopped:
            await app.stop()

    calls = await node_facts(app, kafka, 2)
    ended = {
        next(type(r).__name__ for r in records if type(r).__name__ in ("CallRejected", "CallEnded")): records
        for records in calls.values()
    }
    rejected = next(r for r in ended["CallRejected"] if type(r).__name__ == "CallRejected")
    assert (rejected.reason, rejected.stage) == ("draining", "overload")
    drained = next(r for r in ended["CallEnded"] if type(r).__name__ == "CallEnded")
    assert drained.reason == "drain"
