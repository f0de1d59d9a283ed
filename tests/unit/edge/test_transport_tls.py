"""SIP over TLS on loopback (RFC 3261 §26.2): an OPTIONS round trip through a verifying ``ssl`` client,
the TCP caps counted before the handshake, a handshake that stalls cut after ``handshake_s``, plain
text on the TLS port refused, and the edge reaching a TLS hop it opens itself."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.sip.message import SipRequest, parse_message
from edge.sip.transaction import Send
from edge.transport import SipEndpoint, SipTlsProtocol, TcpLimits, TlsContexts, tls_contexts
from edge.uas.call import Peer
from edge.uas.ratelimit import Bucket, SourceLimits
from sentiric.cert import LocalCertificate
from tests.support.uas_harness import Phone, make_edge
from tests.unit.edge.test_transport import metric_value

OPTIONS = bytes(Phone(make_edge()).request("OPTIONS"))


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> LocalCertificate:
    local = LocalCertificate(tmp_path_factory.mktemp("tls"))
    local.make()
    return local


@pytest.fixture(scope="module")
def contexts(cert: LocalCertificate) -> TlsContexts:
    return tls_contexts(str(cert.cert_file), str(cert.key_file), str(cert.ca_file))


def client_context(cert: LocalCertificate) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert.ca_file))


async def tls_server(
    contexts: TlsContexts, limits: TcpLimits | None = None
) -> tuple[SipEndpoint, asyncio.AbstractServer, int]:
    loop = asyncio.get_running_loop()
    core = make_edge(source_limits=SourceLimits(options=Bucket(0, 1)), tls_port=5061).core
    endpoint = SipEndpoint(core, loop, limits or TcpLimits(), contexts)
    server = await loop.create_server(lambda: SipTlsProtocol(endpoint), "127.0.0.1", 0)
    return endpoint, server, server.sockets[0].getsockname()[1]


async def stop(endpoint: SipEndpoint, server: asyncio.AbstractServer) -> None:
    endpoint.close()
    server.close()
    await server.wait_closed()


async def until(predicate: Callable[[], bool]) -> None:
    """Poll (a loaded box is slow) until the predicate holds; pytest-timeout bounds a hang."""
    while not predicate():  # noqa: ASYNC110 - state of the endpoint, no event to wait on
        await asyncio.sleep(0.01)


async def test_options_over_tls_with_a_verifying_client(
    cert: LocalCertificate, contexts: TlsContexts
) -> None:
    endpoint, server, port = await tls_server(contexts)
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context(cert), server_hostname="localhost"
        )
        assert writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
        writer.write(b"\r\n\r\n" + OPTIONS[:50])
        assert await asyncio.wait_for(reader.readexactly(2), 5) == b"\r\n"  # pong (RFC 5626)
        writer.write(OPTIONS[50:])
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"SIP/2.0 200 OK\r\n")
        assert len(endpoint.tcp) == 1 and next(iter(endpoint.tcp)).transport == "tls"
        writer.close()
        await until(lambda: endpoint.tcp_inbound == 0 and not endpoint.tcp)
    finally:
        await stop(endpoint, server)


async def test_the_first_request_may_ride_with_the_handshakes_last_flight(
    cert: LocalCertificate, contexts: TlsContexts
) -> None:
    """Bytes the TLS layer decrypts before ``start_tls`` returns are not lost (TLS 1.3 lets the client
    send right after its Finished)."""
    endpoint, server, port = await tls_server(contexts)
    try:
        for _ in range(5):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client_context(cert), server_hostname="127.0.0.1"
            )
            writer.write(OPTIONS)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"SIP/2.0 200 OK\r\n")
            writer.close()
    finally:
        await stop(endpoint, server)


async def test_a_stalled_handshake_is_cut_and_its_slot_released(contexts: TlsContexts) -> None:
    endpoint, server, port = await tls_server(contexts, TcpLimits(max_per_source=1, handshake_s=0.5))
    try:
        before = metric_value("sentiric_sip_tcp_refused_total", reason="handshake_timeout")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # TCP only, no ClientHello
        await until(lambda: endpoint.tcp_inbound == 1)  # counted before any handshake
        second_r, second_w = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(second_r.read(), 5) == b""  # over the per-source cap: cut at once
        second_w.close()
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), 10) == b""  # the stalled one is cut...
        assert asyncio.get_running_loop().time() - started >= 0.3  # ...after the handshake timeout
        writer.close()
        await until(lambda: endpoint.tcp_inbound == 0 and endpoint.tcp_per_source == {})
        assert metric_value("sentiric_sip_tcp_refused_total", reason="handshake_timeout") == before + 1
    finally:
        await stop(endpoint, server)


async def test_plain_sip_on_the_tls_port_gets_no_answer(contexts: TlsContexts) -> None:
    endpoint, server, port = await tls_server(contexts)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(OPTIONS)  # not a ClientHello: the handshake fails, the connection closes
        data = await asyncio.wait_for(reader.read(), 10)
        assert b"SIP/2.0" not in data
        writer.close()
        await until(lambda: endpoint.tcp_inbound == 0)
    finally:
        await stop(endpoint, server)


async def test_a_client_that_does_not_trust_the_certificate_fails(contexts: TlsContexts) -> None:
    endpoint, server, port = await tls_server(contexts)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.open_connection("127.0.0.1", port, ssl=ssl.create_default_context())
        await until(lambda: endpoint.tcp_inbound == 0)
    finally:
        await stop(endpoint, server)


async def test_the_edge_opens_a_verified_tls_hop_for_a_request(
    cert: LocalCertificate, contexts: TlsContexts
) -> None:
    """A request to a TLS hop with no open flow (a sips: Contact elsewhere): the endpoint connects
    with its client context, verifying the hop's certificate, and sends over it."""
    loop = asyncio.get_running_loop()
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def hop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.put_nowait(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert.cert_file, cert.key_file)
    phone = await asyncio.start_server(hop, "127.0.0.1", 0, ssl=server_ctx)
    endpoint = SipEndpoint(make_edge().core, loop, TcpLimits(), contexts)
    try:
        target = Peer("tls", ("127.0.0.1", phone.sockets[0].getsockname()[1]))
        endpoint.dispatch([Send(OPTIONS, target)])
        request = parse_message(await asyncio.wait_for(got.get(), 10))
        assert isinstance(request, SipRequest) and request.method == "OPTIONS"
    finally:
        endpoint.close()
        phone.close()
        await phone.wait_closed()


def test_tls_contexts_refuse_old_protocol_versions(contexts: TlsContexts) -> None:
    assert contexts.server.minimum_version == ssl.TLSVersion.TLSv1_2
    assert contexts.client.verify_mode == ssl.CERT_REQUIRED and contexts.client.check_hostname


def test_an_unreadable_key_fails_loudly(tmp_path: Path, cert: LocalCertificate) -> None:
    with pytest.raises(OSError):
        tls_contexts(str(cert.cert_file), str(tmp_path / "missing.pem"))
