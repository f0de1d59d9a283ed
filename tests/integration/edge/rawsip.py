"""Our own minimal SIP/RTP peers for the hostile-input tests: byte-exact requests from chosen loopback
addresses, and sinks that count what arrives (the edge's replies, RTP sent to a "victim")."""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

from edge.sip.message import SipResponse, parse_message


class Sink(asyncio.DatagramProtocol):
    """A UDP socket that keeps everything it receives."""

    def __init__(self) -> None:
        self.datagrams: list[tuple[bytes, tuple[str, int]]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.arrived = asyncio.Event()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.datagrams.append((data, addr))
        self.arrived.set()

    @property
    def addr(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port

    def responses(self) -> list[SipResponse]:
        out = []
        for data, _ in self.datagrams:
            if data.startswith(b"SIP/2.0 "):
                msg = parse_message(data)
                assert isinstance(msg, SipResponse)
                out.append(msg)
        return out

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, to)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def sink(host: str = "127.0.0.1", port: int = 0) -> Sink:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(Sink, local_addr=(host, port))
    return protocol


def free_even_pair(host: str) -> int:
    """An even UDP port whose successor is free too on ``host`` (an RTP/RTCP pair for a fake peer)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1] & ~1
        try:
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b,
            ):
                a.bind((host, port))
                b.bind((host, port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError(f"no free even UDP port pair on {host}")


def sdp(ip: str, port: int) -> bytes:
    return (
        f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        "a=sendrecv\r\n"
    ).encode()


@dataclass
class Dialog:
    """One call placed by :class:`RawUac`: what it needs to ACK and hang up."""

    call_id: str
    from_tag: str
    invite: bytes
    to_tag: str = ""
    answers: list[SipResponse] = field(default_factory=list)


class RawUac:
    """A UAC that writes its requests by hand (so a test can replay them byte for byte from elsewhere)."""

    def __init__(self, sock: Sink, edge: tuple[str, int]) -> None:
        self.sock = sock
        self.edge = edge
        self.cseq = 1

    def request(
        self,
        method: str,
        dialog: Dialog,
        *,
        user: str = "1000",
        body: bytes = b"",
        cseq: int = 1,
        branch: str | None = None,
    ) -> bytes:
        ip, port = self.sock.addr
        host, edge_port = self.edge
        to = f"<sip:{user}@{host}>" + (
            f";tag={dialog.to_tag}" if dialog.to_tag and method != "INVITE" else ""
        )
        lines = [
            f"{method} sip:{user}@{host}:{edge_port} SIP/2.0",
            f"Via: SIP/2.0/UDP {ip}:{port};branch={branch or 'z9hG4bK' + uuid.uuid4().hex[:16]};rport",
            "Max-Forwards: 70",
            f"From: <sip:caller@{ip}>;tag={dialog.from_tag}",
            f"To: {to}",
            f"Call-ID: {dialog.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:caller@{ip}:{port}>",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def invite(self, body: bytes, *, user: str = "1000") -> Dialog:
        dialog = Dialog(f"{uuid.uuid4().hex}@raw", uuid.uuid4().hex[:8], b"")
        dialog.invite = self.request("INVITE", dialog, user=user, body=body)
        self.sock.send(dialog.invite, self.edge)
        return dialog

    async def final(self, dialog: Dialog, within_s: float = 10.0) -> SipResponse:
        """The first final response for ``dialog``'s INVITE (its To-tag is remembered)."""
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            for r in self.sock.responses():
                if r.call_id == dialog.call_id and r.cseq.method == "INVITE" and r.status >= 200:
                    dialog.to_tag = r.to_addr.tag or ""
                    return r
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no final response for {dialog.call_id}")
            await asyncio.sleep(0.01)

    def ack(self, dialog: Dialog) -> None:
        self.sock.send(self.request("ACK", dialog), self.edge)

    def bye(self, dialog: Dialog) -> None:
        self.sock.send(self.request("BYE", dialog, cseq=2), self.edge)

    def count(self, dialog: Dialog, status: int) -> int:
        return sum(1 for r in self.sock.responses() if r.call_id == dialog.call_id and r.status == status)
