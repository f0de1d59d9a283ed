"""Typed header parsers."""

import pytest

from edge.sip.errors import SipParseError
from edge.sip.headers import Address, CSeq, SipUri, Via, split_quoted


def test_sip_uri_full() -> None:
    uri = SipUri.parse("sips:alice:pw%40x@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi%20there&X=1")
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (
        "sips",
        "alice",
        "pw@x",
        "[2001:db8::1]",
        5061,
    )
    assert uri.param("transport") == "tcp" and uri.param("lr") == "" and uri.transport == "TCP"
    assert uri.headers == (("Subject", "hi there"), ("X", "1"))
    assert SipUri.parse(str(uri)) == uri


@pytest.mark.parametrize("bad", ["http://x", "sip:", "sip:a@b:99999", "sip:a@[::1", "sip:a b@c", "sip:@host"])
def test_sip_uri_invalid(bad: str) -> None:
    with pytest.raises(SipParseError):
        SipUri.parse(bad)


def test_address_forms() -> None:
    a = Address.parse('"Bob \\"the\\" Builder" <sip:bob@example.com;transport=udp>;tag=xy;q=0.5')
    assert a.display_name == 'Bob "the" Builder' and a.tag == "xy" and a.param("q") == "0.5"
    assert Address.parse(str(a)) == a
    b = Address.parse("sip:carol@example.com;tag=1")
    assert b.tag == "1" and isinstance(b.uri, SipUri) and b.uri.params == ()
    assert Address.parse("Carol Smith <sip:c@x>").display_name == "Carol Smith"
    assert str(b.with_tag("2")) == "<sip:carol@example.com>;tag=2"


def test_via() -> None:
    v = Via.parse("SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;rport=1234;received=192.0.2.3")
    assert (v.transport, v.host, v.port, v.branch, v.rport, v.received) == (
        "UDP",
        "10.0.0.1",
        5070,
        "z9hG4bK1",
        1234,
        "192.0.2.3",
    )
    assert Via.parse(str(v)) == v and v.sent_by == ("10.0.0.1", 5070)
    v6 = Via.parse("SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bK2")
    assert v6.host == "[2001:db8::9]" and v6.port == 5061
    with pytest.raises(SipParseError):
        Via.parse("SIP/2.0 10.0.0.1")


def test_cseq_and_split() -> None:
    assert CSeq.parse("0009  INVITE") == CSeq(9, "INVITE")
    with pytest.raises(SipParseError, match="out of range"):
        CSeq.parse("2147483648 INVITE")
    assert split_quoted('"a,b" <sip:x,y>, <sip:z>', ",") == ['"a,b" <sip:x,y>', " <sip:z>"]
