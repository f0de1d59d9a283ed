"""The UAC core over bytes: answer, busy, ring timeout → CANCEL, auth retry, BYE both ways."""

from edge.sip.builders import make_request, make_response
from edge.sip.digest import AuthResult, DigestAuthenticator
from edge.sip.message import SipRequest, SipResponse
from edge.sip.transaction import Send
from edge.uac.call import Answered, CallSpec, Ended, HungUp, OutboundCall, Output, Progress
from edge.uac.credentials import Credentials
from edge.uac.disposition import Disposition

PEER = ("127.0.0.1", 5080)
SDP_ANSWER = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
)


def spec(**kw: object) -> CallSpec:
    base: dict[str, object] = dict(
        target="sip:1000@127.0.0.1:5080", from_uri="sip:sentiric@127.0.0.1", via_host="127.0.0.1",
        via_port=5060, contact="sip:edge@127.0.0.1:5060", sdp=b"v=0\r\n", ring_timeout=10.0,
    )  # fmt: skip
    base.update(kw)
    return CallSpec(**base)  # type: ignore[arg-type]


def sent(out: list[Output]) -> list[SipRequest]:
    return [SipRequest.parse(a.data) for a in out if isinstance(a, Send)]


def events(out: list[Output]) -> list[object]:
    return [a for a in out if not isinstance(a, Send)]


def reply(req: SipRequest, status: int, **kw: object) -> SipResponse:
    return make_response(req, status, to_tag="callee", **kw)  # type: ignore[arg-type]


def answer(req: SipRequest) -> SipResponse:
    return reply(
        req, 200,
        headers=[("Contact", "<sip:1000@127.0.0.1:5080>"), ("Record-Route", "<sip:p2;lr>, <sip:p1;lr>")],
        body=SDP_ANSWER, content_type="application/sdp",
    )  # fmt: skip


def test_answered_call_acks_2xx_in_dialog_and_hangs_up_with_bye() -> None:
    call = OutboundCall(spec(), PEER)
    (invite,) = sent(call.start(0.0))
    assert invite.method == "INVITE" and invite.uri == "sip:1000@127.0.0.1:5080"
    assert invite.body == b"v=0\r\n" and invite.content_type == "application/sdp"
    assert events(call.receive_response(reply(invite, 100), 0.01)) == []
    assert events(call.receive_response(reply(invite, 180), 0.02)) == [Progress(180, None)]
    out = call.receive_response(answer(invite), 0.5)
    (ack,) = sent(out)
    (ans,) = events(out)
    assert isinstance(ans, Answered) and ans.sdp == SDP_ANSWER
    assert ack.method == "ACK" and ack.uri == "sip:1000@127.0.0.1:5080"  # remote target = Contact
    assert ack.cseq.seq == 1 and ack.top_via.branch != invite.top_via.branch  # own transaction
    assert ack.header_values("route") == ["<sip:p1;lr>", "<sip:p2;lr>"]  # Record-Route reversed
    # the 2xx again (our ACK lost): the same ACK again
    assert call.receive_response(answer(invite), 1.0) == [Send(bytes(ack), PEER)]
    out = call.hangup(5.0)
    (bye,) = sent(out)
    assert bye.method == "BYE" and bye.cseq.seq == 2 and bye.to_addr.tag == "callee"
    assert events(out) == [HungUp("local", "hangup")]
    call.receive_response(make_response(bye, 200), 5.1)
    call.on_timer(20.0)
    assert call.finished


def test_remote_bye_is_answered_200_and_reported() -> None:
    call = OutboundCall(spec(), PEER)
    (invite,) = sent(call.start(0.0))
    call.receive_response(answer(invite), 0.1)
    bye = make_request(
        "BYE", "sip:edge@127.0.0.1:5060", via="SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKbye",
        from_="<sip:1000@127.0.0.1:5080>;tag=callee", to=f"<sip:sentiric@127.0.0.1>;tag={call.from_tag}",
        call_id=call.call_id, cseq=1,
    )  # fmt: skip
    out = call.receive_request(bye, 3.0)
    assert [SipResponse.parse(a.data).status for a in out if isinstance(a, Send)] == [200]
    assert events(out) == [HungUp("remote", "BYE")]
    assert call.finished


def test_busy_486_and_600_are_busy_and_acked() -> None:
    for status in (486, 600):
        call = OutboundCall(spec(), PEER)
        (invite,) = sent(call.start(0.0))
        out = call.receive_response(reply(invite, status), 0.1)
        (ack,) = sent(out)
        assert ack.method == "ACK" and ack.top_via.branch == invite.top_via.branch
        (ended,) = events(out)
        assert isinstance(ended, Ended) and ended.disposition is Disposition.BUSY and ended.status == status


def test_other_failures_are_failed() -> None:
    call = OutboundCall(spec(), PEER)
    (invite,) = sent(call.start(0.0))
    (ended,) = events(call.receive_response(reply(invite, 404), 0.1))
    assert ended == Ended(Disposition.FAILED, 404, "Not Found")


def test_ring_timeout_sends_cancel_and_487_is_no_answer() -> None:
    call = OutboundCall(spec(ring_timeout=10.0), PEER)
    (invite,) = sent(call.start(0.0))
    call.receive_response(reply(invite, 180), 0.1)
    assert call.next_deadline is not None and call.next_deadline <= 10.0
    (cancel,) = sent(call.on_timer(10.0))
    assert cancel.method == "CANCEL" and cancel.uri == invite.uri
    assert cancel.top_via.branch == invite.top_via.branch and cancel.cseq.seq == 1
    assert cancel.to_addr.tag is None
    assert events(call.receive_response(make_response(cancel, 200), 10.1)) == []
    out = call.receive_response(reply(invite, 487), 10.2)
    assert [r.method for r in sent(out)] == ["ACK"]
    assert events(out) == [Ended(Disposition.NO_ANSWER, 487, "Request Terminated")]


def test_ring_timeout_before_any_provisional_waits_for_one_then_cancels() -> None:
    call = OutboundCall(spec(ring_timeout=1.0), PEER)
    (invite,) = sent(call.start(0.0))
    assert [r.method for r in sent(call.on_timer(1.0))] == ["INVITE"]  # timer A only, no CANCEL yet (§9.1)
    out = call.receive_response(reply(invite, 180), 1.2)
    assert [r.method for r in sent(out)] == ["CANCEL"]


def test_cancel_never_answered_ends_after_64_t1() -> None:
    call = OutboundCall(spec(ring_timeout=1.0), PEER)
    (invite,) = sent(call.start(0.0))
    call.receive_response(reply(invite, 180), 0.1)
    call.on_timer(1.0)
    out: list[Output] = []
    while not call.finished and (deadline := call.next_deadline) is not None:
        out += call.on_timer(deadline)
        if any(isinstance(e, Ended) for e in out):
            break
    assert Ended(Disposition.NO_ANSWER, None, "no final response to CANCEL") in out


def test_2xx_crossing_cancel_is_acked_then_byed() -> None:
    call = OutboundCall(spec(), PEER)
    (invite,) = sent(call.start(0.0))
    call.receive_response(reply(invite, 180), 0.1)
    call.hangup(0.2)
    out = call.receive_response(answer(invite), 0.3)
    assert [r.method for r in sent(out)] == ["ACK", "BYE"]
    assert events(out) == [Ended(Disposition.CANCELLED, 200, "answered after CANCEL")]


def test_183_with_sdp_is_early_media() -> None:
    call = OutboundCall(spec(), PEER)
    (invite,) = sent(call.start(0.0))
    (progress,) = events(
        call.receive_response(reply(invite, 183, body=SDP_ANSWER, content_type="application/sdp"), 0.1)
    )
    assert isinstance(progress, Progress) and progress.early_media and call.early_media


def test_timer_b_without_any_response_is_failed_408() -> None:
    call = OutboundCall(spec(ring_timeout=100.0), PEER)
    call.start(0.0)
    out: list[Output] = []
    while (deadline := call.next_deadline) is not None and deadline <= 32.0:
        out += call.on_timer(deadline)
    assert Ended(Disposition.FAILED, 408, "no response (timer B)") in events(out)


def test_401_is_retried_with_credentials_that_verify() -> None:
    auth = DigestAuthenticator("trunk", b"k" * 32)
    call = OutboundCall(spec(credentials=Credentials("u", "pw")), PEER)
    (invite,) = sent(call.start(0.0))
    challenge = reply(invite, 401, headers=[("WWW-Authenticate", c) for c in auth.challenges(0.0)])
    out = call.receive_response(challenge, 0.1)
    ack, retry = sent(out)
    assert ack.method == "ACK" and retry.method == "INVITE"
    assert retry.cseq.seq == 2 and retry.call_id == invite.call_id
    assert retry.from_addr.tag == invite.from_addr.tag and retry.top_via.branch != invite.top_via.branch
    creds = retry.header("authorization")
    assert creds is not None and auth.verify(creds, method="INVITE", now=0.2, password="pw") is AuthResult.OK
    assert retry.body == invite.body
    (ans,) = events(call.receive_response(answer(retry), 0.3))
    assert isinstance(ans, Answered)


def test_second_401_with_fresh_nonce_means_wrong_credentials_failed() -> None:
    auth = DigestAuthenticator("trunk", b"k" * 32)
    call = OutboundCall(spec(credentials=Credentials("u", "bad")), PEER)
    (invite,) = sent(call.start(0.0))
    call.receive_response(reply(invite, 401, headers=[("WWW-Authenticate", auth.challenges(0.0)[0])]), 0.1)
    retry = call.invite
    out = call.receive_response(
        reply(retry, 401, headers=[("WWW-Authenticate", auth.challenges(1.0)[0])]), 0.2
    )
    assert events(out) == [Ended(Disposition.FAILED, 401, "Unauthorized")]


def test_401_without_credentials_is_failed() -> None:
    call = OutboundCall(spec(), PEER)
    (invite,) = sent(call.start(0.0))
    (ended,) = events(
        call.receive_response(
            reply(invite, 407, headers=[("Proxy-Authenticate", 'Digest realm="r", nonce="n"')]), 0.1
        )
    )
    assert isinstance(ended, Ended) and ended.disposition is Disposition.FAILED


def test_in_dialog_request_from_a_stranger_gets_481() -> None:
    call = OutboundCall(spec(), PEER)
    (invite,) = sent(call.start(0.0))
    call.receive_response(answer(invite), 0.1)
    bye = make_request(
        "BYE", "sip:edge@127.0.0.1:5060", via="SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKx",
        from_="<sip:1000@127.0.0.1:5080>;tag=other", to="<sip:sentiric@127.0.0.1>",
        call_id=call.call_id, cseq=5,
    )  # fmt: skip
    out = call.receive_request(bye, 1.0)
    assert [SipResponse.parse(a.data).status for a in out if isinstance(a, Send)] == [481]
    assert call.phase == "answered"
