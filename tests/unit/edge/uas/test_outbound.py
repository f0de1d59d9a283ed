"""Outgoing calls through the UAS core: OriginateCall → INVITE → an established call, and the
dispositions of the attempts that are not answered (a scripted callee over bytes)."""

import uuid
from datetime import UTC, datetime
from typing import Any

from edge.sip.builders import make_request, make_response
from edge.sip.message import SipRequest
from edge.uas.access import Trunk
from edge.uas.call import OpenMedia, Peer
from schemas import models
from tests.support.uas_harness import Edge, make_edge, requests

CALLEE = Peer("udp", ("192.0.2.20", 5080))
ANSWER_SDP = (
    b"v=0\r\no=callee 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n"
    b"m=audio 41000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def originate(call_id: str = "11111111-0000-4000-8000-000000000001", **kw: Any) -> models.OriginateCall:
    fields: dict[str, Any] = dict(
        event_id=uuid.uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC), source="api",
        trace_id="t", to_uri="sip:1000@192.0.2.20:5080", to="sip:1000@192.0.2.20:5080", ring_timeout_s=10,
    )  # fmt: skip
    fields.update(kw)
    return models.OriginateCall(**fields)


def start(edge: Edge, cmd: models.OriginateCall, now: float = 0.0) -> SipRequest:
    (invite,) = requests(edge.core.originate(cmd, now))
    return invite


def reply(edge: Edge, invite: SipRequest, status: int, now: float, **kw: Any) -> list[Any]:
    resp = make_response(invite, status, to_tag="callee", **kw)
    return edge.core.receive(bytes(resp), CALLEE, now)


def test_answered_outbound_call_records_inbound_like_facts_and_opens_media() -> None:
    edge = make_edge()
    cmd = originate(language="tr-TR", knowledge=["hours", "refunds"])
    invite = start(edge, cmd)
    assert invite.uri == "sip:1000@192.0.2.20:5080" and invite.content_type == "application/sdp"
    assert b"m=audio 3000" in invite.body  # our offer names the allocated port
    reply(edge, invite, 180, 0.1)
    out = reply(
        edge, invite, 200, 0.5, headers=[("Contact", "<sip:1000@192.0.2.20:5080>")],
        body=ANSWER_SDP, content_type="application/sdp",
    )  # fmt: skip
    assert [r.method for r in requests(out)] == ["ACK"]
    (media,) = [e for e in out if isinstance(e, OpenMedia)]
    assert media.options.remote_addr == ("192.0.2.20", 41000)
    names = edge.names(cmd.call_id)
    assert names == [
        "CallInviteReceived", "DialplanResolved", "MediaPortAllocated", "CallAnswered", "CallEstablished",
    ]  # fmt: skip
    invited, resolved = edge.facts(cmd.call_id)[:2]
    assert invited.direction == "outbound" and invited.callee == "1000"
    assert resolved.action == "agent" and resolved.language == "tr-TR"
    assert resolved.knowledge == ("hours", "refunds")  # the request's knowledge entries, for the agent
    # the callee hangs up: an ordinary in-dialog BYE, CallEnded(disposition=answered)
    bye = make_request(
        "BYE", "sip:192.0.2.1:5060", via="SIP/2.0/UDP 192.0.2.20:5080;branch=z9hG4bKb1",
        from_="<sip:1000@192.0.2.20:5080>;tag=callee", to=invite.header("from") or "",
        call_id=invite.call_id, cseq=1,
    )  # fmt: skip
    out = edge.core.receive(bytes(bye), CALLEE, 5.0)
    ended = [f for f in edge.facts(cmd.call_id) if type(f).__name__ == "CallEnded"]
    assert len(ended) == 1 and ended[0].disposition == "answered" and ended[0].hangup_by == "caller"
    plain = make_edge()
    start(plain, originate())
    assert plain.facts(cmd.call_id)[1].knowledge == ()  # none named: every entry


def test_busy_and_failed_dispositions() -> None:
    for status, disposition in ((486, "busy"), (600, "busy"), (404, "failed"), (503, "failed")):
        edge = make_edge()
        cmd = originate()
        invite = start(edge, cmd)
        out = reply(edge, invite, status, 0.2)
        assert [r.method for r in requests(out)] == ["ACK"]
        facts = {type(f).__name__: f for f in edge.facts(cmd.call_id)}
        assert facts["CallRejected"].reason == disposition and facts["CallRejected"].stage == "outbound"
        assert facts["CallEnded"].disposition == disposition and facts["CallEnded"].sip_status == status
        assert "MediaPortReleased" in facts  # the port is back


def test_ring_timeout_cancels_and_is_no_answer_with_early_media_noted() -> None:
    edge = make_edge()
    cmd = originate(ring_timeout_s=5)
    invite = start(edge, cmd)
    reply(edge, invite, 183, 0.1, body=ANSWER_SDP, content_type="application/sdp")
    out = edge.run_timers(5.0)
    (cancel,) = [r for r in requests(out) if r.method == "CANCEL"]
    assert cancel.top_via.branch == invite.top_via.branch
    edge.core.receive(bytes(make_response(cancel, 200)), CALLEE, 5.1)
    out = reply(edge, invite, 487, 5.2)
    assert [r.method for r in requests(out)] == ["ACK"]
    facts = {type(f).__name__: f for f in edge.facts(cmd.call_id)}
    assert facts["CallEnded"].disposition == "no_answer" and facts["CallEnded"].early_media


def test_hangup_command_while_ringing_cancels() -> None:
    edge = make_edge()
    cmd = originate()
    invite = start(edge, cmd)
    reply(edge, invite, 180, 0.1)
    assert [r.method for r in requests(edge.core.hangup(cmd.call_id, "operator", 1.0))] == ["CANCEL"]
    reply(edge, invite, 487, 1.2)
    facts = {type(f).__name__: f for f in edge.facts(cmd.call_id)}
    assert facts["CallEnded"].disposition == "cancelled"


def test_bad_target_and_unknown_trunk_are_failed_without_sending() -> None:
    for kw in ({"to_uri": "sip:1000@pbx.example.com"}, {"to_uri": "mailto:x"}, {"trunk_id": "nope"}):
        edge = make_edge()
        cmd = originate(**kw)
        out = edge.core.originate(cmd, 0.0)
        assert requests(out) == []
        facts = {type(f).__name__: f for f in edge.facts(cmd.call_id)}
        assert facts["CallEnded"].disposition == "failed"


def test_trunk_cap_and_rate_limit_refuse_with_failed() -> None:
    edge = make_edge(media_timeout_s=0.0)  # no RTP in this test: the answered call must not time out
    edge.directory.trunks.append(
        Trunk("t1", "carrier", (), outbound_address="192.0.2.20:5080", outbound_max_calls=1)
    )
    first = originate("11111111-0000-4000-8000-00000000000a", trunk_id="t1")
    assert len(requests(edge.core.originate(first, 0.0))) == 1
    first_invite = edge.core.table.get(first.call_id).invite  # type: ignore[union-attr]
    reply(edge, first_invite, 200, 0.05, headers=[("Contact", "<sip:1000@192.0.2.20:5080>")], body=ANSWER_SDP,
          content_type="application/sdp")  # fmt: skip
    edge.run_timers(60.0)  # long after the answered attempt's UAC is gone: the call still counts
    second = originate("11111111-0000-4000-8000-00000000000b", trunk_id="t1")
    assert requests(edge.core.originate(second, 60.1)) == []
    rejected = [f for f in edge.facts(second.call_id) if type(f).__name__ == "CallRejected"]
    assert rejected and rejected[0].reason == "failed"
    edge = make_edge()
    edge.directory.trunks.append(Trunk("t2", "carrier", (), outbound_calls_per_second=1.0))
    sent = [
        len(
            requests(
                edge.core.originate(originate(f"11111111-0000-4000-8000-00000000010{i}", trunk_id="t2"), 0.0)
            )
        )
        for i in range(3)
    ]
    assert sent == [1, 0, 0]


def test_401_from_trunk_is_answered_with_its_credentials() -> None:
    edge = make_edge()
    edge.directory.trunks.append(Trunk("t1", "carrier", (), outbound_username="acct", outbound_password="pw"))
    cmd = originate(trunk_id="t1")
    invite = start(edge, cmd)
    out = reply(
        edge, invite, 401, 0.1, headers=[("WWW-Authenticate", 'Digest realm="c", nonce="n1", qop="auth"')]
    )
    ack, retry = requests(out)
    assert (
        ack.method == "ACK"
        and retry.method == "INVITE"
        and 'username="acct"' in (retry.header("authorization") or "")
    )


def test_duplicate_command_is_ignored() -> None:
    edge = make_edge()
    cmd = originate()
    start(edge, cmd)
    assert edge.core.originate(cmd, 0.1) == []


def test_hostile_responses_to_an_outbound_call_never_crash_the_core() -> None:
    edge = make_edge()
    cmd = originate()
    invite = start(edge, cmd)
    good = bytes(make_response(invite, 180, to_tag="callee"))
    for bad in (
        good.replace(b"CSeq: 1 INVITE", b"CSeq: x INVITE"),
        good.replace(b"Via:", b"X-Via:"),
        good.replace(b"SIP/2.0 180", b"SIP/2.0 999"),
        good[: len(good) // 2],
        b"SIP/2.0 200 OK\r\n\r\n",
    ):
        edge.core.receive(bad, CALLEE, 0.1)
    # the call is still ringing and still ends properly
    out = reply(edge, invite, 486, 0.2)
    assert [r.method for r in requests(out)] == ["ACK"]
    assert edge.facts(cmd.call_id)[-1].__class__.__name__ == "MediaPortReleased"


def test_a_response_from_another_host_is_dropped() -> None:
    edge = make_edge()
    cmd = originate()
    invite = start(edge, cmd)
    forged = make_response(invite, 486, to_tag="x")
    assert edge.core.receive(bytes(forged), Peer("udp", ("198.51.100.9", 5080)), 0.1) == []
    assert "CallRejected" not in edge.names(cmd.call_id)


def sent_to(effects: list[Any]) -> list[Peer]:
    return [e.addr for e in effects if type(e).__name__ == "Send"]


def test_a_tcp_target_is_invited_over_tcp_without_retransmissions() -> None:
    edge = make_edge()
    cmd = originate(to_uri="sip:1000@192.0.2.20:5080;transport=tcp")
    out = edge.core.originate(cmd, 0.0)
    (invite,) = requests(out)
    assert sent_to(out) == [Peer("tcp", ("192.0.2.20", 5080))]
    assert invite.top_via.transport == "TCP"
    assert (invite.header("contact") or "").endswith(";transport=tcp>")
    assert requests(edge.run_timers(0.6)) == [] and requests(edge.run_timers(2.0)) == []  # no timer A
    (invited,) = [f for f in edge.facts(cmd.call_id) if type(f).__name__ == "CallInviteReceived"]
    assert invited.transport == "tcp" and invited.remote_addr == "192.0.2.20:5080"
    ok = make_response(
        invite, 200, to_tag="callee", headers=[("Contact", "<sip:1000@192.0.2.20:5080;transport=tcp>")],
        body=ANSWER_SDP, content_type="application/sdp",
    )  # fmt: skip
    out = edge.core.receive(bytes(ok), Peer("tcp", ("192.0.2.20", 5080)), 0.5)
    (ack,) = requests(out)
    assert ack.method == "ACK" and ack.top_via.transport == "TCP"
    assert sent_to(out) == [Peer("tcp", ("192.0.2.20", 5080))]


def test_a_udp_target_is_retransmitted_until_a_response() -> None:
    edge = make_edge()
    cmd = originate()
    start(edge, cmd)
    assert [r.method for r in requests(edge.run_timers(0.6))] == ["INVITE"]  # timer A: T1 = 500 ms


def test_a_sips_target_goes_over_tls_to_5061_only_with_tls_settings() -> None:
    edge = make_edge(tls_port=5061)
    cmd = originate(to_uri="sips:1000@192.0.2.20")
    out = edge.core.originate(cmd, 0.0)
    (invite,) = requests(out)
    assert sent_to(out) == [Peer("tls", ("192.0.2.20", 5061))]
    assert invite.top_via.transport == "TLS" and invite.top_via.port == 5061
    without = make_edge()
    for uri in (
        "sips:1000@192.0.2.20",
        "sip:1000@192.0.2.20;transport=tls",
        "sip:1000@192.0.2.20;transport=sctp",
    ):
        cmd = originate(to_uri=uri)
        assert requests(without.core.originate(cmd, 0.0)) == []
        facts = {type(f).__name__: f for f in without.facts(cmd.call_id)}
        assert facts["CallEnded"].disposition == "failed", uri
