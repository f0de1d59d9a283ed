"""Every reproducer of bench/fuzz_findings/ against the UAS core and its adapters: the exact bytes the
fuzz campaign found (and their hand-written minimal versions), each with the outcome that is right.

The campaign saw, for these inputs, an exception in the call setup (a call left in ``UasCore.calls``
for ever), a 500 where a 200 or a 488 was due, a response echoing a bare LF, a TypeError from a TCP
peer that reset at once, an unbounded metric label, and a digest that could not be computed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from bench.fuzzing.peers import check_response
from edge.sip.builders import clean_reason, make_response
from edge.sip.digest import AuthResult, DigestAuthenticator, compute_ha1, compute_response
from edge.sip.errors import SipParseError
from edge.sip.headers import DigestParams, SipUri
from edge.sip.message import parse_message
from edge.sip.transaction import Send
from edge.transport import SipEndpoint, SipTcpProtocol
from edge.uas.call import OpenMedia, Peer
from tests.support.uas_harness import Edge, make_edge

FINDINGS = Path(__file__).resolve().parents[3] / "bench" / "fuzz_findings"
SENDER = Peer("udp", ("127.0.0.1", 5999))


def reproducer(name: str) -> bytes:
    return (FINDINGS / name).read_bytes()


def feed(edge: Edge, data: bytes) -> tuple[list[bytes], list[dict[str, Any]]]:
    """What the core sends back for one datagram, and the warnings and errors it logged meanwhile."""
    with capture_logs() as logs:
        out = edge.core.receive(data, SENDER, 0.0)
    return [e.data for e in out if isinstance(e, Send)], [
        entry for entry in logs if entry["log_level"] in ("warning", "error", "critical")
    ]


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


# --- URI parameters with octets that are not UTF-8 (edge/sip/headers.py) ---------------------------


@pytest.mark.parametrize(
    "name",
    ["udp-hand-from-uri-param-invalid-utf8.bin", "udp-hand-contact-param-invalid-utf8.bin"],
)
def test_a_uri_parameter_that_is_not_utf8_is_answered_like_any_other(name: str) -> None:
    edge = make_edge()
    answers, logged = feed(edge, reproducer(name))
    assert logged == []
    assert [status_of(a) for a in answers] == [200]  # was: only 100 Trying (From) / 500 (Contact)
    assert check_response(answers[0]) is None


def test_uri_parameters_and_headers_round_trip_any_octet() -> None:
    for text in ("sip:a@127.0.0.1;%FFx=1", "sip:a@h;%99=%FE", "sip:a@h?%FF=%FE&x=%C3%A9"):
        assert str(SipUri.parse(text)).lower() == text.lower()


# --- a call setup that raises never stays in the tables (edge/uas/setup.py) --------------------------


@pytest.mark.parametrize("stage", ["admit_and_route", "setup"])
def test_a_failed_call_setup_is_answered_500_and_leaves_no_trace(
    stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    edge = make_edge()

    def boom(*args: Any, **kwargs: Any) -> None:
        raise UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed")

    monkeypatch.setattr(edge.core.setup, stage, boom)
    for n in range(3):
        data = reproducer("udp-hand-sdp-ptime-x.bin").replace(b"h3@", f"h3-{n}@".encode())
        answers, logged = feed(edge, data.replace(b"branch=z9hG4bK-h3", f"branch=z9hG4bK-{n}".encode()))
        assert [status_of(a) for a in answers] == [500]
        assert [entry["event"] for entry in logged] == ["call setup failed"]
    core = edge.core
    assert core.calls == {} and core.table.by_invite == {} and core.table.per_source == {}
    assert core.active_calls == 0 and edge.pool.in_use == 0


def test_a_failed_call_setup_whose_rejection_fails_too_is_dropped_by_hand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    edge = make_edge()

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(edge.core.setup, "setup", boom)
    monkeypatch.setattr(edge.core.teardown, "reject", boom)
    answers, logged = feed(edge, reproducer("udp-hand-sdp-ptime-x.bin"))
    assert answers == []  # no 500 could be sent, and its transaction is gone with it
    assert edge.core.txns.active == 0 and edge.core.next_deadline is None
    assert [entry["event"] for entry in logged] == ["call setup failed", "call setup cleanup failed"]
    core = edge.core
    assert core.calls == {} and core.table.by_invite == {} and core.table.per_source == {}
    assert core.active_calls == 0 and edge.pool.in_use == 0


# --- a=ptime / a=maxptime that are not a usable number (edge/sdp.py) -------------------------------


@pytest.mark.parametrize("value", [b"x", b"1e309", b"nan", b"inf", b"-20", b"0", b"100000"])
def test_a_packet_time_that_is_no_usable_number_is_ignored(value: str) -> None:
    edge = make_edge()
    data = reproducer("udp-hand-sdp-ptime-x.bin")
    data = data.replace(b"a=ptime:x", b"a=ptime:" + value + b"\r\na=maxptime:" + value)
    data = data.replace(b"Content-Length: 121", f"Content-Length: {121 + 2 * len(value) + 12}".encode())
    with capture_logs() as logs:
        out = edge.core.receive(data, SENDER, 0.0)
    answers = [e.data for e in out if isinstance(e, Send)]
    assert [status_of(a) for a in answers] == [200], answers  # was: 500 (ValueError, OverflowError)
    assert [e for e in logs if e["log_level"] == "error"] == []
    assert next(e for e in out if isinstance(e, OpenMedia)).options.ptime_ms == 20
    assert b"a=ptime" not in answers[0]


# --- a=c that is not an IP literal: 488 before any port (fixed on main, kept honest here) ---------


@pytest.mark.parametrize("name", ["udp-hand-sdp-c-not-an-ip.bin", "udp-a9b85a4819.bin"])
def test_a_connection_address_that_is_no_ip_is_refused_before_a_port(name: str) -> None:
    edge = make_edge()
    answers, logged = feed(edge, reproducer(name))
    assert [status_of(a) for a in answers] == [488] and logged == []
    assert edge.pool.in_use == 0 and edge.core.calls == {}


# --- wire text that reached a fact (fixed on main: made safe before it becomes a fact) ------------


@pytest.mark.parametrize("name", ["udp-306d095f55.bin", "udp-84477857f8.bin", "udp-cd5816047c.bin"])
def test_campaign_invites_with_undecodable_text_are_recorded(name: str) -> None:
    edge = make_edge()
    answers, logged = feed(edge, reproducer(name))
    assert logged == []  # was: "call fact refused" (the Avro encoder refused a surrogate)
    assert all(check_response(a) is None for a in answers)
    assert "CallInviteReceived" in edge.names()


# --- bare CR / LF: refused, never echoed (edge/sip/message.py, edge/sip/builders.py) ----------------


@pytest.mark.parametrize("name", ["answer-513114a07a.bin", "answer-835e1b3cfd.bin", "answer-acea8d9ab5.bin"])
def test_campaign_answers_are_valid_sip_with_no_bare_line_break(name: str) -> None:
    answers, logged = feed(make_edge(), reproducer(name))
    assert logged == []
    for answer in answers:
        assert check_response(answer) is None, answer
        assert status_of(answer) == 400


def test_a_header_with_a_bare_lf_is_refused_with_a_400_that_does_not_echo_it() -> None:
    options = (
        b"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-lf\r\n"
        b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1>%s\r\nCall-ID: lf\r\n"
        b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    for bare in (b"\nX-Injected: 1", b"\rX-Injected: 1", b"\n\n<html>"):
        with pytest.raises(SipParseError, match="bare CR or LF"):
            parse_message(options % bare)
        answers, _ = feed(make_edge(), options % bare)
        assert [status_of(a) for a in answers] == [400]
        assert b"Injected" not in answers[0] and b"html" not in answers[0]
        assert b"\nTo:" not in answers[0]  # the To with the bare LF is not copied
        assert check_response(answers[0]) is None
    # a Via with one: nothing to route a 400 by, so nothing is sent
    assert feed(make_edge(), options.replace(b"branch=z9hG4bK-lf", b"branch=z9\nX: 1") % b"")[0] == []
    # folding (CRLF + SP) is no bare line break
    answers, _ = feed(make_edge(), options % b"\r\n ;x=1")
    assert [status_of(a) for a in answers] == [200]


def test_a_505_to_a_request_without_from_or_to_becomes_a_400() -> None:
    data = reproducer("answer-835e1b3cfd.bin").replace(b"Max-Forwards:\n", b"Max-Forwards: 70\r\n")
    answers, _ = feed(make_edge(), data.replace(b"From:", b"X-From:"))
    assert [status_of(a) for a in answers] == [400]
    assert check_response(answers[0]) is None
    answers, _ = feed(make_edge(), data)
    assert [status_of(a) for a in answers] == [505]  # with all five headers it may say what it means


def test_reason_phrases_carry_no_control_characters() -> None:
    assert clean_reason("Bad Request (x\r\nVia: evil\x00\udcff\t)") == "Bad Request (x??Via: evil??\t)"
    assert clean_reason("Busy Here — é") == "Busy Here — é"
    request = parse_message(reproducer("udp-hand-sdp-ptime-x.bin"))
    response = bytes(make_response(request, 400, "Bad\r\nX-Injected: 1"))
    assert response.startswith(b"SIP/2.0 400 Bad??X-Injected: 1\r\n") and check_response(response) is None


# --- metric labels from closed sets only (edge/uas/methods.py) ----------------------------------------


def test_a_method_from_the_wire_never_becomes_a_metric_label() -> None:
    data = reproducer("udp-hand-sdp-ptime-x.bin").replace(b"INVITE", b"XFUZZQ")
    answers, _ = feed(make_edge(), data)
    assert [status_of(a) for a in answers] == [501]
    broken = data.replace(b"Call-ID: h3@127.0.0.1\r\n", b"")  # a 400 built from a partial request
    assert [status_of(a) for a in feed(make_edge(), broken)[0]] == [400]
    labels = {
        s.labels.get("method")
        for metric in REGISTRY.collect()
        if metric.name.startswith("sentiric_sip")
        for s in metric.samples
    }
    assert "XFUZZQ" not in labels and "other" in labels


# --- digest over the octets as sent (edge/sip/digest.py) -----------------------------------------


def test_digest_of_credentials_that_are_not_utf8_or_ascii() -> None:
    auth = DigestAuthenticator("sentiric.example.com", b"k" * 32)
    nonce = DigestParams.parse(auth.challenges(10.0)[1]).get("nonce") or ""
    user = b"\xff\xfe2001".decode("utf-8", "surrogateescape")  # as edge.sip.message decodes the wire
    ha1 = compute_ha1("MD5", user, "sentiric.example.com", "s3cret")
    assert ha1 == hashlib.md5(b"\xff\xfe2001:sentiric.example.com:s3cret").hexdigest()
    uri = "sip:\udcffx@sentiric.example.com"
    resp = compute_response(algorithm="MD5", ha1=ha1, nonce=nonce, method="REGISTER", uri=uri)
    ha2 = hashlib.md5(b"REGISTER:sip:\xffx@sentiric.example.com").hexdigest()
    assert resp == hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()

    def creds(response: str) -> str:
        fields = (("username", user), ("realm", "sentiric.example.com"), ("nonce", nonce), ("uri", uri))
        return str(DigestParams("Digest", (*fields, ("response", response), ("algorithm", "MD5"))))

    assert auth.verify(creds(resp), method="REGISTER", now=11.0, password="s3cret") is AuthResult.OK
    for bad in ("é" * 32, "\udcff" * 32, resp[:-1] + "\u0661"):  # was: TypeError from compare_digest
        assert auth.verify(creds(bad), method="REGISTER", now=11.0, password="s3cret") is AuthResult.INVALID


def test_auth_int_hashes_the_body_octets() -> None:
    body = b"v=0\r\ns=\xe9\xff\r\n"
    resp = compute_response(
        algorithm="MD5",
        ha1="h",
        nonce="n",
        method="INVITE",
        uri="sip:a@b",
        qop="auth-int",
        nc="1",
        cnonce="c",
    )
    with_body = compute_response(
        algorithm="MD5",
        ha1="h",
        nonce="n",
        method="INVITE",
        uri="sip:a@b",
        qop="auth-int",
        nc="1",
        cnonce="c",
        body=body,
    )
    ha2 = hashlib.md5(b"INVITE:sip:a@b:" + hashlib.md5(body).hexdigest().encode()).hexdigest()
    assert with_body == hashlib.md5(f"h:n:1:c:auth-int:{ha2}".encode()).hexdigest() != resp


# --- a TCP peer that resets before connection_made (edge/transport.py) -----------------------------


class ResetTransport:
    """What asyncio hands connection_made when the peer sent and reset at once: no peername."""

    def __init__(self) -> None:
        self.aborted = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return None

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted


async def test_a_tcp_peer_that_reset_before_connection_made_is_closed_cleanly() -> None:
    import asyncio

    endpoint = SipEndpoint(make_edge().core, asyncio.get_running_loop())
    before = REGISTRY.get_sample_value("sentiric_sip_tcp_refused_total", {"reason": "reset"}) or 0.0
    try:
        for name in ("tcp-abort-637bede62c.bin", "tcp-abort-fcc092a55a.bin"):
            protocol = SipTcpProtocol(endpoint)
            transport = ResetTransport()
            protocol.connection_made(transport)  # was: TypeError (None[:2])
            assert transport.aborted and protocol.peer is None
            protocol.data_received(reproducer(name))  # whatever was read already: dropped
            protocol.connection_lost(ConnectionResetError())
        assert endpoint.tcp_inbound == 0 and endpoint.tcp_per_source == {} and endpoint.tcp == {}
        after = REGISTRY.get_sample_value("sentiric_sip_tcp_refused_total", {"reason": "reset"})
        assert after == before + 2
    finally:
        endpoint.close()


# --- folded headers are echoed unfolded (edge/sip/builders.py; found by the run after the fixes) ----


def test_folded_headers_are_copied_into_answers_on_one_line() -> None:
    answers, logged = feed(make_edge(), reproducer("answer-86f961c85e.bin"))
    assert logged == [] and [status_of(a) for a in answers] == [400]
    assert check_response(answers[0]) is None
    assert b"\r\n " not in answers[0] and b"\r\n\t" not in answers[0]
    options = (
        b"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-fold\r\n"
        b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: fold\r\n"
        b"CSeq: 1 OPTIONS\r\n\tL\r\nContent-Length: 0\r\n\r\n"
    )
    answers, _ = feed(make_edge(), options)  # CSeq "1 OPTIONS L": a 400
    assert [status_of(a) for a in answers] == [400] and check_response(answers[0]) is None
    assert b"CSeq: 1 OPTIONS L\r\n" in answers[0]
    folded_to = options.replace(b"\tL\r\n", b"").replace(
        b"<sip:100@127.0.0.1>\r\n", b"<sip:100@127.0.0.1>\r\n ;x=1\r\n"
    )
    answers, _ = feed(make_edge(), folded_to)
    assert [status_of(a) for a in answers] == [200]
    assert b"\r\nTo: <sip:100@127.0.0.1> ;x=1" in answers[0] and b"\r\n ;x=1" not in answers[0]
