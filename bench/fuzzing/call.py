"""A real call for the media phase: a well-formed INVITE (plain RTP or SDES-SRTP), the ACK, later the BYE.

The fuzzer offers one of its own UDP sockets as the media address, so the edge latches onto it and the
mutated RTP that follows comes from the address the call's signalling came from.
"""

from __future__ import annotations

import base64
import os
import random
import re
import select
import socket
import time
from dataclasses import dataclass

from bench.fuzzing.peers import headers_of

PROFILES = {
    "pcmu": "RTP/AVP 0 8 101",
    "pcma": "RTP/AVP 8 101",
    "srtp": "RTP/SAVP 0 101",
}


@dataclass
class Call:
    call_id: str
    sip: socket.socket
    rtp: socket.socket  # our media socket (the offer's port)
    edge_port: int
    remote_rtp: int  # the edge's RTP port from the answer
    from_hdr: bytes
    to_hdr: bytes
    profile: str
    refused: int = 0  # 503s before it was answered


def _sdp(port: int, profile: str) -> bytes:
    lines = [
        "v=0",
        "o=fuzz 1 1 IN IP4 127.0.0.1",
        "s=fuzz",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        f"m=audio {port} {PROFILES[profile]}",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
    ]
    if profile == "srtp":
        key = base64.b64encode(os.urandom(30)).decode()
        lines.append(f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}")
    return ("\r\n".join(lines) + "\r\n").encode()


def _request(
    method: str,
    edge_port: int,
    local: tuple[str, int],
    call_id: str,
    cseq: int,
    from_hdr: bytes,
    to_hdr: bytes,
    body: bytes = b"",
) -> bytes:
    # the branch carries the whole random part of the Call-ID: a 503 retried with a new Call-ID from the
    # same socket must not look like a retransmission of the refused INVITE (it got the stored 503)
    branch = f"z9hG4bK-{call_id.partition('@')[0]}-{cseq}{method}"
    head = (
        f"{method} sip:100@127.0.0.1:{edge_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {local[0]}:{local[1]};branch={branch};rport\r\n"
        f"Max-Forwards: 70\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
        f"Contact: <sip:fuzzer@{local[0]}:{local[1]}>\r\n"
    ).encode()
    head += b"From: " + from_hdr + b"\r\nTo: " + to_hdr + b"\r\n"
    if body:
        head += b"Content-Type: application/sdp\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def _transact(
    sock: socket.socket, edge: tuple[str, int], data: bytes, call_id: str, timeout_s: float = 8.0
) -> bytes:
    """Send (retransmitting at T1 doubling) until a final response for ``call_id`` arrives."""
    deadline = time.monotonic() + timeout_s
    interval, resend = 0.5, 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= resend:
            sock.sendto(data, edge)
            resend = time.monotonic() + interval
            interval = min(interval * 2, 4.0)
        ready, _, _ = select.select([sock], [], [], 0.05)
        if not ready:
            continue
        resp = sock.recv(70000)
        m = re.match(rb"SIP/2\.0 (\d{3})", resp)
        if m and int(m.group(1)) >= 200 and call_id.encode() in resp:
            return resp
    raise TimeoutError(f"no final response to {data.split(b' ', 1)[0].decode()} {call_id}")


def open_call(edge_port: int, profile: str, n: int) -> Call:
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind(("127.0.0.1", 0))
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    rtp.setblocking(False)
    local = sip.getsockname()
    from_hdr = b"<sip:fuzzer@127.0.0.1>;tag=m%d" % n
    to_hdr = b"<sip:100@127.0.0.1>"
    edge = ("127.0.0.1", edge_port)
    sdp = _sdp(rtp.getsockname()[1], profile)
    deadline = time.monotonic() + 60
    refused = 0
    while True:  # a 503 (after a fuzz phase: ports or log busy) is retried, as a caller would
        call_id = f"media{n}-{random.getrandbits(48):x}@127.0.0.1"
        resp = _transact(
            sip, edge, _request("INVITE", edge_port, local, call_id, 1, from_hdr, to_hdr, sdp), call_id
        )
        if not resp.startswith(b"SIP/2.0 503") or time.monotonic() > deadline:
            break
        refused += 1
        time.sleep(2)
    if not resp.startswith(b"SIP/2.0 200"):
        status = resp.split(b"\r\n", 1)[0].decode(errors="replace")
        raise RuntimeError(f"the {profile} call was refused: {status}")
    to_hdr = headers_of(resp)[b"to"]
    sip.sendto(_request("ACK", edge_port, local, call_id, 1, from_hdr, to_hdr), edge)
    port = re.search(rb"m=audio (\d+)", resp)
    if port is None:
        raise RuntimeError("the 200 OK has no m=audio line")
    return Call(call_id, sip, rtp, edge_port, int(port.group(1)), from_hdr, to_hdr, profile, refused)


def hang_up(call: Call) -> int:
    """BYE; the final status (0 when none came)."""
    bye = _request("BYE", call.edge_port, call.sip.getsockname(), call.call_id, 2, call.from_hdr, call.to_hdr)
    try:
        resp = _transact(call.sip, ("127.0.0.1", call.edge_port), bye, call.call_id)
    except TimeoutError:
        return 0
    finally:
        call.sip.close()
        call.rtp.close()
    return int(resp[8:11])
