"""The edge process with SIP over TLS configured (real Kafka): a Python ``ssl`` client's OPTIONS is
answered over TLS with the TLS Via, a peer that opens TCP and stalls the handshake is cut after
``sip_tls_handshake_s`` and gives its slot back, plain SIP on the TLS port gets nothing, and UDP on
5060 is unchanged.  A certificate that cannot be loaded stops the start with the file named."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from edge.app import EdgeConfigError
from edge.sip.message import SipResponse, parse_message
from sentiric.cert import LocalCertificate
from tests.support.uas_harness import Phone, make_edge

from .conftest import StartEdge, metric

OPTIONS = bytes(Phone(make_edge()).request("OPTIONS"))


@pytest.fixture
def cert(tmp_path: Path) -> LocalCertificate:
    local = LocalCertificate(tmp_path / "tls")
    local.make()
    return local


async def test_options_over_tls_and_a_stalled_handshake(
    start_edge: StartEdge, cert: LocalCertificate
) -> None:
    app = await start_edge(
        sip_tls_port=0,
        sip_tls_cert_file=cert.cert_file,
        sip_tls_key_file=cert.key_file,
        sip_tls_handshake_s=1.0,
        sip_tcp_max_per_source=2,
    )
    assert app.sip_tls_port not in (0, app.sip_port) and app.endpoint is not None
    trust = ssl.create_default_context(cafile=str(cert.ca_file))
    reader, writer = await asyncio.open_connection("127.0.0.1", app.sip_tls_port, ssl=trust)
    writer.write(OPTIONS.replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS", 1))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    response = parse_message(head)
    assert isinstance(response, SipResponse) and response.status == 200
    assert response.top_via.transport == "TLS"
    writer.close()

    cut_before = metric("sentiric_sip_tcp_refused_total", reason="handshake_timeout")
    stalled_r, stalled_w = await asyncio.open_connection("127.0.0.1", app.sip_tls_port)  # no ClientHello
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await asyncio.wait_for(stalled_r.read(), 30) == b""
    assert loop.time() - started >= 0.8
    stalled_w.close()
    assert metric("sentiric_sip_tcp_refused_total", reason="handshake_timeout") == cut_before + 1
    while app.endpoint.tcp_inbound:  # noqa: ASYNC110 - the slot is given back when the socket closes
        await asyncio.sleep(0.02)

    plain_r, plain_w = await asyncio.open_connection("127.0.0.1", app.sip_tls_port)
    plain_w.write(OPTIONS)  # plain SIP is not a ClientHello: no SIP answer, the connection closes
    assert b"SIP/2.0" not in await asyncio.wait_for(plain_r.read(), 30)
    plain_w.close()


async def test_an_unloadable_certificate_stops_the_start(start_edge: StartEdge, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(EdgeConfigError, match=r"SIP over TLS: cannot load .*missing\.pem"):
        await start_edge(sip_tls_port=0, sip_tls_cert_file=missing, sip_tls_key_file=missing)
