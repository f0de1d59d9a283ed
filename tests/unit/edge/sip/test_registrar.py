"""Registrar (RFC 3261 §10.3)."""

from edge.sip.builders import make_request
from edge.sip.message import SipRequest
from edge.sip.registrar import Registrar

AOR = "sip:2001@sentiric.example.com"


def register(
    contacts: list[str], *, expires: int | None = None, cseq: int = 1, call_id: str = "reg1"
) -> SipRequest:
    req = make_request(
        "REGISTER",
        "sip:sentiric.example.com",
        via="SIP/2.0/UDP 10.0.0.23:5060;branch=z9hG4bKr",
        from_=f"<{AOR}>;tag=a",
        to=f"<{AOR}>",
        call_id=call_id,
        cseq=cseq,
    )
    for c in contacts:
        req = req.with_header("Contact", c)
    if expires is not None:
        req = req.with_header("Expires", str(expires))
    return req


def test_register_query_refresh_and_expire() -> None:
    reg = Registrar(min_expires=60, max_expires=3600)
    r = reg.register(register(["<sip:2001@10.0.0.23:5060>"], expires=120), AOR, 0.0)
    assert r.status == 200 and r.headers == (("Contact", "<sip:2001@10.0.0.23:5060>;expires=120"),)
    q = reg.register(register([], cseq=2), AOR, 10.0)  # no Contact: query
    assert q.status == 200 and q.headers == (("Contact", "<sip:2001@10.0.0.23:5060>;expires=110"),)
    assert reg.expire(119.0) == [] and len(reg.expire(121.0)) == 1 and reg.bindings(AOR, 121.0) == ()


def test_per_contact_expires_wins_and_max_is_capped() -> None:
    reg = Registrar(max_expires=3600)
    r = reg.register(register(["<sip:a@h1>;expires=600", "<sip:b@h2>"], expires=99999), AOR, 0.0)
    assert dict((b.contact, b.remaining(0.0)) for b in r.bindings) == {"sip:a@h1": 600, "sip:b@h2": 3600}


def test_interval_too_brief() -> None:
    r = Registrar(min_expires=60).register(register(["<sip:a@h1>"], expires=30), AOR, 0.0)
    assert r.status == 423 and r.headers == (("Min-Expires", "60"),)


def test_star_requires_expires_zero_and_removes_all() -> None:
    reg = Registrar()
    reg.register(register(["<sip:a@h1>", "<sip:b@h2>"]), AOR, 0.0)
    assert reg.register(register(["*"], cseq=2), AOR, 1.0).status == 400
    r = reg.register(register(["*"], expires=0, cseq=3), AOR, 1.0)
    assert r.status == 200 and r.bindings == () and reg.bindings(AOR, 1.0) == ()


def test_remove_one_with_expires_zero_and_out_of_order_cseq() -> None:
    reg = Registrar()
    reg.register(register(["<sip:a@h1>", "<sip:b@h2>"], cseq=5), AOR, 0.0)
    assert reg.register(register(["<sip:a@h1>"], cseq=5), AOR, 1.0).status == 500
    r = reg.register(register(["<sip:a@h1>;expires=0"], cseq=6), AOR, 1.0)
    assert [b.contact for b in r.bindings] == ["sip:b@h2"]
    assert reg.register(register(["<sip:a@h1>"], cseq=1, call_id="other"), AOR, 2.0).status == 200


def test_malformed_contact_is_400() -> None:
    r = Registrar().register(register(["sip:user@example.com?Route=%3Csip:x%3E"]), AOR, 0.0)
    assert r.status == 400
