"""Registering with a trunk over bytes: digest retry, refresh at half the granted time, 423, failures."""

from edge.sip.builders import make_response
from edge.sip.digest import AuthResult, DigestAuthenticator
from edge.sip.message import SipRequest
from edge.sip.transaction import Send
from edge.uac.credentials import Credentials
from edge.uac.registration import Registered, RegistrationFailed, TrunkRegistration

PEER = ("192.0.2.5", 5060)


def registration(**kw: object) -> TrunkRegistration:
    base: dict[str, object] = dict(
        registrar="sip:192.0.2.5", aor="sip:acct@192.0.2.5", contact="sip:acct@192.0.2.1:5060",
        via_host="192.0.2.1", via_port=5060, peer=PEER, credentials=Credentials("acct", "pw"), expires=600,
    )  # fmt: skip
    base.update(kw)
    return TrunkRegistration(**base)  # type: ignore[arg-type]


def run_until(reg: TrunkRegistration, until: float) -> list[object]:
    out: list[object] = []
    while (deadline := reg.next_deadline) is not None and deadline <= until:
        out += reg.on_timer(deadline)
    return out


def sent(out: list[object]) -> list[SipRequest]:
    return [SipRequest.parse(a.data) for a in out if isinstance(a, Send)]


def test_challenge_answered_then_refreshed_at_half_the_granted_time() -> None:
    auth = DigestAuthenticator("trunk", b"s" * 32)
    reg = registration()
    (first,) = sent(reg.start(0.0))
    assert first.method == "REGISTER" and first.header("expires") == "600" and first.cseq.seq == 1
    out = reg.receive_response(
        make_response(first, 401, headers=[("WWW-Authenticate", auth.challenges(0.0)[0])]), 0.1
    )
    (second,) = sent(out)
    assert second.cseq.seq == 2 and second.call_id == first.call_id
    assert second.from_addr.tag == first.from_addr.tag and second.top_via.branch != first.top_via.branch
    creds = second.header("authorization") or ""
    assert auth.verify(creds, method="REGISTER", now=0.2, password="pw") is AuthResult.OK
    ok = make_response(second, 200, headers=[("Contact", "<sip:acct@192.0.2.1:5060>;expires=300")])
    assert reg.receive_response(ok, 0.3) == [Registered(300)]
    assert sent(run_until(reg, 150.2)) == []  # only the transaction's timer K before the refresh
    (refresh,) = sent(run_until(reg, 150.3))
    assert refresh.cseq.seq == 3 and refresh.call_id == first.call_id


def test_wrong_password_fails_once_and_retries_later() -> None:
    auth = DigestAuthenticator("trunk", b"s" * 32)
    reg = registration(credentials=Credentials("acct", "bad"), retry_s=30.0)
    (first,) = sent(reg.start(0.0))
    (second,) = sent(
        reg.receive_response(
            make_response(first, 401, headers=[("WWW-Authenticate", auth.challenges(0.0)[0])]), 0.1
        )
    )
    out = reg.receive_response(
        make_response(second, 401, headers=[("WWW-Authenticate", auth.challenges(1.0)[0])]), 0.2
    )
    assert out == [RegistrationFailed(401, "Unauthorized")]
    assert sent(run_until(reg, 30.1)) == []  # retry after retry_s, doubling after each failure
    assert [r.method for r in sent(run_until(reg, 30.2))] == ["REGISTER"]


def test_423_uses_min_expires_and_stop_unregisters() -> None:
    reg = registration(credentials=None)
    (first,) = sent(reg.start(0.0))
    (again,) = sent(reg.receive_response(make_response(first, 423, headers=[("Min-Expires", "1800")]), 0.1))
    assert again.header("expires") == "1800"
    assert reg.receive_response(make_response(again, 200, headers=[("Expires", "1800")]), 0.2) == [
        Registered(1800)
    ]
    (bye,) = sent(reg.stop(10.0))
    assert bye.header("expires") == "0"
    assert reg.receive_response(make_response(bye, 200), 10.1) == [Registered(0)]
    run_until(reg, 20.0)
    assert reg.next_deadline is None  # no refresh after the binding is removed


def test_no_answer_is_a_failure_after_timer_f() -> None:
    reg = registration()
    reg.start(0.0)
    out: list[object] = []
    while (deadline := reg.next_deadline) is not None and deadline <= 32.0:
        out += reg.on_timer(deadline)
    assert RegistrationFailed(None, "no answer from the registrar") in out
    assert sum(1 for o in out if isinstance(o, Send)) >= 5  # timer E retransmissions before that


def test_a_response_of_another_transaction_is_ignored() -> None:
    reg = registration()
    (first,) = sent(reg.start(0.0))
    other = make_response(first, 200).replace_header("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKother")
    assert reg.receive_response(other, 0.1) == []


def test_over_tcp_the_via_names_tcp_and_nothing_is_retransmitted() -> None:
    reg = registration(transport="TCP", contact="sip:acct@192.0.2.1:5060;transport=tcp")
    (first,) = sent(reg.start(0.0))
    assert first.top_via.transport == "TCP"
    out = run_until(reg, 32.0)
    assert not any(isinstance(o, Send) for o in out)  # timer E only over UDP (RFC 3261 §17.1.2.2)
    assert RegistrationFailed(None, "no answer from the registrar") in out  # timer F still runs
