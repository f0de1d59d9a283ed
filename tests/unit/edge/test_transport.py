"""The asyncio adapters on loopback: a UDP and a TCP OPTIONS exchange, keep-alive pong, garbage."""

import asyncio

from edge.transport import SipEndpoint, SipTcpProtocol, SipUdpProtocol
from edge.uas.testing import Phone, make_edge

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
