"""The asyncio adapters on loopback: a UDP and a TCP OPTIONS exchange, keep-alive pong, garbage, and
the TCP caps (connections in all and per source, idle timeout, a peer that never reads)."""

import asyncio
import socket

from edge.transport import SipEndpoint, SipTcpProtocol, SipUdpProtocol, TcpLimits
from edge.uas.ratelimit import Bucket, SourceLimits
from tests.support.uas_harness import Phone, make_edge

OPTIONS = bytes(Phone(make_edge()).request("OPTIONS"))


class Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.put_nowait(data)


async def test_udp_and_tcp_round_trips() -> None:
    loop = asyncio.get_running_loop()
    endpoint = SipEndpoint(make_edge().core, loop)
    udp, _ = await loop.create_datagram_endpoint(
        lambda: SipUdpProtocol(endpoint), local_addr=("127.0.0.1", 0)
    )
    server = await loop.create_server(lambda: SipTcpProtocol(endpoint), "127.0.0.1", 0)
    try:
        port = udp.get_extra_info("sockname")[1]
        client_t, client = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
        client_t.sendto(b"not sip at all")
        client_t.sendto(OPTIONS)
        reply = await asyncio.wait_for(client.got.get(), 5)
        assert reply.startswith(b"SIP/2.0 200 OK\r\n") and client.got.empty()
        client_t.close()
        tcp_port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
        writer.write(b"\r\n\r\n" + OPTIONS[:50])
        assert await asyncio.wait_for(reader.readexactly(2), 5) == b"\r\n"  # pong (RFC 5626)
        writer.write(OPTIONS[50:])
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"SIP/2.0 200 OK\r\n")
        writer.close()
    finally:
        endpoint.close()
        udp.close()
        server.close()
        await server.wait_closed()


async def tcp_server(limits: TcpLimits) -> tuple[SipEndpoint, asyncio.AbstractServer, int]:
    loop = asyncio.get_running_loop()
    endpoint = SipEndpoint(make_edge(source_limits=SourceLimits(options=Bucket(0, 1))).core, loop, limits)
    server = await loop.create_server(lambda: SipTcpProtocol(endpoint), "127.0.0.1", 0)
    return endpoint, server, server.sockets[0].getsockname()[1]


async def test_tcp_connections_per_source_are_capped() -> None:
    endpoint, server, port = await tcp_server(TcpLimits(max_connections=10, max_per_source=2))
    try:
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the third is cut at once
        writer.close()
        r, w = conns[0]
        w.write(OPTIONS)
        assert (await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)).startswith(b"SIP/2.0 200")
        for _, w in conns:
            w.close()
        await asyncio.sleep(0.05)
        assert endpoint.tcp_inbound == 0 and endpoint.tcp_per_source == {}
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # slots came back
        writer.write(OPTIONS)
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"SIP/2.0 200")
        writer.close()
    finally:
        endpoint.close()
        server.close()
        await server.wait_closed()


async def test_tcp_connections_in_all_are_capped() -> None:
    endpoint, server, port = await tcp_server(TcpLimits(max_connections=1, max_per_source=5))
    try:
        _, first = await asyncio.open_connection("127.0.0.1", port)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        first.close()
        writer.close()
    finally:
        endpoint.close()
        server.close()
        await server.wait_closed()


async def test_a_tcp_peer_without_a_complete_message_is_closed_when_idle() -> None:
    endpoint, server, port = await tcp_server(TcpLimits(idle_s=0.3))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\r\n\r\n")  # a ping is a complete message: it resets the timer
        assert await asyncio.wait_for(reader.readexactly(2), 5) == b"\r\n"
        writer.write(OPTIONS[:40])  # then a message that never completes (slowloris)
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert asyncio.get_running_loop().time() - started >= 0.25
        writer.close()
    finally:
        endpoint.close()
        server.close()
        await server.wait_closed()


async def test_a_tcp_peer_that_never_reads_is_cut_at_the_write_buffer_mark() -> None:
    endpoint, server, port = await tcp_server(TcpLimits(write_buffer=16 * 1024))
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and never reads
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", port))
        burst = OPTIONS * 200
        cut = False
        for _ in range(200):  # up to 40,000 requests, each answered with a 200 nobody reads
            try:
                await asyncio.wait_for(loop.sock_sendall(sock, burst), 2)
            except (ConnectionError, TimeoutError, OSError):
                cut = True
                break
            await asyncio.sleep(0)
            if not endpoint.tcp:
                cut = True
                break
        assert cut and not endpoint.tcp
        assert metric_value("sentiric_sip_tcp_refused_total", reason="slow_reader") >= 1
        sock.close()
    finally:
        endpoint.close()
        server.close()
        await server.wait_closed()


def metric_value(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0
