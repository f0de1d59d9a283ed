"""The engine's port pool as the SIP side uses it: quarantine, exhaustion, re-binding a reused port."""

from __future__ import annotations

import asyncio
import time

import pytest
import uvloop

from edge.media.clock import MediaClock
from edge.media.engine import MediaCommandError
from edge.media.ports import PortsExhausted
from edge.media_port import MediaOptions
from schemas.envelope import envelope
from schemas.models import MediaQualityReported, StopPlayback
from sentiric.net import udp_pair_free


async def test_released_port_is_not_reused_before_its_quarantine_ends(harness) -> None:
    engine = harness.engine
    port = engine.pool.allocate(time.monotonic())
    session = await engine.open_session(
        "call-q",
        MediaOptions(
            local_port=port,
            remote_addr=None,
            codec="PCMU",
            payload_type=0,
            dtmf_payload_type=None,
            ptime_ms=20,
        ),
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
        MediaOptions(
            local_port=port,
            remote_addr=None,
            codec="PCMA",
            payload_type=8,
            dtmf_payload_type=None,
            ptime_ms=20,
        ),
    )
    await again.close()


async def test_bad_requests_raise_one_error_type(harness) -> None:
    engine = harness.engine
    port = engine.pool.allocate(time.monotonic())
    with pytest.raises(MediaCommandError, match="unsupported codec"):
        await engine.open_session(
            "c",
            MediaOptions(
                local_port=port,
                remote_addr=None,
                codec="GSM",
                payload_type=3,
                dtmf_payload_type=None,
                ptime_ms=20,
            ),
        )
    with pytest.raises(MediaCommandError, match="both"):
        await engine.open_session(
            "c",
            MediaOptions(
                local_port=port,
                remote_addr=None,
                codec="PCMU",
                payload_type=0,
                dtmf_payload_type=None,
                ptime_ms=20,
                crypto_local="1 AES_CM_128_HMAC_SHA1_80 x",
            ),
        )
    # a command for a call without a session here is ignored (the call ended, or another node owns it)
    await engine.execute(StopPlayback(**envelope("no-such-call", seq=1, source="t")))
    assert engine.active_sessions == 0


async def test_a_failure_after_binding_leaves_the_port_pair_unbound(harness, monkeypatch) -> None:
    engine = harness.engine
    port = engine.pool.allocate(time.monotonic())

    def broken(clock: object, member: object) -> None:
        raise RuntimeError("clock refused the session")

    monkeypatch.setattr(MediaClock, "add", broken)
    with pytest.raises(RuntimeError):
        await engine.open_session(
            "call-broken",
            MediaOptions(
                local_port=port, remote_addr=None, codec="PCMU", payload_type=0, dtmf_payload_type=None
            ),
        )
    await asyncio.sleep(0.01)  # transports close on the loop's next turn
    assert udp_pair_free(port) and engine.active_sessions == 0


def test_under_uvloop_a_sendto_that_raises_fails_the_session_and_unbinds_its_pair(tmp_path) -> None:
    """uvloop's sendto raises ValueError for an address the socket cannot take (the issue's
    ``c=IN IP4 not-an-ip``): the session must leave the clock, unbind both ports at once, tell
    the SIP side, and close — not raise 50 times a second and keep the pair bound."""
    from edge.facts import FactRecorder, ListPublisher
    from edge.media.engine import MediaEngine

    from .conftest import media_settings

    async def scenario() -> tuple[list[str], bool, bool, int]:
        engine = MediaEngine(media_settings(tmp_path), FactRecorder(ListPublisher(), "edge-test"))
        await engine.start()
        failed: list[str] = []
        try:
            port = engine.pool.allocate(time.monotonic())
            options = MediaOptions(
                local_port=port,
                remote_addr=("127.0.0.1", 4000),
                codec="PCMU",
                payload_type=0,
                dtmf_payload_type=None,
            )
            session = await engine.open_session("call-bad-addr", options, on_failed=failed.append)
            session.update_remote(("not-an-ip", 4000), "sendrecv")  # past every SDP check: a bug's worth
            for _ in range(100):
                await asyncio.sleep(0.02)
                if session.closed:
                    break
            return failed, session.closed, udp_pair_free(port), engine.active_sessions
        finally:
            await engine.stop()

    failed, closed, free, active = uvloop.run(scenario())
    assert failed == ["call-bad-addr"] and closed and free and active == 0
