"""What a request may make the edge echo."""

from __future__ import annotations

from edge.sip.builders import make_request
from edge.sip.limits import EchoLimits, excess
from edge.sip.message import parse_message


def request(vias: int = 1, record_routes: int = 0, long_value: int = 0) -> bytes:
    req = make_request(
        "INVITE",
        "sip:1000@192.0.2.1",
        via="SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1",
        from_="<sip:alice@192.0.2.10>;tag=1",
        to="<sip:1000@192.0.2.1>",
        call_id="c@x",
        cseq=1,
        headers=[
            *[("Via", f"SIP/2.0/UDP 10.0.0.{i}:5060;branch=z9hG4bKp{i}") for i in range(vias - 1)],
            *[("Record-Route", f"<sip:10.0.1.{i};lr>") for i in range(record_routes)],
            *([("Subject", "x" * long_value)] if long_value else []),
        ],
    )
    return bytes(req)


def test_within_limits() -> None:
    assert excess(parse_message(request(vias=10, record_routes=10, long_value=2048))) is None


def test_too_many_vias_counted_across_lines_and_commas() -> None:
    assert excess(parse_message(request(vias=11))) == "too_many_via"
    data = request(vias=10).replace(
        b"Via: SIP/2.0/UDP 10.0.0.0:5060", b"Via: SIP/2.0/UDP 9.9.9.9, SIP/2.0/UDP 10.0.0.0:5060"
    )
    assert excess(parse_message(data)) == "too_many_via"


def test_too_many_record_routes_and_long_values() -> None:
    assert excess(parse_message(request(record_routes=11))) == "too_many_record_route"
    assert excess(parse_message(request(long_value=2049))) == "header_too_long"
    assert excess(parse_message(request(vias=3)), EchoLimits(max_via=2)) == "too_many_via"
