"""The UAS core's timer keys: one frozen type per kind of owner on its single deadline heap.

The heap (:class:`edge.sip.timer_heap.TimerHeap`) holds one entry per key at the owner's earliest
deadline; when a key pops, the core asks the owner for its real deadline and re-schedules it:

- :class:`TransactionsDue` — a transport's transaction layer (its own heap says what is due);
- :class:`OkRetransmit` — a call's 2xx retransmission and ACK wait (RFC 3261 §13.3.1.4);
- :class:`CallDue` — a call's ring time, challenge expiry or media-timeout check;
- :class:`OutboundDue` — an outgoing call's UAC timers, until it is answered or over.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.sip.timer_heap import TimerHeap


@dataclass(frozen=True, slots=True)
class TransactionsDue:
    transport: str  # "udp", "tcp" or "tls": whose TransactionLayer


@dataclass(frozen=True, slots=True)
class OkRetransmit:
    call_id: str


@dataclass(frozen=True, slots=True)
class CallDue:
    call_id: str


@dataclass(frozen=True, slots=True)
class OutboundDue:
    """An outgoing call's UAC (edge.uas.outbound): INVITE retransmission, ring timeout, CANCEL."""

    call_id: str


CoreTimer = TransactionsDue | OkRetransmit | CallDue | OutboundDue
CoreTimers = TimerHeap[CoreTimer]

__all__ = [
    "CallDue",
    "CoreTimer",
    "CoreTimers",
    "OkRetransmit",
    "OutboundDue",
    "TimerHeap",
    "TransactionsDue",
]
