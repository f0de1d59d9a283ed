"""Requests the edge sends in a dialog go to the dialog's route set / remote target (RFC 3261 §12.2.1.1),
not to the INVITE's source: a running edge and a scripted phone on plain sockets.

The phone signals from one UDP socket but names another in its Contact; the edge's BYE (a ``Hangup``)
must reach the Contact.  With a Record-Route naming a TCP "proxy" the test listens on, the BYE must
open a TCP connection to it and carry the Route header.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

from edge.app import EdgeApp
from edge.sip.builders import make_request, make_response
from edge.sip.framing import StreamFramer
from edge.sip.message import SipRequest, SipResponse, parse_message

from .conftest import BASIC, StartEdge, node_facts, sip_names, sip_only

OFFER = (
    b"v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
)


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    return sock


def receive(sock: socket.socket) -> SipRequest | SipResponse:
    return parse_message(sock.recv(65535))


def request(method: str, edge_port: int, src: socket.socket, contact_port: int, **kw: object) -> SipRequest:
    port = src.getsockname()[1]
    return make_request(
        method,
        f"sip:1000@127.0.0.1:{edge_port}",
        via=f"SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{uuid.uuid4().hex}",
        from_=f"<sip:phone@127.0.0.1:{port}>;tag=ph1",
        contact=f"<sip:phone@127.0.0.1:{contact_port}>",
        **kw,  # type: ignore[arg-type]
    )


async def call_until_bye(
    app: EdgeApp, signalling: socket.socket, contact_port: int, routes: list[str]
) -> None:
    """INVITE from ``signalling`` (Contact names ``contact_port``), ACK, then the edge's Hangup."""
    call_id = f"{uuid.uuid4().hex}@127.0.0.1"
    edge = ("127.0.0.1", app.sip_port)
    invite = request(
        "INVITE", app.sip_port, signalling, contact_port, to="<sip:1000@127.0.0.1>", call_id=call_id,
        cseq=1, body=OFFER, content_type="application/sdp",
        headers=[("Record-Route", r) for r in routes],
    )  # fmt: skip
    signalling.sendto(bytes(invite), edge)
    loop = asyncio.get_running_loop()
    while True:
        msg = await loop.run_in_executor(None, receive, signalling)
        if isinstance(msg, SipResponse) and msg.status == 200:
            break
    ack = request("ACK", app.sip_port, signalling, contact_port, to=str(msg.to_addr), call_id=call_id, cseq=1)
    signalling.sendto(bytes(ack), edge)
    assert app.core is not None
    for _ in range(100):
        established = [c for c in app.core.calls.values() if c.established_at is not None]
        if established:
            break
        await asyncio.sleep(0.02)
    assert app.endpoint is not None
    app.endpoint.hangup(established[0].call_id, "agent_hangup")


async def test_bye_goes_to_the_contact_not_to_the_invite_source(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    app = await start_edge()
    signalling, contact = udp_socket(), udp_socket()
    try:
        await call_until_bye(app, signalling, contact.getsockname()[1], [])
        loop = asyncio.get_running_loop()
        bye = await loop.run_in_executor(None, receive, contact)
        assert isinstance(bye, SipRequest) and bye.method == "BYE"
        assert str(bye.request_uri) == f"sip:phone@127.0.0.1:{contact.getsockname()[1]}"
        contact.sendto(bytes(make_response(bye, 200)), ("127.0.0.1", app.sip_port))
    finally:
        signalling.close()
        contact.close()
    (records,) = [sip_only(r) for r in (await node_facts(app, kafka, 1)).values()]
    assert sip_names(records) == BASIC and records[-2].reason == "agent_hangup"


async def test_bye_follows_a_tcp_record_route(start_edge: StartEdge, kafka: str, tmp_path: Path) -> None:
    app = await start_edge()
    received: asyncio.Queue[SipRequest] = asyncio.Queue()

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = StreamFramer()
        while data := await reader.read(65535):
            for frame in framer.feed(data):
                if isinstance(frame, bytes):
                    msg = parse_message(frame)
                    assert isinstance(msg, SipRequest)
                    writer.write(bytes(make_response(msg, 200)))
                    await received.put(msg)
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    signalling = udp_socket()
    try:
        route = f"<sip:127.0.0.1:{server.sockets[0].getsockname()[1]};transport=tcp;lr>"
        await call_until_bye(app, signalling, signalling.getsockname()[1], [route])
        bye = await asyncio.wait_for(received.get(), 5)
        assert bye.method == "BYE" and bye.header("route") == route
        assert bye.top_via.transport == "TCP"
    finally:
        signalling.close()
        server.close()
    (records,) = [sip_only(r) for r in (await node_facts(app, kafka, 1)).values()]
    assert sip_names(records) == BASIC
