"""What SIP over TLS costs against plain TCP: OPTIONS round trips on one open connection, and new
connections (connect, handshake, one OPTIONS, close) per second.

    .venv/bin/python bench/tls_bench.py [--seconds 5]

The edge's real transports (``edge.transport``: ``SipTcpProtocol``, ``SipTlsProtocol`` with the caps
and ``start_tls``) over the sans-IO core with a certificate from ``sentiric cert`` (EC P-256), on
loopback.  Client and server share one process and one event loop, so each figure is the work of
both ends on one core: a lower bound for the edge alone.  The per-source OPTIONS rate limit is
raised (bench only) so it is the transport that is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the sipp and UAS test helpers live with the tests

from edge.transport import SipEndpoint, SipTcpProtocol, SipTlsProtocol, TcpLimits, tls_contexts  # noqa: E402 - after the path set-up
from edge.uas.ratelimit import Bucket, SourceLimits  # noqa: E402 - after the path set-up
from sentiric.cert import LocalCertificate  # noqa: E402 - after the path set-up
from tests.support.uas_harness import Phone, make_edge  # noqa: E402 - after the path set-up

OPTIONS = bytes(Phone(make_edge()).request("OPTIONS"))


async def round_trips(port: int, context: ssl.SSLContext | None, seconds: float) -> float:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="localhost" if context else None
    )
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        writer.write(OPTIONS)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"SIP/2.0 200"), head[:40]
        done += 1
    rate = done / (time.perf_counter() - began)
    writer.close()
    return rate


async def connections(port: int, context: ssl.SSLContext | None, seconds: float) -> float:
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="localhost" if context else None
        )
        writer.write(OPTIONS)
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"SIP/2.0 200")
        writer.close()
        await writer.wait_closed()
        done += 1
    return done / (time.perf_counter() - began)


async def run(seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cert = LocalCertificate(Path(tmp))
        cert.make()
        contexts = tls_contexts(str(cert.cert_file), str(cert.key_file))
        client = ssl.create_default_context(cafile=str(cert.ca_file))
        loop = asyncio.get_running_loop()
        core = make_edge(source_limits=SourceLimits(options=Bucket(1e9, 1e9)), tls_port=0).core
        endpoint = SipEndpoint(core, loop, TcpLimits(max_per_source=100_000), contexts)
        tcp = await loop.create_server(lambda: SipTcpProtocol(endpoint), "127.0.0.1", 0)
        tls = await loop.create_server(lambda: SipTlsProtocol(endpoint), "127.0.0.1", 0)
        tcp_port, tls_port = (s.sockets[0].getsockname()[1] for s in (tcp, tls))
        try:
            out = {
                "options_per_s_tcp": await round_trips(tcp_port, None, seconds),
                "options_per_s_tls": await round_trips(tls_port, client, seconds),
                "connections_per_s_tcp": await connections(tcp_port, None, seconds),
                "connections_per_s_tls": await connections(tls_port, client, seconds),
            }
        finally:
            endpoint.close()
            for server in (tcp, tls):
                server.close()
                await server.wait_closed()
    out["handshake_ms_tls"] = 1000 / out["connections_per_s_tls"] - 1000 / out["connections_per_s_tcp"]
    return {k: round(v, 2) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    print(json.dumps(asyncio.run(run(parser.parse_args().seconds)), indent=2))


if __name__ == "__main__":
    main()
