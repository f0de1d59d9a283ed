"""The edge's own transfer (B2BUA) through the UAS core: a refused REFER → the edge calls the target,
ringback, answer → the media joined; busy / no answer → failed; either side's BYE ends the other."""

from __future__ import annotations

from typing import Any

from edge.sip.builders import make_request, make_response
from edge.sip.message import SipRequest
from edge.uas.call import JoinMedia, OpenMedia, Peer, Ringback
from edge.uas.dialplan import Plan
from tests.support.uas_harness import Edge, Phone, make_edge, requests, statuses

TARGET = "sip:human@192.0.2.50:5070"
HUMAN = Peer("udp", ("192.0.2.50", 5070))
ANSWER_SDP = (
    b"v=0\r\no=human 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
    b"m=audio 42000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def refused(edge: Edge, phone: Phone, now: float = 1.0) -> tuple[str, SipRequest, list[Any]]:
    """An established call whose REFER the phone refuses (603): returns the call, the leg's INVITE."""
    call_id = phone.call()
    (refer,) = requests(edge.core.transfer(call_id, TARGET, now))
    out = phone.answer(refer, 603, now + 0.1)
    invites = [r for r in requests(out) if r.method == "INVITE"]
    assert len(invites) == 1, out
    return call_id, invites[0], out


def transferred(edge: Edge, call_id: str) -> list[tuple[str, int | None]]:
    return [(f.status, f.sip_status) for f in edge.facts(call_id) if type(f).__name__ == "CallTransferred"]


def human_reply(edge: Edge, invite: SipRequest, status: int, now: float, **kw: Any) -> list[Any]:
    return edge.core.receive(bytes(make_response(invite, status, to_tag="human", **kw)), HUMAN, now)


def answer(edge: Edge, invite: SipRequest, now: float) -> list[Any]:
    human_reply(edge, invite, 180, now - 0.5)
    return human_reply(
        edge, invite, 200, now, headers=[("Contact", f"<{TARGET}>")], body=ANSWER_SDP,
        content_type="application/sdp",
    )  # fmt: skip


def test_a_refused_refer_makes_the_edge_call_the_target_and_bridge_on_answer() -> None:
    edge = make_edge()
    phone = Phone(edge)
    call_id, invite, out = refused(edge, phone)
    assert invite.uri == TARGET and b"m=audio" in invite.body
    assert Ringback(call_id, on=True) in out
    (bridging,) = [f for f in edge.facts(call_id) if getattr(f, "status", None) == "bridging"]
    leg_id = bridging.leg_call_id
    assert bridging.sip_status == 603 and leg_id and leg_id != call_id
    leg = edge.facts(leg_id)
    assert (leg[0].direction, leg[1].action) == ("outbound", "bridge")  # no agent on the leg
    assert leg[0].caller == "alice"  # the target sees who calls
    out = answer(edge, invite, 3.0)
    assert [r.method for r in requests(out)] == ["ACK"]
    assert any(isinstance(e, OpenMedia) and e.call_id == leg_id for e in out)
    assert out[-1] == JoinMedia(call_id, leg_id)
    assert transferred(edge, call_id) == [("requested", None), ("bridging", 603), ("bridged", 200)]
    # the target hangs up: the caller is BYEd too
    leg_call = edge.core.calls[leg_id]
    assert leg_call.dialog is not None
    req = make_request(
        "BYE", "sip:192.0.2.1:5060", via="SIP/2.0/UDP 192.0.2.50:5070;branch=z9hG4bKbye1",
        from_=f"<{TARGET}>;tag=human", to=f"<{leg_call.dialog.local_uri}>;tag={leg_call.dialog.local_tag}",
        call_id=invite.call_id, cseq=1,
    )  # fmt: skip
    out = edge.core.receive(bytes(req), HUMAN, 10.0)
    assert statuses(out) == [200]
    assert [r.method for r in requests(out)] == ["BYE"]  # towards the caller
    (ended,) = [f for f in edge.facts(call_id) if type(f).__name__ == "CallEnded"]
    assert (ended.reason, ended.hangup_by) == ("transferred", "callee")


def test_a_busy_target_hands_the_caller_back() -> None:
    edge = make_edge()
    phone = Phone(edge)
    call_id, invite, _ = refused(edge, phone)
    out = human_reply(edge, invite, 486, 2.0)
    assert [r.method for r in requests(out)] == ["ACK"]
    assert Ringback(call_id, on=False) in out
    leg_id = next(f for f in edge.facts(call_id) if getattr(f, "status", None) == "bridging").leg_call_id
    assert transferred(edge, call_id) == [("requested", None), ("bridging", 603), ("failed", 486)]
    assert edge.core.calls[call_id].live  # the caller stays, with the agent
    assert "CallEnded" in edge.names(leg_id)


def test_no_answer_within_the_ring_time_hands_the_caller_back() -> None:
    edge = make_edge(transfer_ring_s=5.0)
    phone = Phone(edge)
    call_id, invite, _ = refused(edge, phone)
    human_reply(edge, invite, 180, 1.5)
    out = edge.run_timers(6.6)
    assert {r.method for r in requests(out)} == {"CANCEL"}  # and its retransmission
    human_reply(edge, invite, 487, 6.7)  # the INVITE, cancelled
    assert transferred(edge, call_id)[-1] == ("failed", 408)
    assert edge.core.calls[call_id].live


def test_the_callers_bye_cancels_a_ringing_target_and_byes_an_answered_one() -> None:
    edge = make_edge()
    phone = Phone(edge)
    _, invite, _ = refused(edge, phone)
    out = phone.send(phone.request("BYE"), 2.0)
    assert statuses(out) == [200] and not requests(out)  # no CANCEL before a provisional (§9.1)
    out = human_reply(edge, invite, 180, 2.1)
    assert [r.method for r in requests(out)] == ["CANCEL"]
    edge2 = make_edge()
    phone2 = Phone(edge2)
    _, invite2, _ = refused(edge2, phone2)
    answer(edge2, invite2, 3.0)
    out = phone2.send(phone2.request("BYE"), 5.0)
    (bye,) = [r for r in requests(out) if r.method == "BYE"]
    assert bye.uri == TARGET and bye.call_id == invite2.call_id


def test_without_bridging_a_refused_refer_fails_as_before() -> None:
    edge = make_edge(transfer_ring_s=0.0)
    phone = Phone(edge)
    call_id = phone.call()
    (refer,) = requests(edge.core.transfer(call_id, TARGET, 1.0))
    out = phone.answer(refer, 603, 1.1)
    assert not requests(out)
    assert transferred(edge, call_id) == [("requested", None), ("failed", 603)]


def test_a_dialplan_in_bridge_mode_calls_the_target_without_refer() -> None:
    edge = make_edge()
    edge.directory.plans = [Plan("p", "*", "agent", target=TARGET, transfer_mode="bridge")]
    phone = Phone(edge)
    call_id = phone.call()
    out = edge.core.transfer(call_id, TARGET, 1.0)
    assert [r.method for r in requests(out)] == ["INVITE"]
    assert [s for s, _ in transferred(edge, call_id)] == ["requested", "bridging"]


def test_an_unreachable_target_fails_at_once() -> None:
    edge = make_edge()
    phone = Phone(edge)
    call_id = phone.call()
    (refer,) = requests(edge.core.transfer(call_id, "sip:human@example.com", 1.0))
    phone.answer(refer, 603, 1.1)
    assert [s for s, _ in transferred(edge, call_id)] == ["requested", "bridging", "failed"]


def test_a_notify_reporting_a_failed_new_call_makes_the_edge_bridge_too() -> None:
    edge = make_edge()
    phone = Phone(edge)
    call_id = phone.call()
    (refer,) = requests(edge.core.transfer(call_id, TARGET, 1.0))
    phone.answer(refer, 202, 1.1)
    notify = phone.request(
        "NOTIFY", body=b"SIP/2.0 503 Service Unavailable\r\n", content_type="message/sipfrag",
        headers=[("Event", "refer"), ("Subscription-State", "terminated")],
    )  # fmt: skip
    out = phone.send(notify, 2.0)
    assert statuses(out) == [200] and [r.method for r in requests(out)] == ["INVITE"]
    assert transferred(edge, call_id) == [("requested", None), ("accepted", 202), ("bridging", 503)]


def test_a_target_answering_with_unusable_sdp_is_hung_up_and_the_caller_taken_back() -> None:
    edge = make_edge()
    phone = Phone(edge)
    call_id, invite, _ = refused(edge, phone)
    out = human_reply(
        edge, invite, 200, 2.0, headers=[("Contact", f"<{TARGET}>")], body=b"v=0\r\nnot sdp\r\n",
        content_type="application/sdp",
    )  # fmt: skip
    assert [r.method for r in requests(out)] == ["ACK", "BYE"]
    assert not any(isinstance(e, JoinMedia) for e in out)
    assert transferred(edge, call_id)[-1][0] == "failed"
    assert edge.core.calls[call_id].live


def test_the_dialplan_ring_time_overrides_the_edges() -> None:
    edge = make_edge(transfer_ring_s=30.0)
    edge.directory.plans = [
        Plan("p", "*", "agent", target=TARGET, transfer_mode="bridge", transfer_ring_s=2.0)
    ]
    phone = Phone(edge)
    call_id = phone.call()
    (invite,) = [r for r in requests(edge.core.transfer(call_id, TARGET, 1.0)) if r.method == "INVITE"]
    human_reply(edge, invite, 180, 1.5)
    out = edge.run_timers(3.1)  # 2 s after the INVITE, not the edge's 30
    assert "CANCEL" in {r.method for r in requests(out)}
    human_reply(edge, invite, 487, 3.2)
    assert transferred(edge, call_id)[-1] == ("failed", 408)


def attended(
    edge: Edge, phone: Phone, brief: str | None = "wants to change a booking"
) -> tuple[str, SipRequest]:
    call_id = phone.call()
    out = edge.core.transfer(call_id, TARGET, 1.0, "attended", brief)
    (invite,) = [r for r in requests(out) if r.method == "INVITE"]  # no REFER: the edge calls the person
    assert Ringback(call_id, on=True) in out  # the caller holds
    return call_id, invite


def leg_bye(edge: Edge, invite: SipRequest, leg_id: str, now: float) -> list[Any]:
    dialog = edge.core.calls[leg_id].dialog
    assert dialog is not None
    req = make_request(
        "BYE", "sip:192.0.2.1:5060", via="SIP/2.0/UDP 192.0.2.50:5070;branch=z9hG4bKbyeA",
        from_=f"<{TARGET}>;tag=human", to=f"<{dialog.local_uri}>;tag={dialog.local_tag}",
        call_id=invite.call_id, cseq=1,
    )  # fmt: skip
    return edge.core.receive(bytes(req), HUMAN, now)


def test_an_attended_transfer_briefs_the_person_then_joins_the_calls() -> None:
    from edge.uas.call import BriefTarget

    edge = make_edge()
    phone = Phone(edge)
    call_id, invite = attended(edge, phone)
    out = answer(edge, invite, 3.0)
    (brief,) = [e for e in out if isinstance(e, BriefTarget)]
    leg_id = brief.leg_call_id
    assert brief.call_id == call_id and brief.text == "Transferring alice: wants to change a booking."
    assert not any(isinstance(e, JoinMedia) for e in out)  # not before the person heard the brief
    assert transferred(edge, call_id) == [("requested", None), ("bridging", None), ("briefing", 200)]
    out = edge.core.briefed(leg_id, 6.0)
    assert out == [JoinMedia(call_id, leg_id)]
    assert transferred(edge, call_id)[-1] == ("bridged", 200)
    assert edge.core.briefed(leg_id, 6.5) == []  # once


def test_the_person_hanging_up_during_the_brief_hands_the_caller_back() -> None:
    edge = make_edge()
    phone = Phone(edge)
    call_id, invite = attended(edge, phone, brief=None)
    out = answer(edge, invite, 3.0)
    (brief,) = [e for e in out if type(e).__name__ == "BriefTarget"]
    assert brief.text == "Transferring alice: a caller asked to speak to a person."
    out = leg_bye(edge, invite, brief.leg_call_id, 4.0)
    assert statuses(out) == [200] and not [r for r in requests(out) if r.method == "BYE"]
    assert Ringback(call_id, on=False) in out
    assert transferred(edge, call_id)[-1] == ("failed", 603)
    assert edge.core.calls[call_id].live  # back to the agent
    assert edge.core.briefed(brief.leg_call_id, 5.0) == []  # a brief finishing late joins nothing


def test_an_attended_transfer_to_a_busy_person_fails_like_a_bridge() -> None:
    edge = make_edge()
    phone = Phone(edge)
    call_id, invite = attended(edge, phone)
    human_reply(edge, invite, 486, 2.0)
    assert transferred(edge, call_id)[-1] == ("failed", 486)
    assert edge.core.calls[call_id].live


def test_the_callers_bye_during_the_brief_byes_the_person() -> None:
    edge = make_edge()
    phone = Phone(edge)
    _, invite = attended(edge, phone)
    answer(edge, invite, 3.0)
    out = phone.send(phone.request("BYE"), 4.0)
    (bye,) = [r for r in requests(out) if r.method == "BYE"]
    assert bye.call_id == invite.call_id


def test_a_dialplan_in_attended_mode_briefs_with_a_known_callers_name() -> None:
    import uuid
    from datetime import UTC, datetime

    from schemas import models as m

    edge = make_edge()
    edge.directory.plans = [Plan("p", "*", "agent", target=TARGET, transfer_mode="attended")]
    contact = m.Contact(
        event_id=uuid.uuid4(), entity_id="c1", occurred_at=datetime.now(UTC), source="t", trace_id="t",
        name="Alice Smith", numbers=["alice"],
    )  # fmt: skip
    edge.directory.callers.apply("contact", "c1", contact)
    phone = Phone(edge)
    call_id = phone.call()
    (invite,) = [r for r in requests(edge.core.transfer(call_id, TARGET, 1.0)) if r.method == "INVITE"]
    out = answer(edge, invite, 3.0)
    (brief,) = [e for e in out if type(e).__name__ == "BriefTarget"]
    assert brief.text.startswith("Transferring Alice Smith: ")


def test_a_long_or_multiline_brief_is_one_short_line() -> None:
    edge = make_edge()
    phone = Phone(edge)
    _, invite = attended(edge, phone, brief="line one\nline two  " + "x" * 1000)
    (brief,) = [e for e in answer(edge, invite, 3.0) if type(e).__name__ == "BriefTarget"]
    assert brief.text.startswith("Transferring alice: line one line two x") and len(brief.text) == 300
