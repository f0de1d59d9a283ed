"""The SIP ladder (edge.uas.ladder): every message of a call's dialog recorded as SipMessageObserved,
both directions, retransmissions included — and nothing for traffic that is not a call's, bounded per
call and per message, scrubbed of keys and credentials, off by a setting."""

from __future__ import annotations

from prometheus_client import REGISTRY

from edge.uas.call import Peer
from edge.uas.config import LadderLimits
from edge.uas.ladder import TRUNCATED_LINE, call_id_of, first_line
from schemas.models import SipMessageObserved
from tests.support.uas_harness import OFFER, Edge, Phone, make_edge, requests, statuses

from .test_core import _add_user, _digest
from .test_outbound import ANSWER_SDP, CALLEE, originate, reply, start


def ladder_facts(edge: Edge, call_id: str | None = None) -> list[SipMessageObserved]:
    return [f for f in edge.facts(call_id, ladder=True) if type(f) is SipMessageObserved]


def unrecorded() -> float:
    return REGISTRY.get_sample_value("sentiric_sip_ladder_unrecorded_total") or 0.0


def test_a_call_records_each_message_in_order_with_its_addresses(edge: Edge, phone: Phone) -> None:
    phone.call(0.0)
    phone.send(phone.request("BYE"), 5.0)
    facts = ladder_facts(edge, edge.call_id)
    assert [(f.direction, f.first_line.split(" ")[0 if f.direction == "in" else 1]) for f in facts] == [
        ("in", "INVITE"), ("out", "200"), ("in", "ACK"), ("in", "BYE"), ("out", "200"),
    ]  # fmt: skip
    invite = facts[0]
    assert (invite.transport, invite.local_addr, invite.remote_addr) == (
        "udp",
        "192.0.2.1:5060",
        "192.0.2.10:5062",
    )
    assert invite.raw.startswith(b"INVITE sip:1000@192.0.2.1 SIP/2.0\r\n") and invite.size == len(invite.raw)
    assert OFFER in invite.raw and not invite.truncated
    names = [type(f).__name__ for f in edge.facts(edge.call_id, ladder=True)]
    assert names.index("CallInviteReceived") < names.index("SipMessageObserved")  # the call's first fact


def test_retransmissions_both_ways_are_recorded(edge: Edge, phone: Phone) -> None:
    req = phone.request("INVITE", to_tag="", body=OFFER)
    phone.send(req, 0.0)
    phone.send(req, 0.3)  # the INVITE again: the stored 200 again
    edge.run_timers(0.6)  # timer G: the 200 retransmitted (no ACK yet)
    lines = [(d, line) for d, line in edge.ladder(edge.call_id)]
    assert lines[:4] == [
        ("in", "INVITE sip:1000@192.0.2.1 SIP/2.0"), ("out", "SIP/2.0 200 OK"),
        ("in", "INVITE sip:1000@192.0.2.1 SIP/2.0"), ("out", "SIP/2.0 200 OK"),
    ]  # fmt: skip
    assert len(lines) == 5 and lines[4] == ("out", "SIP/2.0 200 OK")


def test_a_rejected_call_keeps_its_ladder_and_its_sequence() -> None:
    edge = make_edge(default_access="trunks_only")  # 403 at once: the call is forgotten in the same step
    phone = Phone(edge)
    assert statuses(phone.invite(0.0)) == [403]
    assert edge.ladder(edge.call_id) == [
        ("in", "INVITE sip:1000@192.0.2.1 SIP/2.0"), ("out", "SIP/2.0 403 Forbidden"),
    ]  # fmt: skip
    assert edge.core.ladder.by_sip == {} and edge.core.ladder.by_call == {}
    seqs = [f.seq for f in edge.facts(edge.call_id, ladder=True)]
    assert seqs == list(range(1, len(seqs) + 1))  # the 404's fact after CallEnded still counts on


def test_traffic_that_is_no_calls_is_never_recorded(edge: Edge, phone: Phone) -> None:
    phone.send(phone.request("OPTIONS", to_tag=""), 0.0)  # out of dialog
    phone.send(phone.request("BYE", to_tag="nosuch"), 0.1)  # 481: no such dialog
    phone.send(b"INVITE garbage\r\n\r\n", 0.2)
    assert ladder_facts(edge) == []
    call_id = phone.call(1.0)
    before = len(ladder_facts(edge))
    stranger = Phone(edge, Peer("udp", ("198.51.100.7", 5060)))
    stranger.call_id, stranger.from_tag, stranger.to_tag = phone.call_id, phone.from_tag, phone.to_tag
    stranger.send(stranger.request("INFO"), 2.0)  # the call's Call-ID from another host
    phone.send(b"OPTIONS sip:x SIP/2.0\r\nCall-ID: " + phone.call_id.encode() + b"\r\n\r\n", 2.1)  # garbage
    assert len(ladder_facts(edge, call_id)) == before


def test_a_flood_stops_at_the_cap_with_one_marker() -> None:
    edge = make_edge(ladder=LadderLimits(max_messages=10))
    phone = Phone(edge)
    call_id = phone.call(0.0)
    counted = unrecorded()
    for i in range(30):
        phone.send(phone.request("OPTIONS"), 1.0 + i / 100)
    facts = ladder_facts(edge, call_id)
    assert len(facts) == 11 and facts[-1].truncated and not any(f.truncated for f in facts[:-1])
    marker = facts[-1]
    assert (marker.first_line, marker.raw) == (TRUNCATED_LINE, b"")
    assert unrecorded() - counted == 3 + 60 - 10  # INVITE, 200, ACK, then 30 OPTIONS and their 200s


def test_a_message_is_cut_to_the_size_cap() -> None:
    edge = make_edge(ladder=LadderLimits(max_bytes=64))
    phone = Phone(edge)
    phone.invite(0.0)
    invite = ladder_facts(edge)[0]
    assert len(invite.raw) == 64 and invite.size > 64 and invite.first_line.startswith("INVITE ")


def test_keys_and_credentials_are_scrubbed() -> None:
    edge = make_edge(default_access="digest_required")
    _add_user(edge)
    phone = Phone(edge)
    challenge = ""
    for r in phone.invite(0.0):
        challenge = challenge or (getattr(r, "data", b"").decode().partition("WWW-Authenticate: ")[2])
    challenge = challenge.split("\r\n")[0]
    srtp = (
        OFFER.replace(b"RTP/AVP", b"RTP/SAVP")
        + b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:SECRETKEY0123456789\r\n"
    )
    retry = phone.request("INVITE", to_tag="", body=srtp)
    auth = _digest(edge, challenge.replace("SHA-256", "MD5"), retry, "alice", "secret")
    phone.send(phone.request("INVITE", to_tag="", body=srtp, headers=[("Authorization", auth)]), 0.1)
    raws = b"".join(f.raw for f in ladder_facts(edge))
    assert b"Authorization: Digest [redacted]" in raws and b"response=" not in raws
    assert b"SECRETKEY" not in raws and b"inline:[redacted]" in raws


def test_off_records_nothing() -> None:
    edge = make_edge(ladder=LadderLimits(enabled=False))
    phone = Phone(edge)
    phone.call(0.0)
    phone.send(phone.request("BYE"), 1.0)
    assert ladder_facts(edge) == [] and edge.core.ladder.by_sip == {}
    assert edge.names()[-1] == "CallEnded"


def test_an_outbound_calls_uac_leg_is_recorded_and_the_call_forgotten_after() -> None:
    edge = make_edge()
    cmd = originate()
    invite = start(edge, cmd)
    reply(edge, invite, 100, 0.05)
    reply(edge, invite, 180, 0.1)
    reply(
        edge, invite, 200, 0.5, headers=[("Contact", "<sip:1000@192.0.2.20:5080>")],
        body=ANSWER_SDP, content_type="application/sdp",
    )  # fmt: skip
    edge.core.hangup(cmd.call_id, "done", 3.0)
    assert [(d, line.split(" ")[0 if d == "out" else 1]) for d, line in edge.ladder(cmd.call_id)] == [
        ("out", "INVITE"), ("in", "100"), ("in", "180"), ("in", "200"), ("out", "ACK"), ("out", "BYE"),
    ]  # fmt: skip
    assert {f.remote_addr for f in ladder_facts(edge, cmd.call_id)} == {str(CALLEE)}


def test_call_id_and_first_line_read_from_bytes() -> None:
    assert call_id_of(b"SIP/2.0 200 OK\r\nVia: x\r\ni:  abc@h \r\n\r\nCall-ID: body") == "abc@h"
    assert call_id_of(b"SIP/2.0 200 OK\r\ncall-id:X\r\n\r\n") == "X"
    assert call_id_of(b"SIP/2.0 200 OK\r\n\r\nCall-ID: body") is None
    assert first_line(b"BYE sip:a SIP/2.0\r\n") == "BYE sip:a SIP/2.0"
    assert first_line(b"x" * 500) == "x" * 200


def test_a_transfers_refer_and_its_answer_are_rungs_of_the_call(edge: Edge, phone: Phone) -> None:
    call_id = phone.call(0.0)
    out = edge.core.transfer(call_id, "sip:200@192.0.2.30", 1.0)
    (refer,) = requests(out)
    phone.answer(refer, 202, 1.1)
    assert edge.ladder(call_id)[-2:] == [
        ("out", "REFER sip:alice@192.0.2.10:5062 SIP/2.0"), ("in", "SIP/2.0 202 Accepted"),
    ]  # fmt: skip
