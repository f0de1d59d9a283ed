"""UasCore under hostile input: every anti-reflection and access rule, on the fake clock."""

from __future__ import annotations

from prometheus_client import REGISTRY

from edge.media.rtp.source_policy import parse_networks
from edge.media_port import MediaOptions
from edge.sip.builders import make_response
from edge.sip.transaction import Send
from edge.uas.access import Trunk
from edge.uas.call import ConfirmMedia, OpenMedia, Peer, UpdateMedia
from edge.uas.dialplan import Plan
from edge.uas.ratelimit import Bucket, SourceLimits
from tests.support.uas_harness import OFFER, Edge, Phone, make_edge, requests, responses, statuses

from .test_core import _add_user, _digest

ELSEWHERE = Peer("udp", ("203.0.113.9", 5062))
CARRIER = Trunk("carrier", "carrier", parse_networks(["192.0.2.0/24"]))


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def offer_at(conn: str) -> bytes:
    return OFFER.replace(b"c=IN IP4 192.0.2.10", conn.encode())


def opened(out: list) -> MediaOptions:
    return next(e for e in out if isinstance(e, OpenMedia)).options


# --- media addresses -------------------------------------------------------------------------------


def test_unusable_connection_address_gets_488_before_any_port(edge: Edge, phone: Phone) -> None:
    for conn in ("c=IN IP4 not-an-ip", "c=IN IP4 224.0.0.1", "c=IN IP6 2001:db8::1"):  # v6: RTP here is v4
        out = Phone(edge).invite(0.0, body=offer_at(conn))
        assert statuses(out) == [488], conn
        assert not [e for e in out if isinstance(e, OpenMedia)]
    assert edge.pool.in_use == 0 and edge.core.calls == {}
    assert [r.stage for r in edge.facts() if type(r).__name__ == "CallRejected"] == ["sdp"] * 3


def test_hold_address_opens_media_with_no_destination(edge: Edge, phone: Phone) -> None:
    out = phone.invite(0.0, body=offer_at("c=IN IP4 0.0.0.0"))
    assert statuses(out) == [200] and opened(out).remote_addr is None


def test_reinvite_with_an_unusable_address_gets_488_and_the_session_stays(edge: Edge, phone: Phone) -> None:
    call_id = phone.call()
    out = phone.send(phone.request("INVITE", body=offer_at("c=IN IP4 host.example.com")), 1.0)
    assert statuses(out) == [488]
    assert not [e for e in out if isinstance(e, UpdateMedia)]
    assert edge.core.calls[call_id].negotiated.remote_address == "192.0.2.10"  # type: ignore[union-attr]
    out = phone.send(phone.request("INVITE", body=offer_at("c=IN IP4 0.0.0.0")), 2.0)
    assert statuses(out) == [200]
    assert UpdateMedia(call_id, None, "recvonly") in out  # hold: no destination


def test_late_offer_answer_with_an_unusable_address_ends_the_call(edge: Edge, phone: Phone) -> None:
    phone.invite(0.0, body=b"")
    out = phone.ack(0.1, body=offer_at("c=IN IP4 not-an-ip"))
    assert [r.method for r in requests(out)] == ["BYE"]
    assert not [e for e in out if isinstance(e, OpenMedia)]


# --- media trust ----------------------------------------------------------------------------------------


def test_open_media_carries_what_the_core_knows_of_the_peer(edge: Edge, phone: Phone) -> None:
    trust = opened(phone.invite(0.0)).trust
    assert (trust.signal_ip, trust.proven, trust.trunk, trust.media_anywhere) == (
        "192.0.2.10",
        False,
        (),
        False,
    )
    assert phone.ack(0.1) == [ConfirmMedia(edge.call_id)]
    assert phone.ack(0.2) == []  # a retransmitted ACK confirms nothing twice

    tcp = Phone(edge, Peer("tcp", ("192.0.2.11", 40001)))
    assert opened(tcp.invite(1.0)).trust.proven  # the TCP handshake proved the source
    assert tcp.ack(1.1) == []

    trunk_edge = make_edge()
    trunk_edge.directory.trunks.append(Trunk("c", "c", parse_networks(["192.0.2.0/24"]), media_anywhere=True))
    trust = opened(Phone(trunk_edge).invite(0.0)).trust
    assert trust.proven and trust.media_anywhere and [str(n) for n in trust.trunk] == ["192.0.2.0/24"]


def test_a_digest_authenticated_caller_is_proven() -> None:
    edge = make_edge(default_access="digest_required")
    _add_user(edge)
    phone = Phone(edge)
    challenge = responses(phone.invite(0.0))[0].header("www-authenticate") or ""
    retry = phone.request("INVITE", to_tag="", body=OFFER)
    auth = _digest(edge, challenge.replace("SHA-256", "MD5"), retry, "alice", "secret")
    out = phone.send(phone.request("INVITE", to_tag="", body=OFFER, headers=[("Authorization", auth)]), 0.1)
    assert statuses(out) == [200] and opened(out).trust.proven


# --- replays and foreign sources -------------------------------------------------------------------------


def test_retransmitted_invite_from_another_source_gets_nothing(edge: Edge, phone: Phone) -> None:
    req = phone.request("INVITE", to_tag="", body=OFFER)
    assert statuses(phone.send(req, 0.0)) == [200]
    before = metric("sentiric_sip_dropped_total", reason="foreign_source")
    for peer in (ELSEWHERE, Peer("udp", ("192.0.2.10", 5099)), Peer("tcp", ("192.0.2.10", 5062))):
        assert edge.core.receive(bytes(req), peer, 0.3) == []
    assert metric("sentiric_sip_dropped_total", reason="foreign_source") - before == 3
    assert statuses(phone.send(req, 0.4)) == [200]  # the original source still gets its 2xx
    assert edge.names().count("CallInviteReceived") == 1


def test_a_replayed_error_response_goes_only_to_its_source(edge: Edge, phone: Phone) -> None:
    edge.directory.plans.append(Plan("block", "1000", "reject", reject_status=404))
    req = phone.request("INVITE", to_tag="", body=OFFER)
    assert statuses(phone.send(req, 0.0)) == [404]
    assert edge.core.receive(bytes(req), ELSEWHERE, 0.1) == []
    assert statuses(phone.send(req, 0.2)) == [404]


def test_cancel_from_another_source_does_not_cancel() -> None:
    edge = make_edge(ring_s=5.0)
    phone = Phone(edge)
    phone.invite(0.0)
    cancel = phone.request("CANCEL", branch=phone.invite_branch, cseq=phone.invite_cseq, to_tag="")
    out = edge.core.receive(bytes(cancel), ELSEWHERE, 0.5)
    assert statuses(out) == [481] and "CallCancelled" not in edge.names()


def test_challenged_call_takes_its_retry_only_from_the_same_ip() -> None:
    edge = make_edge(default_access="digest_required")
    phone = Phone(edge)
    assert statuses(phone.invite(0.0)) == [401]
    retry = phone.request("INVITE", to_tag="", body=OFFER)
    assert edge.core.receive(bytes(retry), ELSEWHERE, 0.1) == []
    assert statuses(phone.send(retry, 0.2)) == [401]  # same IP: challenged again


# --- what an unproven source is sent ----------------------------------------------------------------------


def test_no_100_trying_before_an_immediate_answer() -> None:
    edge = make_edge(ring_s=2.0)
    assert statuses(Phone(edge).invite(0.0)) == [180]
    assert statuses(Phone(make_edge()).invite(0.0)) == [200]


def test_error_response_to_an_unproven_source_is_not_retransmitted_by_timer(edge: Edge, phone: Phone) -> None:
    edge.directory.plans.append(Plan("block", "1000", "reject", reject_status=404))
    assert statuses(phone.invite(0.0)) == [404]
    assert [e for e in edge.run_timers(100.0) if isinstance(e, Send)] == []
    trunk_edge = make_edge()
    trunk_edge.directory.trunks.append(CARRIER)
    trunk_edge.directory.plans.append(Plan("block", "1000", "reject", reject_status=404))
    Phone(trunk_edge).invite(0.0)
    assert len([e for e in trunk_edge.run_timers(100.0) if isinstance(e, Send)]) == 10  # timer G


def test_hangup_before_an_unproven_callers_ack_sends_no_bye_at_the_ack_timeout(
    edge: Edge, phone: Phone
) -> None:
    phone.invite(0.0)
    edge.core.hangup(edge.call_id, "agent_hangup", 0.1)
    out = edge.run_timers(100.0)
    assert requests(out) == []
    ended = next(r for r in edge.facts() if type(r).__name__ == "CallEnded")
    assert ended.reason == "ack_timeout"


# --- access ------------------------------------------------------------------------------------------------


def test_trunks_only_refuses_others_403_and_takes_trunks() -> None:
    edge = make_edge()
    edge.directory.trunks.append(CARRIER)
    edge.directory.plans.append(Plan("carriers", "1000", "agent", access="trunks_only"))
    out = Phone(edge, Peer("udp", ("198.51.100.7", 5060))).invite(0.0)
    assert statuses(out) == [403]
    rejected = next(r for r in edge.facts() if type(r).__name__ == "CallRejected")
    assert (rejected.reason, rejected.stage) == ("not_a_trunk", "auth")
    assert edge.pool.in_use == 0
    assert statuses(Phone(edge).invite(1.0)) == [200]  # 192.0.2.10 is inside the trunk


def test_digest_required_challenges_all_but_trunks() -> None:
    edge = make_edge()
    edge.directory.plans.append(Plan("secure", "1000", "agent", access="digest_required"))
    assert statuses(Phone(edge, Peer("udp", ("198.51.100.7", 5060))).invite(0.0)) == [401]
    edge.directory.trunks.append(CARRIER)
    assert statuses(Phone(edge).invite(1.0)) == [200]


def test_the_default_access_applies_to_the_default_plan_and_plans_without_one() -> None:
    edge = make_edge(default_access="trunks_only")
    assert statuses(Phone(edge).invite(0.0)) == [403]
    edge.directory.plans.append(Plan("legacy", "2000", "agent", require_auth=True))  # old record
    assert statuses(Phone(edge).invite(1.0, uri="sip:2000@192.0.2.1")) == [401]
    edge.directory.plans.append(Plan("public", "3000", "agent", access="open"))
    assert statuses(Phone(edge).invite(2.0, uri="sip:3000@192.0.2.1")) == [200]


def test_failed_digest_attempts_block_the_source() -> None:
    limits = SourceLimits(auth_fail_limit=3, block_s=60)
    edge = make_edge(default_access="digest_required", source_limits=limits)
    _add_user(edge)
    before = metric("sentiric_sip_sources_blocked_total")
    for attempt in range(3):
        phone = Phone(edge)
        challenge = responses(phone.invite(float(attempt)))[0].header("www-authenticate") or ""
        retry = phone.request("INVITE", to_tag="", body=OFFER)
        auth = _digest(edge, challenge.replace("SHA-256", "MD5"), retry, "alice", f"guess{attempt}")
        headers = [("Authorization", auth)]
        out = phone.send(phone.request("INVITE", to_tag="", body=OFFER, headers=headers), attempt + 0.1)
        assert statuses(out) == [403]
    assert metric("sentiric_sip_sources_blocked_total") - before == 1
    blocked = Phone(edge)
    assert blocked.invite(10.0) == []  # nothing at all: not even a challenge
    assert blocked.send(blocked.request("OPTIONS"), 10.0) == []
    assert statuses(Phone(edge, ELSEWHERE).invite(10.0)) == [401]  # other sources are unaffected
    assert statuses(Phone(edge).invite(71.0)) == [401]  # the block ends


def test_failed_register_attempts_block_the_source_too() -> None:
    edge = make_edge(source_limits=SourceLimits(auth_fail_limit=2))
    _add_user(edge)
    phone = Phone(edge)
    for attempt in range(2):
        req = phone.request("REGISTER", uri="sip:192.0.2.1", headers=[("Expires", "600")])
        challenge = responses(phone.send(req, float(attempt)))[0].get_headers("www-authenticate")[1].value
        retry = phone.request("REGISTER", uri="sip:192.0.2.1", headers=[("Expires", "600")])
        auth = _digest(edge, challenge, retry, "alice", "wrong")
        raw = bytes(retry).replace(b"To: <sip:1000@", b"To: <sip:alice@")
        raw = raw.replace(b"Content-Length: 0", f"Authorization: {auth}\r\nContent-Length: 0".encode())
        assert statuses(phone.send(raw, attempt + 0.5)) == [403]
    assert phone.send(phone.request("REGISTER", uri="sip:192.0.2.1"), 5.0) == []


# --- limits -------------------------------------------------------------------------------------------------


def test_per_source_concurrent_call_cap_503_trunks_exempt() -> None:
    edge = make_edge(max_calls_per_source=2)
    for i in range(2):
        assert statuses(Phone(edge).invite(float(i))) == [200]
    out = Phone(edge).invite(3.0)
    assert statuses(out) == [503] and responses(out)[0].header("retry-after")
    assert edge.facts()[-2].reason == "too_many_calls_from_source"
    assert statuses(Phone(edge, ELSEWHERE).invite(3.1)) == [200]  # another source
    first = Phone(edge)  # a call ending frees its slot
    first.invite(4.0)  # refused (503) itself: that call ended at once
    trunk_edge = make_edge(max_calls_per_source=1)
    trunk_edge.directory.trunks.append(CARRIER)
    assert [statuses(Phone(trunk_edge).invite(float(i))) for i in range(3)] == [[200]] * 3


def test_per_source_cap_slot_comes_back_when_a_call_ends() -> None:
    edge = make_edge(max_calls_per_source=1)
    phone = Phone(edge)
    phone.call(0.0)
    assert statuses(Phone(edge).invite(1.0)) == [503]
    phone.send(phone.request("BYE"), 2.0)
    assert statuses(Phone(edge).invite(3.0)) == [200]


def test_invite_flood_from_one_source_is_dropped_before_parsing() -> None:
    edge = make_edge(source_limits=SourceLimits(invite=Bucket(10, 5)))
    edge.directory.plans.append(Plan("busy", "*", "reject", reject_status=486))  # no ports involved
    before = metric("sentiric_sip_rate_limited_total", method="INVITE")
    answered = sum(1 for _ in range(20) if Phone(edge).invite(0.0))
    assert answered == 5
    assert metric("sentiric_sip_rate_limited_total", method="INVITE") - before == 15
    assert statuses(Phone(edge, ELSEWHERE).invite(0.0)) == [486]
    assert Phone(edge).invite(0.1) != []  # a token is back after 100 ms
    trunk_edge = make_edge(source_limits=SourceLimits(invite=Bucket(10, 5)))
    trunk_edge.directory.plans.append(Plan("busy", "*", "reject", reject_status=486))
    trunk_edge.directory.trunks.append(CARRIER)
    assert sum(1 for _ in range(20) if Phone(trunk_edge).invite(0.0)) == 20  # trunks are exempt


def test_too_many_vias_dropped_over_udp_and_513_over_tcp(edge: Edge) -> None:
    vias = [("Via", f"SIP/2.0/UDP 10.0.0.{i}:5060;branch=z9hG4bKp{i}") for i in range(10)]
    phone = Phone(edge)
    before = metric("sentiric_sip_dropped_total", reason="too_many_via")
    assert phone.send(phone.request("OPTIONS", headers=vias), 0.0) == []
    assert phone.invite(0.0, headers=vias) == []
    tcp = Phone(edge, Peer("tcp", ("192.0.2.10", 40000)))
    assert statuses(tcp.send(tcp.request("OPTIONS", headers=vias), 0.0)) == [513]
    assert metric("sentiric_sip_dropped_total", reason="too_many_via") - before == 3
    assert edge.facts() == []


def test_oversized_udp_request_is_dropped_unanswered(edge: Edge, phone: Phone) -> None:
    big = phone.request("OPTIONS", headers=[("Subject", "x" * 2000), ("Comment", "y" * 2000)])
    assert len(bytes(big)) > 4096
    assert phone.send(big, 0.0) == []
    tcp = Phone(edge, Peer("tcp", ("192.0.2.10", 40000)))
    big_tcp = tcp.request("OPTIONS", headers=[("Subject", "x" * 2000), ("Comment", "y" * 2000)])
    assert statuses(tcp.send(big_tcp, 0.0)) == [200]


def test_responses_never_grow_with_the_request_beyond_its_own_size(edge: Edge, phone: Phone) -> None:
    """With ten Vias and long-but-legal values the 200 OK echoes about what came in, once."""
    vias = [("Via", f"SIP/2.0/UDP 10.0.0.{i}:5060;branch=z9hG4bKp{i}") for i in range(9)]
    req = phone.request("INVITE", to_tag="", body=OFFER, headers=vias)
    out = phone.send(req, 0.0)
    sent = sum(len(e.data) for e in out if isinstance(e, Send))
    assert statuses(out) == [200] and sent < 2 * len(bytes(req))
    again = make_response(req, 200)  # the phone's own answer shape, for the ACK
    assert again.status == 200


def test_behind_digest_a_rejected_number_looks_like_any_other() -> None:
    """svwar tells extensions apart by their answers: behind digest every number gets the same 401."""
    edge = make_edge(default_access="digest_required")
    edge.directory.plans.append(Plan("nobody", "9*", "reject", reject_status=404))
    a = responses(Phone(edge).invite(0.0, uri="sip:9001@192.0.2.1"))
    b = responses(Phone(edge).invite(0.0, uri="sip:1000@192.0.2.1"))
    assert [r.status for r in a] == [r.status for r in b] == [401]
    open_edge = make_edge()
    open_edge.directory.plans.append(Plan("nobody", "9*", "reject", reject_status=404))
    assert statuses(Phone(open_edge).invite(0.0, uri="sip:9001@192.0.2.1")) == [404]  # open: no secret
