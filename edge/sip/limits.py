"""What a request may carry before the edge refuses to echo it (RFC 3261 §8.2.6.2, §12.1.1; pure).

A response copies every Via of its request, and a dialog-creating 1xx/2xx every Record-Route, and the
2xx to an INVITE is retransmitted until the ACK: whatever bulk a request brings, the edge would send
back, several times, to an address nobody has vouched for. So a request is refused before it is
answered when it has

* more than ``max_via`` Via entries (10: a request that crossed ten proxies is a loop or an attack;
  Max-Forwards allows 70 hops, but no deployment stacks ten),
* more than ``max_record_route`` Record-Route entries (10, for the same reason), or
* a header value longer than ``max_header_value`` octets (2 KiB: the longest legitimate values —
  digest Authorization, a Contact with instance parameters, an Identity — stay well under 1 KiB).

Over UDP a refused request is dropped silently (answering it is what a reflector does); over TCP, where
the source is proven by the handshake, it gets ``513 Message Too Large``. Message size itself is
capped before parsing (:mod:`edge.uas.ratelimit` for UDP, :mod:`edge.sip.framing` for streams).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.sip.message import SipRequest


@dataclass(frozen=True, slots=True)
class EchoLimits:
    max_via: int = 10
    max_record_route: int = 10
    max_header_value: int = 2048


def excess(request: SipRequest, limits: EchoLimits = EchoLimits()) -> str | None:
    """None when ``request`` is within ``limits``, else the reason: ``header_too_long``,
    ``too_many_via`` or ``too_many_record_route``."""
    longest = limits.max_header_value
    for h in request.headers:
        if len(h.value) > longest:
            return "header_too_long"
    if len(request.vias) > limits.max_via:
        return "too_many_via"
    if len(request.header_values("record-route")) > limits.max_record_route:
        return "too_many_record_route"
    return None
