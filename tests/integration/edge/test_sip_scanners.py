"""SIPVicious against a running edge: svwar (extension enumeration) and svcrack (password guessing).

These tests own their dialplans (a catch-all refusal among them), so they run on a private broker
(``fresh_kafka``) whose config topic no other module reads. Each attack is run twice: against an edge
without the protection (the control: the attack works, so the test can see it work) and against the
protected one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge.app import EdgeApp
from edge.sip.digest import compute_ha1
from schemas import models
from sentiric.eventlog import topics
from sentiric.eventlog.producer import EventProducer
from tests.support.sipp import edge_settings, production_source_limits

from .conftest import metric

PRODUCTION = production_source_limits()
EXTENSIONS = [f"7712{n}" for n in range(100, 131)]


@pytest.fixture
async def start_edge(fresh_kafka: str, tmp_path: Path) -> AsyncIterator[Any]:
    apps: list[EdgeApp] = []

    async def start(**overrides: Any) -> EdgeApp:
        app = EdgeApp(edge_settings(fresh_kafka, tmp_path / f"home{len(apps)}", **overrides))
        await app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.stop()


@pytest.fixture
async def config(fresh_kafka: str) -> AsyncIterator[Any]:
    keys: list[str] = []

    async def publish(*records: Any) -> None:
        async with EventProducer(bootstrap_servers=fresh_kafka) as producer:
            for record in records:
                producer.publish(record, topic=topics.CONFIG)
                keys.append(f"{type(record).__name__.lower()}:{record.entity_id}")
            await producer.flush()

    yield publish
    async with EventProducer(bootstrap_servers=fresh_kafka) as producer:
        for key in keys:
            producer.tombstone(topics.CONFIG, key)
        await producer.flush()


def envelope(entity_id: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "entity_id": entity_id,
        "occurred_at": datetime.now(UTC),
        "source": "test",
        "trace_id": "test",
    }


async def svtool(*args: str, timeout_s: float = 120.0) -> str:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
    return out.decode(errors="replace")


def svwar_found(output: str) -> list[str]:
    """Extensions in svwar's result table (``| 7712101 | reqauth |`` rows)."""
    rows = [line.split("|")[1].strip() for line in output.splitlines() if line.startswith("| ")]
    return [r for r in rows if r.isdigit()]


async def test_svwar_enumerates_no_extension_behind_digest(start_edge: Any, config: Any) -> None:
    # A PBX-like dialplan: 31 extensions, every other number refused 404 — what svwar tells apart.
    await config(
        models.Dialplan(**envelope("nobody"), pattern="*", priority=1000, action="reject", reject_status=404),
        *(models.Dialplan(**envelope(f"ext-{n}"), pattern=n, priority=1, action="agent") for n in EXTENSIONS),
    )
    scan = ("-e100-130", "--template=7712%i")
    control_edge = await start_edge()  # open (loopback default), raised limits: the control
    control = await svtool(
        "/usr/bin/svwar", "-m", "INVITE", *scan, "-p", str(control_edge.sip_port), "127.0.0.1"
    )
    assert len(svwar_found(control)) >= 25 and set(svwar_found(control)) <= set(EXTENSIONS), control
    guarded = await start_edge(sip_default_access="digest_required", **PRODUCTION)
    port = str(guarded.sip_port)
    for args in (("-m", "INVITE"), ("--force", "-m", "INVITE"), ("--force",)):  # REGISTER is the default
        output = await svtool("/usr/bin/svwar", *args, *scan, "-p", port, "127.0.0.1")
        assert svwar_found(output) == [] and "found nothing" in output, output
    assert guarded.engine.pool.in_use == 0  # no INVITE got a port: every one was challenged


async def test_svcrack_is_throttled_by_the_auth_failure_block(start_edge: Any, config: Any) -> None:
    user = f"8{uuid.uuid4().int % 10**6:06d}"
    secret = compute_ha1("MD5", user, "sentiric", "not-in-the-range")
    await config(
        models.SipUser(**envelope(user), username=user, realm="sentiric", ha1_md5=secret, ha1_sha256=secret)
    )
    crack = ("/usr/bin/svcrack", "-u", user, "-r", "1000-1100")  # 101 guesses
    # svcrack computes MD5 digests only (a SHA-256 challenge first makes it crash): offer MD5.
    # The control: without the block (and with raised limits) every guess gets its answer.
    open_edge = await start_edge(sip_auth_algorithms="MD5", sip_auth_fail_limit=0)
    failures = metric("sentiric_sip_auth_failures_total", reason="invalid")
    await svtool(*crack, "-p", str(open_edge.sip_port), "127.0.0.1")
    answered_unprotected = metric("sentiric_sip_auth_failures_total", reason="invalid") - failures
    assert answered_unprotected >= 100
    guarded = await start_edge(sip_auth_algorithms="MD5", sip_default_access="digest_required", **PRODUCTION)
    failures = metric("sentiric_sip_auth_failures_total", reason="invalid")
    answered = metric("sentiric_sip_requests_total", method="REGISTER")
    blocked = metric("sentiric_sip_dropped_total", reason="blocked")
    output = await svtool(*crack, "-p", str(guarded.sip_port), "127.0.0.1")
    assert "found nothing" in output, output
    guesses_answered = metric("sentiric_sip_auth_failures_total", reason="invalid") - failures
    requests_answered = metric("sentiric_sip_requests_total", method="REGISTER") - answered
    dropped = metric("sentiric_sip_dropped_total", reason="blocked") - blocked
    assert guesses_answered == PRODUCTION["sip_auth_fail_limit"]  # 5 guesses, then silence
    assert requests_answered <= 2 * guesses_answered + 2 and dropped > 0, (requests_answered, dropped)
    assert guarded.core is not None
    assert guarded.core.guard.blocked("127.0.0.1", asyncio.get_running_loop().time())
    print(
        f"svcrack: {answered_unprotected:.0f} guesses answered without the block; with it "
        f"{guesses_answered:.0f} answered ({requests_answered:.0f} requests), {dropped:.0f} requests dropped"
    )
