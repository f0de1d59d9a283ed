"""The engine's port pool as the SIP side uses it: quarantine, exhaustion, re-binding a reused port."""

from __future__ import annotations

import asyncio
import time

import pytest

from edge.media.engine import MediaCommandError
from edge.media.ports import PortsExhausted
from schemas.envelope import envelope
from schemas.models import MediaQualityReported, StopPlayback


async def test_released_port_is_not_reused_before_its_quarantine_ends(harness) -> None:
    engine = harness.engine
    port = engine.pool.allocate(time.monotonic())
    session = await engine.open_session(
        "call-q",
        local_port=port,
        remote_addr=None,
        codec="PCMU",
        payload_type=0,
        dtmf_payload_type=None,
        ptime_ms=20,
    )
    assert engine.active_sessions == 1 and engine.session("call-q") is session
    await session.close()
    assert engine.active_sessions == 0 and engine.session("call-q") is None
    assert harness.facts_of(MediaQualityReported)[-1].final
    engine.release_port(port)

    others = []
    with pytest.raises(PortsExhausted):
        while True:
            others.append(engine.pool.allocate(time.monotonic()))
    assert port not in others and len(others) == 19  # 20 pairs in the range, one in quarantine
    await asyncio.sleep(engine.settings.rtp_port_quarantine_s + 0.05)
    assert engine.pool.allocate(time.monotonic()) == port
    again = await engine.open_session(  # the sockets were closed: the port binds again
        "call-q2",
        local_port=port,
        remote_addr=None,
        codec="PCMA",
        payload_type=8,
        dtmf_payload_type=None,
        ptime_ms=20,
    )
    await again.close()


async def test_bad_requests_raise_one_error_type(harness) -> None:
    engine = harness.engine
    port = engine.pool.allocate(time.monotonic())
    with pytest.raises(MediaCommandError, match="unsupported codec"):
        await engine.open_session(
            "c",
            local_port=port,
            remote_addr=None,
            codec="GSM",
            payload_type=3,
            dtmf_payload_type=None,
            ptime_ms=20,
        )
    with pytest.raises(MediaCommandError, match="both"):
        await engine.open_session(
            "c",
            local_port=port,
            remote_addr=None,
            codec="PCMU",
            payload_type=0,
            dtmf_payload_type=None,
            ptime_ms=20,
            crypto_local="1 AES_CM_128_HMAC_SHA1_80 x",
        )
    # a command for a call without a session here is ignored (the call ended, or another node owns it)
    await engine.execute(StopPlayback(**envelope("no-such-call", seq=1, source="t")))
    assert engine.active_sessions == 0
