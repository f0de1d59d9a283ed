"""Parser tests: captured messages, RFC 4475 torture messages, truncation and fuzzing."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.sip.builders import bad_request_for
from edge.sip.errors import SipParseError
from edge.sip.headers import AbsoluteUri, SipUri
from edge.sip.message import SipRequest, SipResponse, parse_message

FIXTURES = Path(__file__).parents[3] / "fixtures" / "sip"
CAPTURED = sorted((FIXTURES / "captured").glob("*.sip"))
TORTURE = FIXTURES / "rfc4475"


def torture(name: str) -> bytes:
    return (TORTURE / f"{name}.dat").read_bytes()


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.stem)
def test_captured_round_trip(path: Path) -> None:
    data = path.read_bytes()
    msg = parse_message(data)
    assert bytes(msg) == data
    assert msg.call_id
    assert msg.top_via.branch and msg.top_via.branch.startswith("z9hG4bK")


def test_linphone_invite_fields() -> None:
    msg = parse_message((FIXTURES / "captured" / "linphone_invite.sip").read_bytes())
    assert isinstance(msg, SipRequest)
    assert msg.method == "INVITE"
    assert msg.from_addr.display_name == "Alice"
    assert msg.from_addr.tag == "Y8pYI3Kst"
    assert msg.to_addr.tag is None
    assert msg.cseq.seq == 20 and msg.cseq.method == "INVITE"
    assert msg.top_via.wants_rport and msg.top_via.rport is None
    assert msg.contacts[0].param("+sip.instance") == "<urn:uuid:5b1a1c88-5c5a-00b8-b7d0-3c0a4f9b2f19>"
    assert msg.header_values("Allow")[0] == "INVITE" and len(msg.header_values("allow")) == 12
    assert msg.content_type == "application/sdp"
    assert msg.body.startswith(b"v=0\r\n") and len(msg.body) == int(msg.header("l") or 0)


def test_freeswitch_200_fields() -> None:
    msg = parse_message((FIXTURES / "captured" / "freeswitch_200.sip").read_bytes())
    assert isinstance(msg, SipResponse)
    assert (msg.status, msg.reason) == (200, "OK")
    assert msg.top_via.received == "198.51.100.7" and msg.top_via.rport == 5060
    assert msg.to_addr.tag == "9Qy5rKtH0Fg9p"


VALID = [
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "semiuri",
    "transports",
    "mpart01",
    "unreason",
    "noreason",
    "badbranch",
    "unkscm",
    "novelsc",
    "unksm2",
    "bext01",
    "invut",
    "regaut01",
    "zeromf",
    "cparam01",
    "cparam02",
    "regescrt",
    "sdp01",
    "inv2543",
    "baddate",
    "bcast",
]


@pytest.mark.parametrize("name", VALID)
def test_rfc4475_valid_round_trip(name: str) -> None:
    data = torture(name)
    assert bytes(parse_message(data)) == data


def test_wsinv() -> None:
    msg = parse_message(torture("wsinv"))
    assert isinstance(msg, SipRequest)
    ruri = msg.request_uri
    assert isinstance(ruri, SipUri) and ruri.user == "vivekg" and ruri.params == (("unknownparam", None),)
    assert msg.to_addr.tag == "1918181833n" and msg.to_addr.display_name is None
    assert msg.from_addr.display_name == 'J Rosenberg \\"' and msg.from_addr.tag == "98asjd8"
    assert msg.max_forwards == 68
    assert msg.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert (msg.cseq.seq, msg.cseq.method) == (9, "INVITE")
    assert [(v.transport, v.host, v.branch) for v in msg.vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert msg.header("Subject") == ""
    assert msg.header("newfangledheader") == "newfangled value continued newfangled value"
    assert msg.header("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (contact,) = msg.contacts
    assert contact.display_name == 'Quoted string ""'
    assert contact.param("newparam") == "newvalue" and contact.param("secondparam") == ""
    assert contact.param("q") == "0.33"
    assert str(msg.routes[0].uri) == "sip:services.example.com;lr;unknownwith=value;unknown-no-value"
    assert len(msg.body) == 150


def test_intmeth() -> None:
    msg = parse_message(torture("intmeth"))
    assert isinstance(msg, SipRequest)
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    ruri = msg.request_uri
    assert isinstance(ruri, SipUri)
    assert ruri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert ruri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert msg.to_addr.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_addr.display_name == "token1~` token2'+_ token3*%!.-"
    assert msg.from_addr.tag == "_token~1'+`*%!-."
    assert msg.from_addr.param("fromParam''~+*_!.-%") == "работающий"
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.header("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    assert msg.top_via.branch == "z9hG4bK-.!%66*_+`'~"


def test_escapes() -> None:
    msg = parse_message(torture("esc01"))
    assert isinstance(msg, SipRequest)
    ruri = msg.request_uri
    assert isinstance(ruri, SipUri) and ruri.user == "sips:user@example.com" and ruri.host == "example.net"
    assert isinstance(msg.to_addr.uri, SipUri) and msg.to_addr.uri.user == "user"
    assert isinstance(msg.from_addr.uri, SipUri) and msg.from_addr.uri.user == "I have spaces"
    contact_uri = msg.contacts[0].uri
    assert isinstance(contact_uri, SipUri) and contact_uri.user == "caller"
    assert contact_uri.params == (("lr", None), ("name", "value%41"))
    null = parse_message(torture("escnull"))
    assert [c.uri.user for c in null.contacts if isinstance(c.uri, SipUri)] == ["\x00", "\x00\x00"]


def test_percent_is_not_an_escape() -> None:
    msg = parse_message(torture("esc02"))
    assert isinstance(msg, SipRequest) and msg.method == "RE%47IST%45R"
    assert msg.to_addr.display_name == "%Z%45"
    assert [str(c.uri) for c in msg.contacts] == [
        "sip:alias1@host1.example.com",
        "sip:alias3@host3.example.com",
    ]
    assert msg.header("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert msg.top_via.branch == "z9hG4bK209%fzsnel234"


def test_misc_valid() -> None:
    assert parse_message(torture("lwsdisp")).from_addr.display_name == "caller"
    longreq = parse_message(torture("longreq"))
    assert len(longreq.vias) == 34 and longreq.to_addr.display_name.endswith("proportion")
    semi = parse_message(torture("semiuri"))
    assert isinstance(semi, SipRequest) and isinstance(semi.request_uri, SipUri)
    assert semi.request_uri.user == "user;par=u@example.net"
    assert len(semi.header_values("Accept")) == 6
    assert [v.transport for v in parse_message(torture("transports")).vias] == [
        "UDP",
        "SCTP",
        "TLS",
        "UNKNOWN",
        "TCP",
    ]
    mp = parse_message(torture("mpart01"))
    assert len(mp.body) == 553 and b"\x00" in mp.body
    unreason = parse_message(torture("unreason"))
    assert isinstance(unreason, SipResponse) and unreason.reason.startswith("= 2**3 * 5**2 но")
    noreason = parse_message(torture("noreason"))
    assert isinstance(noreason, SipResponse) and noreason.status == 100 and noreason.reason == ""
    unkscm = parse_message(torture("unkscm"))
    assert isinstance(unkscm, SipRequest) and isinstance(unkscm.request_uri, AbsoluteUri)
    unksm2 = parse_message(torture("unksm2"))
    assert isinstance(unksm2.to_addr.uri, AbsoluteUri) and unksm2.to_addr.uri.scheme == "isbn"
    assert parse_message(torture("zeromf")).max_forwards == 0
    inv2543 = parse_message(torture("inv2543"))
    assert inv2543.top_via.branch is None and inv2543.max_forwards is None and inv2543.body.endswith(b"0\r\n")
    cparam01 = parse_message(torture("cparam01")).contacts[0]  # addr-spec: params belong to the header
    assert cparam01.params == (("unknownparam", None),) and isinstance(cparam01.uri, SipUri)
    assert cparam01.uri.params == ()
    cparam02 = parse_message(torture("cparam02")).contacts[0]
    assert isinstance(cparam02.uri, SipUri) and cparam02.uri.params == (("unknownparam", None),)
    regescrt = parse_message(torture("regescrt")).contacts[0].uri
    assert isinstance(regescrt, SipUri) and regescrt.headers == (("Route", "<sip:sip.example.com>"),)


def test_dblreq_trailing_octets_discarded() -> None:
    data = torture("dblreq")
    msg = parse_message(data)
    assert isinstance(msg, SipRequest) and msg.method == "REGISTER" and msg.body == b""
    assert data.startswith(bytes(msg)) and len(bytes(msg)) < len(data)  # canonical: the noise is dropped


def test_bcast_is_parsed_and_flagged_by_via() -> None:
    # §3.3.10: well-formed; the transport drops responses whose top Via is not its own.
    msg = parse_message(torture("bcast"))
    assert msg.vias[1].host == "255.255.255.255"


INVALID = {
    "badinv01": "empty value in Via header",
    "clerr": "Content-Length 9999 larger than the 154 octets received",
    "ncl": "invalid Content-Length: '-999'",
    "scalar02": "CSeq number out of range: 36893488147419103232",
    "scalarlg": "CSeq number out of range: 9292394834772304023312",
    "quotbal": "invalid To header: unterminated quoted display name",
    "ltgtruri": "invalid Request-URI: invalid URI: '<sip:user@example.com>'",
    "lwsruri": "malformed Request-Line",
    "lwsstart": "malformed Request-Line",
    "trws": "malformed Request-Line",
    "escruri": "Request-URI must not contain headers",
    "regbadct": "invalid Contact header: URI with ',', '?' or spaces must be enclosed in <>",
    "badaspec": "invalid To header: whitespace inside <uri>",
    "baddn": "invalid From header: invalid display name: 'Bell, Alexander'",
    "badvers": "unsupported SIP version: 'SIP/7.0'",
    "mismatch01": "CSeq method 'INVITE' does not match request method 'OPTIONS'",
    "mismatch02": "CSeq method 'INVITE' does not match request method 'NEWMETHOD'",
    "bigcode": "invalid status code: '4294967301'",
    "insuf": "missing From header",
    "multi01": "duplicate From header",
    "mcl01": "conflicting Content-Length headers",
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_rfc4475_invalid(name: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(torture(name))
    assert str(info.value).startswith(INVALID[name])


@pytest.mark.parametrize("name", ["badinv01", "clerr", "quotbal", "ltgtruri", "lwsstart", "trws", "multi01"])
def test_invalid_requests_can_be_answered_400(name: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(torture(name))
    response = bad_request_for(info.value)
    assert response is not None and response.status == 400
    reparsed = parse_message(bytes(response), strict=False)
    assert isinstance(reparsed, SipResponse) and reparsed.header("CSeq") == info.value.partial.header("CSeq")


def test_insuf_400_copies_what_exists() -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(torture("insuf"))
    response = bad_request_for(info.value)
    assert response is not None and response.status == 400
    assert response.header("Via") == "SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf"
    assert response.header("CSeq") == "193942 INVITE" and response.header("From") is None


def test_badvers_answers_505() -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(torture("badvers"))
    response = bad_request_for(info.value)
    assert response is not None and response.status == 505


def test_responses_that_fail_have_no_partial() -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(torture("bigcode"))
    assert info.value.partial is None and bad_request_for(info.value) is None


def test_lazy_mode_defers_typed_errors() -> None:
    msg = parse_message(torture("quotbal"), strict=False)
    with pytest.raises(SipParseError, match="unterminated quoted display name"):
        msg.to_addr  # noqa: B018


def test_leading_crlf_ignored_and_missing_content_length_takes_rest() -> None:
    msg = parse_message(b"\r\n\r\n" + torture("inv2543"))
    assert msg.body.startswith(b"v=0")


def test_compact_and_long_forms_are_the_same_header() -> None:
    msg = parse_message(torture("longreq"))
    assert len(msg.get_headers("v")) == len(msg.get_headers("VIA")) == 34


def test_builders_mutations() -> None:
    msg = parse_message(torture("lwsdisp"))
    changed = msg.replace_header("Max-Forwards", "69").with_body(b"hello", "text/plain")
    again = parse_message(bytes(changed))
    assert again.max_forwards == 69 and again.body == b"hello" and again.content_type == "text/plain"
    assert again.without_header("Accept").header("accept") is None


ALL_FIXTURES = [*CAPTURED, *sorted(TORTURE.glob("*.dat"))]


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.stem)
def test_every_truncated_prefix(path: Path) -> None:
    data = path.read_bytes()
    for i in range(len(data)):
        try:
            parse_message(data[:i])
        except SipParseError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_sip_parse_error(data: bytes) -> None:
    try:
        parse_message(data)
    except SipParseError:
        pass


SEEDS = [p.read_bytes() for p in ALL_FIXTURES]


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 5000), st.binary(min_size=0, max_size=4)), min_size=1, max_size=4),
)
def test_mutated_messages_only_raise_sip_parse_error(seed: bytes, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(seed)
    for pos, chunk in edits:
        pos %= len(data) + 1
        data[pos : pos + len(chunk)] = chunk
    for strict in (True, False):
        try:
            msg = parse_message(bytes(data), strict=strict)
        except SipParseError:
            continue
        try:  # typed views of a lazily parsed message also fail only with SipParseError
            msg.vias, msg.from_addr, msg.to_addr, msg.contacts, msg.routes  # noqa: B018
        except SipParseError:
            pass
