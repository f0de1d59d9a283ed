"""Hostile text against a running platform (`sentiric up`: real Kafka, embedded PostgreSQL, the edge,
the worker, the API with its CDR projector): one bad record never stops anything.

1. Raw-socket INVITEs carry NUL (``%00`` in URIs and raw 0x00 octets), ``%FF``, invalid UTF-8, the
   UTF-8-style encoding of a lone surrogate, control characters and oversized values in every text
   field that reaches a fact: the Request-URI user, From/To display names and URIs, User-Agent,
   Call-ID, the SDP session name and other SDP lines. Each call is completed (ACK + BYE) or ends as
   the edge answers it; then a normal call from sipp. Every call the edge recorded appears in
   ``GET /api/calls`` with its text made safe, and ``sentiric_projection_lag_records`` returns to 0.
   (Before the fix, the first ``%00`` froze the projector and no later call ever appeared.)
2. Poison put directly on ``sentiric.calls`` by a producer that bypasses the edge's recorder: a fact
   the tables cannot hold (a 20 KB caller no index row can take) is dead-lettered with its offset;
   a fact with NUL in its text (as facts looked before this fix) projects with NUL escaped; the
   calls after them appear and the lag returns to 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.sip.errors import SipParseError
from edge.sip.message import SipResponse, parse_message
from schemas import models as m
from schemas.codec import encode
from schemas.samples import sample
from schemas.wiretext import FIELD_BOUNDS
from sentiric.eventlog import topics
from sentiric.eventlog.consumer import partition_counts, read_partition_until_end
from sentiric.eventlog.producer import EventProducer
from sentiric.net import free_port
from tests.integration.deadletter import dead_letters, wait_dead_letters

from .platform import Platform, sentiric_up

NUL = b"\x00"
BAD_UTF8 = b"\xff\xfe\xc3\x28"  # not UTF-8 at all, and a broken two-octet sequence
SURROGATE = b"\xed\xa0\x80"  # U+D800 as CESU/WTF-8 would write it: invalid UTF-8
CONTROLS = b"\x07\x1b[31m\x0b\x7f"


@dataclass
class Invite:
    """One INVITE; every text field can be replaced by hostile octets."""

    tag: str
    ruri_user: bytes = b"100"
    from_display: bytes = b"Caller"
    from_user: bytes = b"alice"
    to_user: bytes = b"100"
    user_agent: bytes = b"hostile-test/1.0"
    call_id_suffix: bytes = b""
    session_name: bytes = b"-"
    sdp_extra: bytes = b""
    required: bool = True  # the edge must record this call (it is not oversized or unparseable)

    @property
    def call_id(self) -> bytes:
        return f"{self.tag}@hostile.test".encode() + self.call_id_suffix

    def sdp(self, rtp_port: int) -> bytes:
        return (
            b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=" + self.session_name + b"\r\nc=IN IP4 127.0.0.1\r\n"
            b"t=0 0\r\n" + self.sdp_extra + b"m=audio " + str(rtp_port).encode() + b" RTP/AVP 0 101\r\n"
            b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
        )

    def headers(self, local: tuple[str, int], edge: tuple[str, int]) -> dict[str, bytes]:
        host = f"{edge[0]}:{edge[1]}".encode()
        me = f"{local[0]}:{local[1]}".encode()
        return {
            "from": b'From: "'
            + self.from_display
            + b'" <sip:'
            + self.from_user
            + b"@"
            + me
            + b">;tag="
            + b"ft-"
            + self.tag.encode(),
            "to": b"To: <sip:" + self.to_user + b"@" + host + b">",
            "call_id": b"Call-ID: " + self.call_id,
            "contact": b"Contact: <sip:alice@" + me + b">",
            "ruri": b"sip:" + self.ruri_user + b"@" + host,
        }

    def bytes(self, local: tuple[str, int], edge: tuple[str, int], rtp_port: int) -> bytes:
        h = self.headers(local, edge)
        body = self.sdp(rtp_port)
        return b"\r\n".join(
            [
                b"INVITE " + h["ruri"] + b" SIP/2.0",
                b"Via: SIP/2.0/UDP "
                + f"{local[0]}:{local[1]}".encode()
                + b";branch=z9hG4bK-"
                + self.tag.encode(),
                h["from"],
                h["to"],
                h["call_id"],
                b"CSeq: 1 INVITE",
                h["contact"],
                b"Max-Forwards: 70",
                b"User-Agent: " + self.user_agent,
                b"Content-Type: application/sdp",
                b"Content-Length: " + str(len(body)).encode(),
                b"",
                body,
            ]
        )


def cases(run: str) -> list[Invite]:
    def tag(n: int) -> str:
        return f"hostile-{run}-{n:02d}"

    return [
        Invite(tag(1), from_user=b"%00"),  # the INVITE: From: <sip:%00@...>
        Invite(tag(2), ruri_user=b"%00100"),
        Invite(tag(3), ruri_user=b"%FF%FE100", to_user=b"%FF"),
        Invite(tag(4), ruri_user=b"%ED%A0%80", from_user=b"%ED%B2%80"),  # lone surrogates, escaped
        Invite(tag(5), to_user=b"%00%07%1B"),
        Invite(tag(6), from_display=NUL + CONTROLS + BAD_UTF8 + SURROGATE + b"evil"),
        Invite(tag(7), user_agent=b"agent" + NUL + BAD_UTF8 + SURROGATE + CONTROLS),
        Invite(tag(8), call_id_suffix=NUL + b"\x01" + BAD_UTF8),
        Invite(tag(9), session_name=NUL + BAD_UTF8 + SURROGATE + CONTROLS),
        Invite(
            tag(10),
            sdp_extra=b"i=" + NUL + b"info\r\nu=http://x/" + BAD_UTF8 + b"\r\ne=" + CONTROLS + b"\r\n",
        ),
        Invite(tag(11), ruri_user=b"1" + NUL + b"00", required=False),  # raw NUL in a URI: may be a 400
        Invite(tag(12), from_display=b"D" * 1500, required=False),  # oversized: the edge may refuse it
        Invite(tag(13), user_agent=b"U" * 1500, required=False),
        Invite(tag(14), call_id_suffix=b"C" * 700, required=False),
        Invite(tag(15), session_name=b"S" * 1500, required=False),
        Invite(tag(16), from_user=b"%00" * 300, required=False),
    ]


def call(sock: socket.socket, edge: tuple[str, int], invite: Invite) -> int | None:
    """Send the INVITE; ACK its final response; after a 200, BYE at once. The final status, or None
    when the edge never answered (dropped)."""
    local = sock.getsockname()
    rtp_port = free_port(socket.SOCK_DGRAM)
    sock.sendto(invite.bytes(local, edge, rtp_port), edge)
    final = recv_final(sock, "INVITE")
    if final is None:
        return None
    h = invite.headers(local, edge)
    to = b"To: " + final.header("to").encode("utf-8", "surrogateescape")
    common = [h["from"], to, h["call_id"], h["contact"], b"Max-Forwards: 70", b"Content-Length: 0", b"", b""]
    via = b"Via: SIP/2.0/UDP " + f"{local[0]}:{local[1]}".encode() + b";branch=z9hG4bK-"
    if final.status >= 300:  # the ACK of a non-2xx answer is part of the INVITE transaction
        sock.sendto(
            b"\r\n".join(
                [b"ACK " + h["ruri"] + b" SIP/2.0", via + invite.tag.encode(), b"CSeq: 1 ACK", *common]
            ),
            edge,
        )
        return final.status
    sock.sendto(
        b"\r\n".join(
            [b"ACK " + h["ruri"] + b" SIP/2.0", via + b"ack-" + invite.tag.encode(), b"CSeq: 1 ACK", *common]
        ),
        edge,
    )
    sock.sendto(
        b"\r\n".join(
            [b"BYE " + h["ruri"] + b" SIP/2.0", via + b"bye-" + invite.tag.encode(), b"CSeq: 2 BYE", *common]
        ),
        edge,
    )
    bye = recv_final(sock, "BYE")
    assert bye is not None and bye.status == 200, f"{invite.tag}: BYE answered {bye and bye.status}"
    return final.status


def recv_final(sock: socket.socket, method: str, within_s: float = 10.0) -> SipResponse | None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(65535)
        except TimeoutError:
            return None
        try:
            msg = parse_message(data)
        except SipParseError:
            continue  # not ours to judge here: the edge's own answers echo hostile octets
        if isinstance(msg, SipResponse) and msg.cseq.method == method and msg.status >= 200:
            return msg
    return None


def wait(predicate: Callable[[], bool], what: str, platform: Platform, within_s: float = 120.0) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        assert platform.proc.poll() is None, platform.tail()
        assert time.monotonic() < deadline, f"{what} not reached after {within_s} s\n{platform.tail()}"
        time.sleep(0.5)


def calls_by_sip_call_id(platform: Platform) -> dict[str, dict]:
    r = platform.get("/api/calls", limit=500)
    assert r.status_code == 200, r.text
    return {c["sip_call_id"]: c for c in r.json()["items"]}


def invites_on_log(kafka: str) -> list[m.CallInviteReceived]:
    async def read() -> list[m.CallInviteReceived]:
        counts = await partition_counts(lambda names: [topics.CALLS], bootstrap_servers=kafka)
        parts = await asyncio.gather(
            *(
                read_partition_until_end(topics.CALLS, p, bootstrap_servers=kafka)
                for p in range(counts[topics.CALLS])
            )
        )
        return [d.record for part in parts for d in part if isinstance(d.record, m.CallInviteReceived)]

    return asyncio.run(read())


def lag_is_zero(platform: Platform) -> bool:
    return platform.metric("sentiric_projection_lag_records") == 0.0


def test_hostile_text_in_every_field_then_poison_on_the_log(tmp_path: Path, machine_cache_dir: Path) -> None:
    run = uuid.uuid4().hex[:6]
    hostile = cases(run)
    with sentiric_up(tmp_path, machine_cache_dir) as platform:
        platform.wait_up()
        statuses: dict[str, int | None] = {}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            for invite in hostile:
                statuses[invite.tag] = call(sock, platform.sip, invite)
                time.sleep(0.2)  # a caller's pace, not a flood (the edge may rate-limit one source)
        sipp_call(platform, tmp_path)

        # Every call the edge recorded appears in /api/calls; the projection catches up.
        recorded = {
            r.sip_call_id: r for r in invites_on_log(platform.kafka) if r.sip_call_id.startswith("hostile-")
        }
        by_tag = {i.tag: [r for k, r in recorded.items() if k.startswith(i.tag + "@")] for i in hostile}
        missing = [i.tag for i in hostile if i.required and not by_tag[i.tag]]
        assert missing == [], f"the edge recorded no call for {missing}; answers {statuses}"
        wait(
            lambda: set(recorded) <= set(calls_by_sip_call_id(platform)),
            "every hostile call in /api/calls",
            platform,
        )
        wait(
            lambda: sum(1 for c in calls_by_sip_call_id(platform).values() if c["caller"] == "sipp") >= 1,
            "the sipp call",
            platform,
        )
        wait(lambda: lag_is_zero(platform), "projection lag 0", platform)

        rows = calls_by_sip_call_id(platform)
        for sip_call_id, fact in recorded.items():
            row = rows[sip_call_id]
            for text in (row["caller"], row["callee"], row["sip_call_id"]):
                assert "\x00" not in text and not re.search("[\ud800-\udfff]", text)
            assert (row["caller"], row["callee"]) == (fact.caller, fact.callee)
            assert fact.raw_invite is not None and fact.raw_invite.startswith(b"INVITE sip:")
        first = rows[f"hostile-{run}-01@hostile.test"]
        assert first["caller"] == "\\x00" and first["disposition"] == "answered"
        assert rows[f"hostile-{run}-03@hostile.test"]["callee"] == "\\xff\\xfe100"
        (eight,) = by_tag[f"hostile-{run}-08"]
        assert eight.sip_call_id == f"hostile-{run}-08@hostile.test\\x00\\x01\\xff\\xfe\\xc3("
        (nine,) = by_tag[f"hostile-{run}-09"]
        # the SDP body decodes invalid UTF-8 as U+FFFD (its octets stay in raw_invite); controls escaped
        assert "s=\\x00\ufffd\ufffd\ufffd(\ufffd\ufffd\ufffd\\x07\\x1b[31m\\x0b\\x7f\r\n" in nine.sdp_offer
        assert b"s=" + NUL + BAD_UTF8 + SURROGATE + CONTROLS + b"\r\n" in nine.raw_invite
        for invite in hostile:
            for fact in by_tag[invite.tag]:  # the oversized ones, when recorded, are bounded
                assert (
                    len(fact.caller) <= FIELD_BOUNDS["caller"]
                    and len(fact.sip_call_id) <= FIELD_BOUNDS["sip_call_id"]
                )
                assert fact.user_agent is None or len(fact.user_agent) <= FIELD_BOUNDS["user_agent"]
        assert [d for d in asyncio.run(dead_letters(platform.kafka, origin_topic=topics.CALLS))] == []

        # Poison from a producer that bypasses the recorder, then a normal call.
        rng = random.Random(run)
        huge = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20_000))
        too_big = dataclasses.replace(sample(m.CallInviteReceived, call_id=f"poison-{run}"), caller=huge)
        with_nul = dataclasses.replace(
            sample(m.CallInviteReceived, call_id=f"nul-{run}", n=2),
            caller="\x00old\x00",
            sip_call_id=f"nul-{run}",
        )
        offsets = asyncio.run(produce(platform.kafka, [too_big, with_nul]))
        sipp_call(platform, tmp_path)
        wait(
            lambda: sum(1 for c in calls_by_sip_call_id(platform).values() if c["caller"] == "sipp") >= 2,
            "the call after the poison",
            platform,
        )
        wait(lambda: f"nul-{run}" in calls_by_sip_call_id(platform), "the NUL fact", platform)
        wait(lambda: lag_is_zero(platform), "projection lag 0 after the poison", platform)
        assert calls_by_sip_call_id(platform)[f"nul-{run}"]["caller"] == "\\x00old\\x00"
        assert platform.get(f"/api/calls/poison-{run}").status_code == 404
        (letter,) = asyncio.run(wait_dead_letters(platform.kafka, origin_topic=topics.CALLS, count=1))
        assert letter.origin == offsets[0] and letter.consumer == "projector"
        assert letter.value == encode(too_big) and "ProgramLimitExceeded" in letter.error


async def produce(kafka: str, records: list[m.CallInviteReceived]) -> list[tuple[str, int, int]]:
    """Publish, then find where each record landed (by call id, on its partition)."""
    async with EventProducer(bootstrap_servers=kafka) as producer:
        for r in records:
            producer.publish(r)
    counts = await partition_counts(lambda names: [topics.CALLS], bootstrap_servers=kafka)
    found: dict[str, tuple[str, int, int]] = {}
    for p in range(counts[topics.CALLS]):
        for d in await read_partition_until_end(topics.CALLS, p, bootstrap_servers=kafka):
            found[d.record.call_id] = (d.topic, d.partition, d.offset)
    return [found[r.call_id] for r in records]


def sipp_call(platform: Platform, workdir: Path) -> None:
    result = subprocess.run(
        [
            "sipp", "-sn", "uac", f"127.0.0.1:{platform.sip[1]}", "-i", "127.0.0.1",
            "-p", str(free_port(socket.SOCK_DGRAM)), "-m", "1", "-d", "1000", "-timeout", "60", "-nostdin",
        ],
        capture_output=True, text=True, timeout=90, cwd=workdir,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
