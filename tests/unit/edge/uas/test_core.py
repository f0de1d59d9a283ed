"""UasCore: every call path with its SIP exchange and its facts, in order, on a fake clock."""

from __future__ import annotations

from edge.media.rtp.source_policy import MediaTrust, parse_networks
from edge.media_port import MediaOptions
from edge.sip.digest import compute_ha1, compute_response
from edge.sip.headers import DigestParams
from edge.sip.message import SipRequest
from edge.sip.transaction import Send
from edge.uas.access import Trunk
from edge.uas.admission import AdmissionLimits
from edge.uas.call import CloseMedia, ConfirmMedia, OpenMedia, UpdateMedia
from edge.uas.dialplan import Plan
from edge.uas.directory import UserCredentials
from tests.support.uas_harness import OFFER, Edge, Phone, make_edge, requests, responses, statuses

SETUP = ["CallInviteReceived", "DialplanResolved", "MediaPortAllocated", "CallAnswered"]


def end_media(edge: Edge, effects: list, now: float) -> None:
    for e in effects:
        if isinstance(e, CloseMedia):
            edge.core.media_closed(e.call_id, now)


def test_basic_call_facts_in_order_and_port_back(edge: Edge, phone: Phone) -> None:
    out = phone.invite(0.0)
    assert statuses(out) == [200]
    ok = responses(out)[0]
    assert ok.content_type == "application/sdp" and b"m=audio 30000 RTP/AVP 0 101" in ok.body
    assert ok.to_addr.tag and ok.header("contact") == "<sip:192.0.2.1:5060>"
    opened = [e for e in out if isinstance(e, OpenMedia)]
    unproven = MediaTrust(signal_ip="192.0.2.10", proven=False)
    assert opened == [
        OpenMedia(
            edge.call_id,
            MediaOptions(
                local_port=30000,
                remote_addr=("192.0.2.10", 40000),
                codec="PCMU",
                payload_type=0,
                dtmf_payload_type=101,
                ptime_ms=20,
                trust=unproven,
            ),
        )
    ]
    assert edge.names() == SETUP
    assert phone.ack(0.05) == [ConfirmMedia(edge.call_id)]  # the ACK proves the caller to its media
    assert edge.names()[-1] == "CallEstablished"
    out = phone.send(phone.request("BYE"), 10.0)
    assert statuses(out) == [200]
    assert CloseMedia(edge.call_id) in out
    assert edge.pool.in_use == 1  # the port waits for the media session to stop
    end_media(edge, out, 10.1)
    facts = edge.facts()
    assert [type(r).__name__ for r in facts] == [*SETUP, "CallEstablished", "CallEnded", "MediaPortReleased"]
    assert [r.seq for r in edge.facts(ladder=True)] == list(range(1, 8 + 5))  # with the ladder's five
    assert edge.ladder() == [
        ("in", "INVITE sip:1000@192.0.2.1 SIP/2.0"),
        ("out", "SIP/2.0 200 OK"),
        ("in", "ACK sip:1000@192.0.2.1 SIP/2.0"),
        ("in", "BYE sip:1000@192.0.2.1 SIP/2.0"),
        ("out", "SIP/2.0 200 OK"),
    ]
    ended = facts[-2]
    assert (ended.reason, ended.hangup_by, ended.sip_status) == ("caller_bye", "caller", 200)
    assert (ended.setup_ms, ended.talk_ms, ended.total_ms) == (0.0, 10000, 10000)
    assert facts[0].sip_call_id == phone.call_id and facts[0].callee == "1000" and facts[0].caller == "alice"
    assert edge.pool.in_use == 0 and edge.core.calls == {}


def test_retransmitted_invite_is_absorbed(edge: Edge, phone: Phone) -> None:
    req = phone.request("INVITE", to_tag="", body=OFFER)
    first = phone.send(req, 0.0)
    again = phone.send(req, 0.3)
    assert statuses(first) == [200]
    assert statuses(again) == [200]  # RFC 6026: the 2xx again, no second call
    assert edge.names().count("CallInviteReceived") == 1


def _timed_sends(edge: Edge, until: float) -> list[tuple[float, Send]]:
    sent: list[tuple[float, Send]] = []
    while (d := edge.core.next_deadline) is not None and d <= until:
        sent += [(d, e) for e in edge.core.on_timer(d) if isinstance(e, Send)]
    return sent


def test_lost_ack_from_a_trunk_retransmits_200_then_sends_bye() -> None:
    edge = make_edge()
    edge.directory.trunks.append(Trunk("carrier", "carrier", parse_networks(["192.0.2.0/24"])))
    Phone(edge).invite(0.0)
    sent = _timed_sends(edge, 40)
    oks = [t for t, e in sent if b"SIP/2.0 200 OK" in e.data[:20]]
    assert oks == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    byes = [t for t, e in sent if e.data.startswith(b"BYE ")]
    assert byes[0] == 32.0
    ended = edge.facts()[-1]
    assert type(ended).__name__ == "CallEnded"
    assert (ended.reason, ended.hangup_by) == ("ack_timeout", "system")
    assert "CallEstablished" not in edge.names()


def test_lost_ack_from_an_unproven_source_gets_few_copies_and_no_bye(edge: Edge, phone: Phone) -> None:
    invite = phone.request("INVITE", to_tag="", body=OFFER)
    first = [e for e in phone.send(invite, 0.0) if isinstance(e, Send)]
    sent = _timed_sends(edge, 80)
    copies = [t for t, e in sent if b"SIP/2.0 200 OK" in e.data[:20]]
    assert copies == [0.5]  # two would exceed 3x the INVITE's bytes
    assert len(first[0].data) * (1 + len(copies)) <= 3 * len(bytes(invite))
    assert [e for _, e in sent if not e.data.startswith(b"SIP/2.0 200")] == []  # no BYE, nothing else
    ended = next(r for r in edge.facts() if type(r).__name__ == "CallEnded")
    assert (ended.reason, ended.hangup_by, ended.total_ms) == ("ack_timeout", "system", 32000)
    assert edge.core.calls == {} or all(c.state.value == "ended" for c in edge.core.calls.values())


def test_unproven_copies_are_capped_by_count_and_by_bytes() -> None:
    edge = make_edge()
    phone = Phone(edge)
    bulky = phone.request("INVITE", to_tag="", body=OFFER, headers=[("Subject", "x" * 1500)])
    phone.send(bulky, 0.0)  # a big INVITE: the byte budget allows all the copies the count does
    assert [t for t, e in _timed_sends(edge, 80) if b"SIP/2.0 200 OK" in e.data[:20]] == [0.5, 1.5]
    edge = make_edge(unproven_retransmits=0)
    Phone(edge).invite(0.0)
    assert [e for _, e in _timed_sends(edge, 80)] == []


def test_cancel_while_ringing() -> None:
    edge = make_edge(ring_s=2.0)
    phone = Phone(edge)
    out = phone.invite(0.0)
    assert statuses(out) == [180]
    out = phone.cancel(0.5)
    assert sorted(statuses(out)) == [200, 487]
    assert edge.names() == [
        "CallInviteReceived",
        "DialplanResolved",
        "MediaPortAllocated",
        "CallCancelled",
        "CallEnded",
        "MediaPortReleased",
    ]
    ended = edge.facts()[-2]
    assert (ended.reason, ended.hangup_by, ended.sip_status) == ("cancelled", "caller", 487)
    # the ACK for the 487 is absorbed by the INVITE transaction; the ring timer never answers
    assert (
        phone.send(phone.request("ACK", cseq=phone.invite_cseq, branch=phone.invite_branch, to_tag=""), 0.6)
        == []
    )
    assert [e for e in edge.run_timers(10.0) if isinstance(e, Send) and b" 200 OK" in e.data[:20]] == []
    assert edge.pool.in_use == 0 and edge.core.calls == {}


def test_ringing_then_answer_after_ring_time() -> None:
    edge = make_edge(ring_s=1.0)
    phone = Phone(edge)
    phone.invite(0.0)
    out = edge.run_timers(1.0)
    assert statuses(out) == [200]
    assert edge.facts()[-1].__class__.__name__ == "CallAnswered"


def test_cancel_after_answer_has_no_effect(edge: Edge, phone: Phone) -> None:
    phone.invite(0.0)
    out = phone.cancel(0.1)
    assert statuses(out) == [481]  # the INVITE transaction ended with the 2xx (RFC 3261 §9.2)
    assert "CallCancelled" not in edge.names()


def test_reinvite_hold_and_unhold(edge: Edge, phone: Phone) -> None:
    call_id = phone.call()
    hold = OFFER.replace(b"a=sendrecv", b"a=sendonly")
    out = phone.send(phone.request("INVITE", body=hold), 5.0)
    assert statuses(out) == [200]
    assert b"a=recvonly" in responses(out)[0].body
    assert UpdateMedia(call_id, ("192.0.2.10", 40000), "recvonly") in out
    phone.ack(5.1, cseq=phone.cseq)
    updated = edge.facts()[-1]
    assert type(updated).__name__ == "CallMediaUpdated" and updated.direction == "recvonly"
    out = phone.send(phone.request("INVITE", body=OFFER), 6.0)
    assert b"a=sendrecv" in responses(out)[0].body
    assert b"o=sentiric" in responses(out)[0].body
    assert edge.facts()[-1].direction == "sendrecv"


def test_reinvite_while_previous_unacked_gets_491(edge: Edge, phone: Phone) -> None:
    phone.call()
    phone.send(phone.request("INVITE", body=OFFER), 1.0)
    out = phone.send(phone.request("INVITE", body=OFFER), 1.1)
    assert statuses(out) == [491]


def test_unknown_dialog_gets_481(edge: Edge, phone: Phone) -> None:
    assert statuses(phone.send(phone.request("BYE", to_tag="nosuch"), 0.0)) == [481]
    assert statuses(phone.send(phone.request("INFO"), 0.0)) == [481]
    assert edge.facts() == []


def test_unsupported_methods_405_and_501(edge: Edge, phone: Phone) -> None:
    out = phone.send(phone.request("SUBSCRIBE"), 0.0)
    assert statuses(out) == [405] and responses(out)[0].header("allow")
    assert statuses(phone.send(phone.request("FROBNICATE"), 0.0)) == [501]


def test_options_answered_200(edge: Edge, phone: Phone) -> None:
    out = phone.send(phone.request("OPTIONS"), 0.0)
    assert statuses(out) == [200] and "INVITE" in (responses(out)[0].header("allow") or "")


def test_malformed_request_gets_400_and_garbage_is_dropped(edge: Edge, phone: Phone) -> None:
    bad = bytes(phone.request("OPTIONS")).replace(b"Max-Forwards: 70", b"Max-Forwards: lots")
    out = phone.send(bad, 0.0)
    assert statuses(out) == [400]
    assert phone.send(b"\x00\x01garbage\r\n\r\n", 0.0) == []
    assert phone.send(b"", 0.0) == []


def test_no_common_codec_488_before_any_port(edge: Edge, phone: Phone) -> None:
    g729 = OFFER.replace(b"RTP/AVP 0 8 101", b"RTP/AVP 18").replace(b"a=rtpmap:0 PCMU/8000\r\n", b"")
    g729 = g729.replace(b"a=rtpmap:8 PCMA/8000\r\n", b"")
    out = phone.invite(0.0, body=g729)
    assert statuses(out) == [488]
    assert edge.names() == ["CallInviteReceived", "DialplanResolved", "CallRejected", "CallEnded"]
    rejected = edge.facts()[2]
    assert (rejected.sip_status, rejected.stage) == (488, "sdp")
    assert edge.pool.in_use == 0 and edge.core.calls == {}


def test_late_offer_answer_from_ack(edge: Edge, phone: Phone) -> None:
    out = phone.invite(0.0, body=b"")
    ok = responses(out)[0]
    assert ok.status == 200 and b"m=audio 30000 RTP/AVP 0 8 9 111 101 96" in ok.body
    assert not [e for e in out if isinstance(e, OpenMedia)]
    answer_sdp = OFFER.replace(b"RTP/AVP 0 8 101", b"RTP/AVP 8 101").replace(b"a=rtpmap:0 PCMU/8000\r\n", b"")
    out = phone.ack(0.1, body=answer_sdp)
    assert next(e for e in out if isinstance(e, OpenMedia)).options.codec == "PCMA"
    assert edge.names()[-2:] == ["CallEstablished", "CallMediaUpdated"]


def test_the_callers_opus_fmtp_reaches_the_media_session(edge: Edge, phone: Phone) -> None:
    fmtp = b"maxaveragebitrate=20000;useinbandfec=1"
    opus_offer = (
        b"v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
        b"m=audio 40000 RTP/AVP 111 96\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 " + fmtp + b"\r\n"
        b"a=rtpmap:96 telephone-event/48000\r\na=ptime:20\r\na=sendrecv\r\n"
    )
    out = phone.invite(0.0, body=opus_offer)
    opened = next(e for e in out if isinstance(e, OpenMedia)).options
    assert (opened.codec, opened.payload_type, opened.dtmf_payload_type) == ("OPUS", 111, 96)
    assert opened.remote_fmtp == fmtp.decode()


def test_hangup_command_sends_bye(edge: Edge, phone: Phone) -> None:
    call_id = phone.call()
    out = edge.core.hangup(call_id, "agent_hangup", 3.0)
    (bye,) = requests(out)
    assert bye.method == "BYE" and bye.cseq.seq == 1 and bye.to_addr.tag == phone.from_tag
    assert bye.uri == "sip:alice@192.0.2.10:5062"
    ended = edge.facts()[-1]
    assert (ended.reason, ended.hangup_by) == ("agent_hangup", "agent")
    phone.answer(bye, 200, 3.1)
    end_media(edge, out, 3.2)
    assert edge.names()[-1] == "MediaPortReleased" and edge.core.calls == {}


def test_hangup_before_ack_waits_for_the_ack(edge: Edge, phone: Phone) -> None:
    phone.invite(0.0)
    assert requests(edge.core.hangup(edge.call_id, "agent_hangup", 0.1)) == []
    out = phone.ack(0.2)
    assert [r.method for r in requests(out)] == ["BYE"]


def test_crossing_bye_after_our_bye_gets_200(edge: Edge, phone: Phone) -> None:
    call_id = phone.call()
    edge.core.hangup(call_id, "agent_hangup", 1.0)
    assert statuses(phone.send(phone.request("BYE"), 1.05)) == [200]
    assert edge.names().count("CallEnded") == 1


def test_media_timeout_ends_the_call() -> None:
    edge = make_edge(media_timeout_s=5.0)
    phone = Phone(edge)
    call_id = phone.call(0.0)
    edge.media_rx[call_id] = 4.0  # RTP seen at t=4: the deadline moves to t=9
    out = edge.run_timers(8.9)
    assert requests(out) == []
    out = edge.run_timers(9.0)
    assert [r.method for r in requests(out)] == ["BYE"]
    assert edge.facts()[-1].reason == "media_timeout"


def test_info_dtmf_relay(edge: Edge, phone: Phone) -> None:
    phone.call()
    body = b"Signal=5\r\nDuration=250\r\n"
    out = phone.send(phone.request("INFO", body=body, content_type="application/dtmf-relay"), 2.0)
    assert statuses(out) == [200]
    dtmf = edge.facts()[-1]
    assert (dtmf.digit, dtmf.duration_ms, dtmf.method) == ("5", 250, "sip_info")
    out = phone.send(phone.request("INFO", body=b"x", content_type="text/plain"), 2.1)
    assert statuses(out) == [415]


def test_blind_transfer_with_refer_and_notify(edge: Edge, phone: Phone) -> None:
    call_id = phone.call()
    out = edge.core.transfer(call_id, "sip:human@192.0.2.50", 1.0)
    (refer,) = requests(out)
    assert refer.method == "REFER" and refer.header("refer-to") == "<sip:human@192.0.2.50>"
    phone.answer(refer, 202, 1.1)
    assert [(r.status, r.sip_status) for r in edge.facts()[-2:]] == [("requested", None), ("accepted", 202)]
    notify = phone.request(
        "NOTIFY",
        body=b"SIP/2.0 200 OK\r\n",
        content_type="message/sipfrag",
        headers=[("Event", "refer"), ("Subscription-State", "terminated")],
    )
    out = phone.send(notify, 2.0)
    assert statuses(out) == [200] and [r.method for r in requests(out)] == ["BYE"]
    assert edge.names()[-2:] == ["CallTransferred", "CallEnded"]
    assert edge.facts()[-1].reason == "transferred"


def _digest(edge: Edge, challenge: str, req: SipRequest, user: str, password: str) -> str:
    params = DigestParams.parse(challenge)
    nonce, realm = params.get("nonce") or "", params.get("realm") or ""
    ha1 = compute_ha1("MD5", user, realm, password)
    response = compute_response(
        algorithm="MD5",
        ha1=ha1,
        nonce=nonce,
        method=req.method,
        uri=req.uri,
        qop="auth",
        nc="00000001",
        cnonce="c1",
    )
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{req.uri}", '
        f'response="{response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c1"'
    )


def _add_user(edge: Edge, user: str = "alice", password: str = "secret") -> None:
    edge.directory.users[(user, "sentiric")] = UserCredentials(
        user,
        "sentiric",
        compute_ha1("MD5", user, "sentiric", password),
        compute_ha1("SHA-256", user, "sentiric", password),
    )


def test_digest_challenge_then_accept_is_one_call() -> None:
    edge = make_edge()
    edge.directory.plans.append(Plan("secure", "1000", "agent", require_auth=True))
    _add_user(edge)
    phone = Phone(edge)
    out = phone.invite(0.0)
    assert statuses(out) == [401]
    challenges = responses(out)[0].get_headers("www-authenticate")
    assert [DigestParams.parse(h.value).get("algorithm") for h in challenges] == ["SHA-256", "MD5"]
    phone.send(phone.request("ACK", cseq=phone.invite_cseq, branch=phone.invite_branch, to_tag=""), 0.01)
    md5 = next(h.value for h in challenges if "MD5" in h.value)
    retry = phone.request("INVITE", to_tag="", body=OFFER)
    auth = _digest(edge, md5, retry, "alice", "secret")
    retry = phone.request("INVITE", to_tag="", body=OFFER, headers=[("Authorization", auth)], cseq=phone.cseq)
    phone.invite_cseq = retry.cseq.seq
    out = phone.send(retry, 0.1)
    assert statuses(out) == [200]
    assert edge.names() == SETUP
    assert edge.facts()[1].dialplan_id == "secure"


def test_digest_wrong_password_403() -> None:
    edge = make_edge(require_auth=True)
    _add_user(edge)
    phone = Phone(edge)
    challenge = responses(phone.invite(0.0))[0].header("www-authenticate") or ""
    retry = phone.request("INVITE", to_tag="", body=OFFER)
    auth = _digest(edge, challenge.replace("SHA-256", "MD5"), retry, "alice", "wrong")
    out = phone.send(phone.request("INVITE", to_tag="", body=OFFER, headers=[("Authorization", auth)]), 0.1)
    assert statuses(out) == [403]
    rejected = [r for r in edge.facts() if type(r).__name__ == "CallRejected"]
    assert [(r.sip_status, r.stage) for r in rejected] == [(403, "auth")]


def test_unanswered_challenge_expires() -> None:
    edge = make_edge(require_auth=True, challenge_ttl_s=10.0)
    phone = Phone(edge)
    phone.invite(0.0)
    edge.run_timers(11.0)
    assert edge.names()[-2:] == ["CallRejected", "CallEnded"]
    assert edge.core.calls == {}


def test_register_with_digest() -> None:
    edge = make_edge()
    _add_user(edge)
    phone = Phone(edge)
    req = phone.request("REGISTER", uri="sip:192.0.2.1", headers=[("Expires", "600")])
    out = phone.send(req, 0.0)
    assert statuses(out) == [401]
    challenge = responses(out)[0].get_headers("www-authenticate")[1].value
    retry = phone.request("REGISTER", uri="sip:192.0.2.1", headers=[("Expires", "600")])
    auth = _digest(edge, challenge, retry, "alice", "secret")
    # REGISTER's To is the AOR: alice
    raw = bytes(retry).replace(b"To: <sip:1000@", b"To: <sip:alice@")
    raw = raw.replace(b"Content-Length: 0", f"Authorization: {auth}\r\nContent-Length: 0".encode())
    out = phone.send(raw, 1.0)
    assert statuses(out) == [200]
    assert responses(out)[0].header("contact") == "<sip:alice@192.0.2.10:5062>;expires=600"


def test_dialplan_reject_uses_its_status(edge: Edge, phone: Phone) -> None:
    edge.directory.plans.append(Plan("block", "1*", "reject", reject_status=404))
    out = phone.invite(0.0)
    assert statuses(out) == [404]
    assert edge.names() == ["CallInviteReceived", "CallRejected", "CallEnded"]
    assert edge.facts()[1].stage == "dialplan"


def test_admission_503_on_log_backlog(edge: Edge, phone: Phone) -> None:
    edge.fill[0] = 0.6
    out = phone.invite(0.0)
    assert statuses(out) == [503]
    assert responses(out)[0].header("retry-after") == "5"
    rejected = edge.facts()[1]
    assert (rejected.reason, rejected.stage) == ("log_backlog", "overload")


def test_a_draining_edge_refuses_new_calls_keeps_its_calls_then_ends_them_with_drain(edge: Edge) -> None:
    first, second = Phone(edge), Phone(edge)
    call_id = first.call(0.0)
    edge.core.admission.draining = True  # SIGTERM: EdgeApp.drain
    out = second.invite(1.0)
    assert statuses(out) == [503] and responses(out)[0].header("retry-after") == "5"
    assert edge.facts()[-2].reason == "draining"
    assert statuses(first.send(first.request("INFO", cseq=2), 2.0)) == [200]  # the call goes on
    out = edge.core.hangup(call_id, "drain", 3.0)  # the deadline passed: EdgeApp.stop(reason="drain")
    (bye,) = requests(out)
    assert bye.method == "BYE"
    ended = edge.facts()[-1]
    assert (type(ended).__name__, ended.reason) == ("CallEnded", "drain")


def test_admission_ports_exhausted_never_harms_established_calls(edge: Edge) -> None:
    phones = [Phone(edge) for _ in range(6)]
    ids = [p.call(float(i)) for i, p in enumerate(phones[:5])]
    out = phones[5].invite(10.0)
    assert statuses(out) == [503]
    assert edge.facts()[-2].reason == "ports_exhausted"
    assert statuses(phones[0].send(phones[0].request("BYE"), 11.0)) == [200]
    assert len(set(ids)) == 5


def test_admission_max_calls() -> None:
    edge = make_edge(limits=AdmissionLimits(max_calls=1))
    Phone(edge).call(0.0)
    out = Phone(edge).invite(1.0)
    assert statuses(out)[-1] == 503
    assert edge.facts()[-2].reason == "too_many_calls"


def test_stale_in_dialog_cseq_gets_500(edge: Edge, phone: Phone) -> None:
    phone.call()
    out = phone.send(phone.request("INFO", cseq=1), 1.0)
    assert statuses(out) == [500]


def test_lazily_parsed_ack_with_a_malformed_header_is_dropped_and_counted(edge: Edge, phone: Phone) -> None:
    from prometheus_client import REGISTRY

    phone.invite(0.0)
    before = REGISTRY.get_sample_value("sentiric_sip_parse_errors_total", {"action": "dropped"}) or 0.0
    ack = bytes(phone.request("ACK", cseq=phone.invite_cseq))
    bad = ack.replace(b"From: <sip:alice@192.0.2.10>", b"From: <sip:alice@192.0.2.10")  # unterminated
    assert phone.send(bad, 0.05) == []
    after = REGISTRY.get_sample_value("sentiric_sip_parse_errors_total", {"action": "dropped"}) or 0.0
    assert after - before == 1
    assert phone.ack(0.06) == [ConfirmMedia(edge.call_id)]  # the good ACK still counts
    assert edge.names()[-1] == "CallEstablished"


def test_active_calls_counts_calls_until_they_end(edge: Edge, phone: Phone) -> None:
    other = Phone(edge)
    phone.invite(0.0)
    other.invite(0.0)
    assert edge.core.active_calls == 2
    phone.ack(0.01)
    phone.send(phone.request("BYE"), 1.0)
    assert edge.core.active_calls == 1
    other.cancel(1.1)  # already answered: the CANCEL changes nothing
    assert edge.core.active_calls == 1
