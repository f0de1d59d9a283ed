"""Outbound call setup in the sans-IO UAC on one core: INVITE → 180 → 200 → ACK, and BYE.

Run: .venv/bin/python bench/uac_bench.py
Prints complete call attempts per second through ``edge.uac.call.OutboundCall`` (building and
serializing the INVITE, parsing the callee's responses from bytes, the ACK and the BYE), and the
same for busy attempts (INVITE → 486 → ACK). No sockets: the cost of the protocol code alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from edge.sip.builders import make_response
from edge.sip.message import SipRequest, SipResponse
from edge.sip.transaction import Send
from edge.uac.call import CallSpec, OutboundCall

PEER = ("127.0.0.1", 5080)
SPEC = CallSpec(
    target="sip:1000@127.0.0.1:5080", from_uri="sip:sentiric@127.0.0.1", via_host="127.0.0.1", via_port=5060,
    contact="sip:127.0.0.1:5060",
    sdp=b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
)  # fmt: skip
ANSWER = SPEC.sdp.replace(b"30000", b"40000")


def answered() -> None:
    call = OutboundCall(SPEC, PEER)
    (send,) = call.start(0.0)
    assert isinstance(send, Send)
    invite = SipRequest.parse(send.data)
    ringing = make_response(invite, 180, to_tag="cal")
    ok = make_response(
        invite, 200, to_tag="cal", headers=[("Contact", "<sip:1000@127.0.0.1:5080>")], body=ANSWER,
        content_type="application/sdp",
    )  # fmt: skip
    call.receive_response(SipResponse.parse(bytes(ringing)), 0.01)
    call.receive_response(SipResponse.parse(bytes(ok)), 0.02)
    call.hangup(1.0)


def busy() -> None:
    call = OutboundCall(SPEC, PEER)
    (send,) = call.start(0.0)
    assert isinstance(send, Send)
    invite = SipRequest.parse(send.data)
    call.receive_response(SipResponse.parse(bytes(make_response(invite, 486, to_tag="cal"))), 0.01)


def rate(fn: Callable[[], None], seconds: float = 2.0) -> float:
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            fn()
        n += 100
    return n / elapsed


def main() -> None:
    print(f"answered call (INVITE, 180, 200, ACK, BYE): {rate(answered):,.0f} calls/s")
    print(f"busy attempt (INVITE, 486, ACK):            {rate(busy):,.0f} attempts/s")


if __name__ == "__main__":
    main()
