"""The edge under attack, on loopback: a real edge (in this process, real media engine, real local
Kafka), attacked with sipp, SIPVicious (svwar, svcrack), our own raw SIP peers and a flood subprocess.

Loopback stands in for the internet: 127.0.0.1 is the attacker or caller, other 127.x.y.z addresses
play third parties (a reflection victim, a trunk, a second caller). Every test restores the shipped
per-source limits (``production_source_limits``) unless it says why not: ``edge_settings`` raises them
for the tests that place many calls from one address.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import os
import socket
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from edge.app import EdgeApp
from edge.sip.digest import compute_ha1
from schemas import models
from tests.support.sipp import production_source_limits, run_sipp

from .conftest import BASIC, StartEdge, metric, node_facts, sip_names
from .rawsip import RawUac, free_even_pair, sdp, sink

PRODUCTION = production_source_limits()
COMMON = {"source": "test", "trace_id": "test"}


def udp_sockets() -> int:
    """UDP sockets this process holds (the edge runs in it)."""
    return len(psutil.Process().net_connections(kind="udp"))


async def until(predicate: Any, within_s: float = 30.0, interval: float = 0.05) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


async def calls_over(app: EdgeApp, within_s: float = 30.0) -> None:
    assert app.core is not None
    await until(lambda: not app.core.calls, within_s)  # type: ignore[union-attr]


def envelope(entity_id: str) -> dict[str, Any]:
    return {"event_id": uuid.uuid4(), "entity_id": entity_id, "occurred_at": datetime.now(UTC), **COMMON}


def trunk(entity_id: str, *sources: str, media_anywhere: bool = False) -> models.Trunk:
    return models.Trunk(**envelope(entity_id), name=entity_id, sources=sources, media_anywhere=media_anywhere)


def sip_user(username: str, password: str) -> models.SipUser:
    return models.SipUser(
        **envelope(username),
        username=username,
        realm="sentiric",
        ha1_md5=compute_ha1("MD5", username, "sentiric", password),
        ha1_sha256=compute_ha1("SHA-256", username, "sentiric", password),
    )


def number() -> str:
    return f"8{uuid.uuid4().int % 10**7:07d}"


# --- media only where it belongs ------------------------------------------------------------------


async def test_a_hundred_calls_with_bad_or_foreign_c_lines_leave_no_udp_socket_behind(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    app = await start_edge(sip_t1_ms=100, **{**PRODUCTION, "sip_rate_invite": 100.0})  # 100 calls in ~4 s
    await asyncio.sleep(0.5)
    baseline = udp_sockets()
    sdp_at = "uac_sdp_at.xml"
    runs = await asyncio.gather(
        *(
            run_sipp(
                app.sip_port,
                tmp_path / f"run{i}",
                scenario=sdp_at,
                calls=25,
                rate=10,
                extra=["-key", "sdp_ip", ip, "-key", "sdp_port", "4000", "-d", "300"],
            )
            for i, ip in enumerate(("not-an-ip", "239.1.2.3", "127.0.0.2", "127.0.0.3"))
        )
    )
    for result in runs:
        assert result.returncode == 0, result.describe()
        assert result.last("SuccessfulCall(C)") == 25
    calls = await node_facts(app, kafka, 50)
    outcomes = [tuple(sip_names(r)) for r in calls.values()]
    refused = ("CallInviteReceived", "DialplanResolved", "CallRejected", "CallEnded")
    assert sorted(set(outcomes)) == sorted({refused, tuple(BASIC)})
    assert outcomes.count(refused) == 50 and outcomes.count(tuple(BASIC)) == 50
    rejected = [r for c in calls.values() for r in c if type(r).__name__ == "CallRejected"]
    assert {(r.sip_status, r.stage) for r in rejected} == {(488, "sdp")}
    await calls_over(app)
    await until(lambda: udp_sockets() == baseline, 10.0)
    assert app.engine.active_sessions == 0 and app.engine.pool.in_use == 0


async def test_an_sdp_naming_a_third_party_gets_no_rtp_without_the_ack(
    start_edge: StartEdge, kafka: str
) -> None:
    app = await start_edge(sip_t1_ms=100, **PRODUCTION)  # no ACK: the call ends at 64*T1 = 6.4 s
    edge = ("127.0.0.1", app.sip_port)
    victim_port = free_even_pair("127.0.0.2")
    victim_rtp = await sink("127.0.0.2", victim_port)
    victim_rtcp = await sink("127.0.0.2", victim_port + 1)
    caller = await sink("127.0.0.1")
    own_port = free_even_pair("127.0.0.1")
    own_rtp = await sink("127.0.0.1", own_port)
    uac = RawUac(caller, edge)
    foreign = uac.invite(sdp("127.0.0.2", victim_port))
    own = uac.invite(sdp("127.0.0.1", own_port))  # the (maybe spoofed) source itself
    assert (await uac.final(foreign)).status == 200 and (await uac.final(own)).status == 200
    await calls_over(app, 20.0)
    await asyncio.sleep(1.0)  # and after the ACK timeout nothing comes either
    assert victim_rtp.datagrams == [] and victim_rtcp.datagrams == []
    assert own_rtp.datagrams == []  # an unproven source gets no RTP at all
    assert uac.count(foreign, 200) <= 3 and uac.count(own, 200) <= 3  # two retransmissions at most
    assert not [d for d, _ in caller.datagrams if d.startswith(b"BYE")]  # and no BYE
    # The control: an ACKed call to the same kind of address does get its media.
    control = uac.invite(sdp("127.0.0.1", own_port))
    assert (await uac.final(control)).status == 200
    uac.ack(control)
    await asyncio.wait_for(own_rtp.arrived.wait(), 5)
    uac.bye(control)
    await calls_over(app)
    ended = [
        r for c in (await node_facts(app, kafka, 3)).values() for r in c if type(r).__name__ == "CallEnded"
    ]
    assert sorted(r.reason for r in ended) == ["ack_timeout", "ack_timeout", "caller_bye"]
    for s in (victim_rtp, victim_rtcp, caller, own_rtp):
        s.close()


async def test_a_repeated_invite_from_another_source_gets_nothing(start_edge: StartEdge) -> None:
    app = await start_edge(sip_t1_ms=100, **PRODUCTION)
    edge = ("127.0.0.1", app.sip_port)
    caller, other_port, other_ip = await sink("127.0.0.1"), await sink("127.0.0.1"), await sink("127.0.0.2")
    uac = RawUac(caller, edge)
    before = metric("sentiric_sip_dropped_total", reason="foreign_source")
    dialog = uac.invite(sdp("127.0.0.1", 4000))
    assert (await uac.final(dialog)).status == 200
    other_port.send(dialog.invite, edge)
    other_ip.send(dialog.invite, edge)
    caller.send(dialog.invite, edge)  # the original source may repeat it: it gets the 200 again
    await asyncio.sleep(1.0)  # several T1: a 200 would have come by now
    assert other_port.datagrams == [] and other_ip.datagrams == []
    assert metric("sentiric_sip_dropped_total", reason="foreign_source") - before == 2
    assert uac.count(dialog, 200) >= 2
    uac.ack(dialog)
    uac.bye(dialog)
    await calls_over(app)
    # While ringing (no final response yet), a replay from elsewhere gets nothing either.
    ringing = await start_edge(sip_t1_ms=100, sip_ring_ms=1500, **PRODUCTION)
    edge = ("127.0.0.1", ringing.sip_port)
    uac = RawUac(caller, edge)
    dialog = uac.invite(sdp("127.0.0.1", 4000))
    await until(lambda: uac.count(dialog, 180) == 1, 5.0)
    other_ip.send(dialog.invite, edge)
    assert (await uac.final(dialog)).status == 200
    uac.ack(dialog)
    uac.bye(dialog)
    await calls_over(ringing)
    assert other_ip.datagrams == []
    for s in (caller, other_port, other_ip):
        s.close()


# --- floods (scanners and crackers: test_sip_scanners.py) -----------------------------------------


FLOOD = r"""
import socket, sys, time
port, seconds, rate = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
ip, sport = sock.getsockname()
body = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
head = ("INVITE sip:1000@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK%%010d\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:flood@%s>;tag=%%010d\r\nTo: <sip:1000@127.0.0.1>\r\n"
        "Call-ID: %%010d@flood\r\nCSeq: 1 INVITE\r\nContact: <sip:flood@%s:%d>\r\n"
        "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n")
head %= (port, ip, sport, ip, ip, sport, len(body))
template = head.encode() + body
sent, start = 0, time.monotonic()
while (now := time.monotonic()) - start < seconds:
    due = int((now - start) * rate)
    while sent < due:
        sock.sendto(template % (sent, sent, sent), ("127.0.0.1", port))
        sent += 1
    time.sleep(0.001)
print(sent, sent / (time.monotonic() - start), flush=True)
"""


async def test_an_invite_flood_from_one_source_does_not_delay_a_call_from_another(
    start_edge: StartEdge, tmp_path: Path
) -> None:
    app = await start_edge(**PRODUCTION)
    limited = metric("sentiric_sip_rate_limited_total", method="INVITE")
    received = metric("sentiric_sip_invites_received_total")
    flood = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FLOOD, str(app.sip_port), "8", "5000", stdout=asyncio.subprocess.PIPE
    )
    try:
        await asyncio.sleep(1.0)  # the flood is on
        result = await run_sipp(
            app.sip_port,
            tmp_path,
            local_ip="127.0.0.2",
            scenario="uac_timed.xml",
            calls=20,
            rate=5,
            extra=["-d", "100", "-trace_rtt", "-rtt_freq", "1"],
        )
        out, _ = await asyncio.wait_for(flood.communicate(), 30)
    finally:
        if flood.returncode is None:
            flood.kill()
            await flood.wait()
    sent, achieved = out.decode().split()
    assert float(achieved) >= 4500, out  # the flood really ran at ~5,000 INVITEs/s
    assert result.returncode == 0, result.describe()
    assert result.last("SuccessfulCall(C)") == 20 and result.last("FailedCall(C)") == 0
    rtts = rtt_samples(tmp_path)
    assert len(rtts) == 20 and max(rtts) < 100, rtts  # INVITE -> 200 from 127.0.0.2 during the flood
    dropped = metric("sentiric_sip_rate_limited_total", method="INVITE") - limited
    # Of the flood, only the burst (20) and 10/s over its ~9 s got through the rate limiter; every other
    # INVITE that reached the edge was dropped. (A loaded box may lose some datagrams in the kernel's
    # socket buffer before the edge sees them: those are neither admitted nor counted, hence the 95%.)
    admitted = metric("sentiric_sip_invites_received_total") - received - 20  # sipp's 20 calls
    assert admitted <= 20 + 10 * 9, (admitted, sent)
    assert dropped >= 0.95 * int(sent), (dropped, sent)
    print(
        f"flood {sent} INVITEs at {float(achieved):.0f}/s, {dropped:.0f} dropped; "
        f"INVITE->200 from 127.0.0.2: max {max(rtts):.0f} ms, mean {sum(rtts) / len(rtts):.1f} ms"
    )


def rtt_samples(workdir: Path) -> list[float]:
    """sipp's INVITE -> 200 response times (``-trace_rtt``), whole milliseconds."""
    out = []
    for path in workdir.glob("*_rtt.csv"):
        with path.open() as fh:
            out += [
                float(r["response_time_ms"])
                for r in csv.DictReader(fh, delimiter=";")
                if r.get("response_time_ms")
            ]
    return out


# --- TCP -----------------------------------------------------------------------------------------------


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


async def test_a_tcp_peer_that_never_reads_is_cut_and_memory_stays_bounded(start_edge: StartEdge) -> None:
    # OPTIONS unlimited here (explicitly): this test fills the edge's write buffer, not its rate limit.
    app = await start_edge(**{**PRODUCTION, "sip_rate_options": 0.0})
    options = (
        b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK%08d\r\n"
        b"Max-Forwards: 70\r\nFrom: <sip:r@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
        b"Call-ID: %08d@never-reads\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    before = rss()
    slow = metric("sentiric_sip_tcp_refused_total", reason="slow_reader")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and never recv()
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", app.sip_port))
    sent = 0
    cut = False
    while sent < 400_000 and not cut:
        burst = b"".join(options % (i, i) for i in range(sent, sent + 500))
        try:
            await asyncio.wait_for(loop.sock_sendall(sock, burst), 5)
        except (OSError, TimeoutError):
            cut = True
        sent += 500
        await asyncio.sleep(0)
        cut = cut or metric("sentiric_sip_tcp_refused_total", reason="slow_reader") > slow
    sock.close()
    assert cut, f"the edge kept a peer that read nothing after {sent} requests"
    assert metric("sentiric_sip_tcp_refused_total", reason="slow_reader") - slow == 1
    grown = rss() - before
    assert grown < 64 * 2**20, f"RSS grew {grown / 2**20:.1f} MiB"
    assert app.endpoint is not None and app.endpoint.tcp_inbound == 0
    print(f"never-reading peer cut after {sent} requests; RSS grew {grown / 2**20:.1f} MiB")


async def test_tcp_connections_per_source_are_capped_on_a_running_edge(start_edge: StartEdge) -> None:
    app = await start_edge(**PRODUCTION)  # 32 per source
    cap = PRODUCTION["sip_tcp_max_per_source"]
    conns = [await asyncio.open_connection("127.0.0.1", app.sip_port) for _ in range(cap)]
    reader, writer = await asyncio.open_connection("127.0.0.1", app.sip_port)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the N+1th is cut at once
    writer.close()
    other = await asyncio.open_connection("127.0.0.1", app.sip_port, local_addr=("127.0.0.2", 0))
    other[1].write(b"\r\n\r\n")
    assert await asyncio.wait_for(other[0].readexactly(2), 5) == b"\r\n"  # another source still gets in
    for _, w in [*conns, other]:
        w.close()


# --- access policies, end to end with sipp ------------------------------------------------------------


async def test_digest_required_default_with_sipp_and_a_trunk_bypassing_it(
    start_edge: StartEdge, kafka: str, config: Any, tmp_path: Path
) -> None:
    user, password = f"u{uuid.uuid4().hex[:6]}", "s3cret"
    await config(sip_user(user, password), trunk(f"t{uuid.uuid4().hex[:6]}", "127.0.56.0/24"))
    app = await start_edge(sip_default_access="digest_required", sip_auth_algorithms="MD5")
    plain = await run_sipp(app.sip_port, tmp_path / "plain", calls=1, timeout_s=10)
    assert plain.returncode != 0  # the 401 is not what the plain scenario expects
    good = await run_sipp(
        app.sip_port, tmp_path / "auth", scenario="uac_auth.xml", extra=["-au", user, "-ap", password]
    )
    assert good.returncode == 0, good.describe()
    from_trunk = await run_sipp(app.sip_port, tmp_path / "trunk", local_ip="127.0.56.1", extra=["-d", "200"])
    assert from_trunk.returncode == 0, from_trunk.describe()
    calls = await node_facts(app, kafka, 2)
    outcomes = sorted(tuple(sip_names(r)) for r in calls.values())
    assert outcomes.count(tuple(BASIC)) == 2  # the authenticated call and the trunk's


async def test_trunks_only_dialplan_with_sipp(
    start_edge: StartEdge, kafka: str, config: Any, tmp_path: Path
) -> None:
    called = number()
    plan = models.Dialplan(
        **envelope(f"trunks-{called}"), pattern=called, priority=1, action="agent", access="trunks_only"
    )
    await config(plan, trunk(f"t{uuid.uuid4().hex[:6]}", "127.0.57.0/24"))
    app = await start_edge()
    outsider = await run_sipp(app.sip_port, tmp_path / "outsider", service=called, timeout_s=10)
    assert outsider.returncode != 0
    insider = await run_sipp(
        app.sip_port, tmp_path / "insider", service=called, local_ip="127.0.57.3", extra=["-d", "200"]
    )
    assert insider.returncode == 0, insider.describe()
    calls = await node_facts(app, kafka, 1)
    rejected = [r for c in calls.values() for r in c if type(r).__name__ == "CallRejected"]
    assert [(r.sip_status, r.reason, r.stage) for r in rejected] == [(403, "not_a_trunk", "auth")]
    assert sorted(tuple(sip_names(r)) for r in calls.values()).count(tuple(BASIC)) == 1
    await calls_over(app)


async def test_trunk_media_anywhere_with_sipp(start_edge: StartEdge, config: Any, tmp_path: Path) -> None:
    await config(
        trunk(f"any{uuid.uuid4().hex[:6]}", "127.0.58.0/24", media_anywhere=True),
        trunk(f"own{uuid.uuid4().hex[:6]}", "127.0.59.0/24"),
    )
    app = await start_edge()
    media_port = free_even_pair("127.0.60.1")
    gateway = await sink("127.0.60.1", media_port)  # a media gateway outside every trunk range

    async def call_from(ip: str) -> int:
        gateway.datagrams.clear()
        result = await run_sipp(
            app.sip_port,
            tmp_path / ip,
            local_ip=ip,
            scenario="uac_sdp_at.xml",
            extra=["-key", "sdp_ip", "127.0.60.1", "-key", "sdp_port", str(media_port), "-d", "1500"],
        )
        assert result.returncode == 0, result.describe()
        return len(gateway.datagrams)

    assert await call_from("127.0.58.1") > 20  # media_anywhere: the SDP address as given (50/s)
    assert await call_from("127.0.59.1") == 0  # a trunk without it: outside its ranges, nothing
    assert await call_from("127.0.0.1") == 0  # no trunk: not the signalling IP, nothing
    await calls_over(app)
    gateway.close()


def test_psutil_sees_this_processes_udp_sockets() -> None:
    """The socket count the leak test relies on moves with a socket this process opens."""
    before = udp_sockets()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        assert udp_sockets() == before + 1
    assert udp_sockets() == before
    assert os.getpid() == psutil.Process().pid
