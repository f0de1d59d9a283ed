"""An outbound call over TLS from a real edge (real Kafka): ``sips:`` in the target makes the edge open a
TLS connection, verified against the configured CA, INVITE over it, and hang the answered call up on it.
The callee is a small Python ``ssl`` UAS here: the Debian sipp is built without TLS."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from pathlib import Path

import pytest

from edge.sip.builders import make_response
from edge.sip.message import SipRequest, parse_message
from schemas import models
from schemas.envelope import envelope
from sentiric.cert import LocalCertificate

from .conftest import StartEdge, node_facts
from .test_outbound_sipp import by_name, send, wait_established

ANSWER_SDP = (
    b"v=0\r\no=callee 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


@pytest.fixture
def cert(tmp_path: Path) -> LocalCertificate:
    local = LocalCertificate(tmp_path / "tls")
    local.make()
    return local


async def read_request(reader: asyncio.StreamReader) -> SipRequest:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    message = parse_message(head + (await reader.readexactly(length) if length else b""))
    assert isinstance(message, SipRequest)
    return message


async def test_outbound_call_over_tls_is_answered_and_hung_up_on_the_tls_connection(
    start_edge: StartEdge, kafka: str, cert: LocalCertificate
) -> None:
    seen: list[str] = []
    done = asyncio.Event()

    async def callee(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        invite = await read_request(reader)
        seen.append(f"{invite.method} {invite.top_via.transport}")
        port = writer.get_extra_info("sockname")[1]
        contact = ("Contact", f"<sip:1000@127.0.0.1:{port};transport=tls>")
        ok = make_response(
            invite,
            200,
            to_tag="tlscallee",
            headers=[contact],
            body=ANSWER_SDP,
            content_type="application/sdp",
        )
        writer.write(bytes(ok))
        while len(seen) < 3:  # the ACK, then the BYE
            request = await read_request(reader)
            seen.append(f"{request.method} {request.top_via.transport}")
            if request.method == "BYE":
                writer.write(bytes(make_response(request, 200)))
        await writer.drain()
        done.set()

    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(str(cert.cert_file), str(cert.key_file))
    server = await asyncio.start_server(callee, "127.0.0.1", 0, ssl=server_tls)
    port = server.sockets[0].getsockname()[1]
    try:
        app = await start_edge(
            sip_tls_port=0,
            sip_tls_cert_file=cert.cert_file,
            sip_tls_key_file=cert.key_file,
            sip_tls_ca_file=cert.ca_file,
        )
        target = f"sips:1000@127.0.0.1:{port}"
        cmd = models.OriginateCall(
            **envelope(str(uuid.uuid4()), seq=0, source="api"), to_uri=target, to=target
        )
        await send(kafka, app.settings.commands_topic, cmd)
        await wait_established(app, cmd.call_id)
        await send(
            kafka,
            app.settings.commands_topic,
            models.Hangup(**envelope(cmd.call_id, seq=1, source="t"), reason="done"),
        )
        await asyncio.wait_for(done.wait(), 20)
    finally:
        server.close()
        await server.wait_closed()
    assert seen == ["INVITE TLS", "ACK TLS", "BYE TLS"]
    f = by_name((await node_facts(app, kafka, 1))[cmd.call_id])
    assert f["CallInviteReceived"].transport == "tls"
    assert f["CallEnded"].disposition == "answered" and f["CallEnded"].hangup_by == "agent"
