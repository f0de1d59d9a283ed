"""Next hop of the requests the edge sends in a dialog: route set, remote target, transport, fallbacks."""

from __future__ import annotations

import pytest

from edge.effects import Send
from edge.sip.dialog import Dialog
from edge.uas.call import Peer
from edge.uas.routing import destination_uri, next_hop
from tests.support.uas_harness import Edge, Phone, requests

UDP_FLOW = Peer("udp", ("198.51.100.7", 40123))  # where the INVITE came from (say, a NAT's address)
TCP_FLOW = Peer("tcp", ("192.0.2.10", 51000))
TLS_FLOW = Peer("tls", ("192.0.2.10", 51001))


def dialog(target: str, *routes: str) -> Dialog:
    return Dialog(
        call_id="c", local_tag="a", remote_tag="b", local_uri="sip:1000@192.0.2.1",
        remote_uri="sip:alice@192.0.2.10", remote_target=target, route_set=routes,
        remote_seq=1, local_contact="<sip:192.0.2.1:5060>",
    )  # fmt: skip


@pytest.mark.parametrize(
    "target,routes,flow,hop",
    [
        ("sip:alice@192.0.2.10:5062", (), UDP_FLOW, Peer("udp", ("192.0.2.10", 5062))),
        ("sip:alice@192.0.2.10", (), UDP_FLOW, Peer("udp", ("192.0.2.10", 5060))),
        ("sips:alice@192.0.2.10", (), UDP_FLOW, Peer("tls", ("192.0.2.10", 5061))),
        ("sips:alice@192.0.2.10:5063;transport=tcp", (), UDP_FLOW, Peer("tls", ("192.0.2.10", 5063))),
        ("sip:alice@192.0.2.10:5063;transport=tls", (), UDP_FLOW, Peer("tls", ("192.0.2.10", 5063))),
        ("sip:alice@192.0.2.10:5063;transport=tls", (), TLS_FLOW, TLS_FLOW),  # reuse the TLS connection
        ("sips:alice@192.0.2.10:5063", (), TLS_FLOW, TLS_FLOW),
        ("sip:alice@192.0.2.10:5062;transport=tcp", (), TLS_FLOW, Peer("tcp", ("192.0.2.10", 5062))),
        ("sip:alice@192.0.2.10:5062;transport=TCP", (), UDP_FLOW, Peer("tcp", ("192.0.2.10", 5062))),
        ("sip:alice@192.0.2.10:5062", ("<sip:203.0.113.5:5070;lr>",), UDP_FLOW,
         Peer("udp", ("203.0.113.5", 5070))),
        ("sip:alice@192.0.2.10", ("<sip:203.0.113.5;lr;transport=tcp>", "<sip:203.0.113.6;lr>"), UDP_FLOW,
         Peer("tcp", ("203.0.113.5", 5060))),
        ("sip:alice@192.0.2.10:5062", ("<sip:203.0.113.5:5070>",), UDP_FLOW,  # strict router
         Peer("udp", ("203.0.113.5", 5070))),
        ("sip:alice@192.0.2.10;maddr=203.0.113.9", (), UDP_FLOW, Peer("udp", ("203.0.113.9", 5060))),
        ("sip:alice@[2001:db8::1]:5062", (), UDP_FLOW, Peer("udp", ("2001:db8::1", 5062))),
        ("sip:alice@phone.example.com", (), UDP_FLOW, UDP_FLOW),  # needs DNS: keep the flow
        ("tel:+15551234", (), UDP_FLOW, UDP_FLOW),
        ("sip:alice@192.0.2.10:5062", (), TCP_FLOW, TCP_FLOW),  # reuse the caller's connection
        ("sip:alice@192.0.2.10:5062;transport=udp", (), TCP_FLOW, Peer("udp", ("192.0.2.10", 5062))),
        ("sip:alice@192.0.2.10", ("<sip:203.0.113.5;lr>",), TCP_FLOW, Peer("tcp", ("203.0.113.5", 5060))),
    ],
)  # fmt: skip
def test_next_hop(target: str, routes: tuple[str, ...], flow: Peer, hop: Peer) -> None:
    assert next_hop(dialog(target, *routes), flow) == hop


def test_destination_is_first_route_else_target() -> None:
    assert (
        destination_uri(dialog("sip:a@192.0.2.10", "<sip:p1.example;lr>", "<sip:p2;lr>"))
        == "sip:p1.example;lr"
    )
    assert destination_uri(dialog("sip:a@192.0.2.10")) == "sip:a@192.0.2.10"


def bye_after(edge: Edge, phone: Phone, **invite: object) -> tuple[object, object]:
    phone.invite(0.0, **invite)  # type: ignore[arg-type]
    phone.ack(0.01)
    out = edge.core.hangup(edge.call_id, "agent_hangup", 1.0)
    (bye,) = requests(out)
    (send,) = [e for e in out if isinstance(e, Send) and e.data == bytes(bye)]
    return bye, send.addr


def test_bye_goes_to_the_contact_not_the_invite_source(edge: Edge) -> None:
    phone = Phone(edge, peer=UDP_FLOW)  # Contact <sip:alice@192.0.2.10:5062>, source elsewhere
    bye, peer = bye_after(edge, phone)
    assert peer == Peer("udp", ("192.0.2.10", 5062))
    assert str(bye.request_uri) == "sip:alice@192.0.2.10:5062" and bye.top_via.transport == "UDP"


def test_bye_follows_the_record_route(edge: Edge) -> None:
    phone = Phone(edge, peer=UDP_FLOW)
    rr = [("Record-Route", "<sip:203.0.113.5:5070;lr;transport=tcp>")]
    bye, peer = bye_after(edge, phone, headers=rr)
    assert peer == Peer("tcp", ("203.0.113.5", 5070)) and bye.top_via.transport == "TCP"
    assert bye.header("route") == "<sip:203.0.113.5:5070;lr;transport=tcp>"
    assert str(bye.request_uri) == "sip:alice@192.0.2.10:5062"


def test_refer_and_its_response_use_the_hop(edge: Edge) -> None:
    phone = Phone(edge, peer=UDP_FLOW)
    phone.invite(0.0)
    phone.ack(0.01)
    out = edge.core.transfer(edge.call_id, "sip:human@192.0.2.50", 1.0)
    (refer,) = requests(out)
    assert [e.addr for e in out if getattr(e, "data", None) == bytes(refer)] == [
        Peer("udp", ("192.0.2.10", 5062))
    ]
    phone.peer = Peer("udp", ("192.0.2.10", 5062))
    phone.answer(refer, 202, now=1.1)
    assert [r.status for r in edge.facts() if type(r).__name__ == "CallTransferred"] == [
        "requested",
        "accepted",
    ]
