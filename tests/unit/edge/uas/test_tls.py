"""Dialogs over SIP over TLS (RFC 3261 §26, RFC 5630): our Contact and Via name the TLS port and say
TLS, ``sips:`` where the caller asked for a secure dialog, the caller's TLS flow carries our BYE, and an
SDES-SRTP offer is answered with our own key."""

from __future__ import annotations

import pytest

from edge.effects import Send
from edge.sdp import SessionDescription
from edge.sip.headers import Address
from edge.uas.call import OpenMedia, Peer
from tests.support.uas_harness import Edge, Phone, make_edge, requests, responses, statuses
from tests.unit.edge.uas.test_srtp_policy import KEY80, savp_offer

TLS_PEER = Peer("tls", ("192.0.2.10", 51000))  # the phone's ephemeral port of its TLS connection


@pytest.fixture
def edge() -> Edge:
    return make_edge(tls_port=5061)


def contact_of_200(out: list) -> str:
    (ok,) = [r for r in responses(out) if r.status == 200]
    return ok.header("contact") or ""


@pytest.mark.parametrize(
    "uri,contact,headers,expected",
    [
        ("sip:1000@192.0.2.1", "<sip:alice@192.0.2.10:5062;transport=tls>", [],
         "<sip:192.0.2.1:5061;transport=tls>"),
        ("sips:1000@192.0.2.1", "<sips:alice@192.0.2.10:5063>", [], "<sips:192.0.2.1:5061>"),
        ("sip:1000@192.0.2.1", "<sips:alice@192.0.2.10:5063>", [], "<sips:192.0.2.1:5061>"),
        ("sip:1000@192.0.2.1", "<sips:alice@192.0.2.10:5063>",  # the top Record-Route decides
         [("Record-Route", "<sip:203.0.113.5;lr;transport=tls>")], "<sip:192.0.2.1:5061;transport=tls>"),
        ("sip:1000@192.0.2.1", "<sip:alice@192.0.2.10:5062>",
         [("Record-Route", "<sips:203.0.113.5;lr>")], "<sips:192.0.2.1:5061>"),
    ],
)  # fmt: skip
def test_the_200_contact_names_the_tls_port(
    edge: Edge, uri: str, contact: str, headers: list[tuple[str, str]], expected: str
) -> None:
    phone = Phone(edge, peer=TLS_PEER)
    body = savp_offer(f"1 AES_CM_128_HMAC_SHA1_80 {KEY80}")
    data = bytes(phone.request("INVITE", to_tag="", uri=uri, headers=headers, body=body)).replace(
        b"<sip:alice@192.0.2.10:5062>", contact.encode(), 1
    )
    out = phone.send(data, 0.0)
    assert statuses(out) == [200]
    assert contact_of_200(out) == expected
    assert all(isinstance(e.addr, Peer) and e.addr == TLS_PEER for e in out if isinstance(e, Send))


def test_udp_and_tcp_dialogs_keep_the_plain_port(edge: Edge) -> None:
    for peer, expected in (
        (Peer("udp", ("192.0.2.10", 5062)), "<sip:192.0.2.1:5060>"),
        (Peer("tcp", ("192.0.2.10", 51002)), "<sip:192.0.2.1:5060;transport=tcp>"),
    ):
        assert contact_of_200(Phone(edge, peer=peer).invite(0.0)) == expected


def test_bye_goes_down_the_callers_tls_flow_with_a_tls_via(edge: Edge) -> None:
    phone = Phone(edge, peer=TLS_PEER)
    body = savp_offer(f"1 AES_CM_128_HMAC_SHA1_80 {KEY80}")
    data = bytes(phone.request("INVITE", to_tag="", body=body)).replace(
        b"<sip:alice@192.0.2.10:5062>", b"<sip:alice@192.0.2.10:5062;transport=tls>", 1
    )
    phone.invite_cseq = 1
    phone.send(data, 0.0)
    phone.ack(0.01)
    out = edge.core.hangup(edge.call_id, "agent_hangup", 1.0)
    (bye,) = requests(out)
    assert bye.method == "BYE" and bye.top_via.transport == "TLS"
    assert (bye.top_via.host, bye.top_via.port) == ("192.0.2.1", 5061)
    assert Address.parse(bye.header("contact") or "").uri.param("transport") == "tls"
    (send,) = [e for e in out if getattr(e, "data", None) == bytes(bye)]
    assert send.addr == TLS_PEER  # the phone's own connection, not a new one to its port 5062


def test_an_sdes_offer_over_tls_is_answered_with_our_key_and_srtp_media(edge: Edge) -> None:
    phone = Phone(edge, peer=TLS_PEER)
    out = phone.invite(0.0, body=savp_offer(f"1 AES_CM_128_HMAC_SHA1_80 {KEY80}"))
    assert statuses(out) == [200]
    audio = SessionDescription.parse(responses(out)[0].body).media[0]
    assert audio.proto == "RTP/SAVP"
    (ours,) = audio.cryptos
    assert ours.suite == "AES_CM_128_HMAC_SHA1_80" and KEY80 not in str(ours)
    (opened,) = [e for e in out if isinstance(e, OpenMedia)]
    assert opened.options.crypto_remote is not None and opened.options.crypto_local is not None
    assert edge.facts(edge.call_id)[0].transport == "tls"
