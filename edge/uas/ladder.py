"""The SIP ladder: every message of a call's dialog, both directions, recorded as ``SipMessageObserved``.

A call's ladder is what a SIP engineer reads first (``sentiric replay call``, the exported pcap): the
INVITE, its 100/180/200, the ACK, the BYE and its 200, retransmissions included, the UAC leg of an
outbound call and a transfer's REFER/NOTIFY too.  The edge faces the internet, so recording is hostile
by default:

* only messages of a call the core accepted into its call table are recorded — matched by SIP Call-ID
  (:meth:`Ladder.follow` is the table's hook for every call it adds, inbound or outbound) and by the
  host of the call's signalling peer (the source of what is received, the destination of what is
  sent); unmatched traffic, garbage (and the 400 answering it) and messages from elsewhere are never
  recorded;
* each call records at most ``max_messages``; the next one records one ``truncated`` marker and the
  rest are only counted (``sentiric_sip_ladder_unrecorded_total``), so a peer flooding a dialog with
  OPTIONS or INFO cannot flood the log;
* each message keeps its first ``max_bytes`` bytes (``size`` says how long it was); the fact
  recorder scrubs SRTP keys and Authorization credentials from them (:mod:`edge.redact`);
* ``enabled=False`` (setting ``sip_ladder``) records nothing.

The core calls :meth:`received` for a message it parsed (before routing it, so the message comes
before the facts it causes; the INVITE that creates a call is recorded by call setup right after
``CallInviteReceived``) and :meth:`sent` with the effects it is about to return.  A call stays followed
until the core settles its last fact (:meth:`unfollow`), so the 200 answering a BYE is recorded too.
"""

from __future__ import annotations

import re

from edge import call_facts as cf
from edge import metrics as m
from edge.effects import Send
from edge.sip.message import SipRequest, SipResponse
from edge.uas.addresses import LocalAddresses
from edge.uas.call import Call, Effect, Peer
from edge.uas.call_facts import CallFacts
from edge.uas.config import LadderLimits

FIRST_LINE_MAX = 200
"""Characters of a Request-Line / Status-Line kept in ``first_line``."""
TRUNCATED_LINE = "(further messages of this call not recorded: per-call cap reached)"

# The Call-ID of a message the core built (long or compact form, RFC 3261 §7.3.3), in its head only.
_CALL_ID = re.compile(rb"\r\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", re.I)


class _Followed:
    __slots__ = ("call_id", "host", "recorded")

    def __init__(self, call_id: str, host: str) -> None:
        self.call_id = call_id
        self.host = host  # the signalling peer's host: a message received from another is not recorded
        self.recorded = 0


def call_id_of(data: bytes) -> str | None:
    """The Call-ID of a message the core built, read from its head without parsing it."""
    head = data[: data.find(b"\r\n\r\n")]
    found = _CALL_ID.search(head)
    return found.group(1).strip().decode("utf-8", "surrogateescape") if found else None


def first_line(data: bytes) -> str:
    end = data.find(b"\r\n")
    return data[: end if end >= 0 else FIRST_LINE_MAX].decode("utf-8", "replace")[:FIRST_LINE_MAX]


class Ladder:
    """Records the SIP messages of the calls in the core's table, within :class:`LadderLimits`."""

    __slots__ = ("by_call", "by_sip", "facts", "limits", "local")

    def __init__(self, limits: LadderLimits, facts: CallFacts, local: LocalAddresses) -> None:
        self.limits = limits
        self.facts = facts
        self.local = local
        self.by_sip: dict[str, _Followed] = {}  # SIP Call-ID -> the call it belongs to
        self.by_call: dict[str, str] = {}  # platform call id -> SIP Call-ID

    @property
    def enabled(self) -> bool:
        return self.limits.enabled

    def follow(self, call: Call) -> None:
        """The table's hook: ``call`` was added; its messages are recorded from now on."""
        if not self.limits.enabled:
            return
        self.by_sip[call.sip_call_id] = _Followed(call.call_id, call.peer.addr[0])
        self.by_call[call.call_id] = call.sip_call_id

    def unfollow(self, call_id: str) -> None:
        """The call's last fact is recorded: nothing more of it."""
        sip_call_id = self.by_call.pop(call_id, None)
        if sip_call_id is not None:
            followed = self.by_sip.get(sip_call_id)
            if followed is not None and followed.call_id == call_id:
                del self.by_sip[sip_call_id]

    def received(self, msg: SipRequest | SipResponse, data: bytes, peer: Peer) -> bool:
        """Record a message received, if it belongs to a followed call (True when it does)."""
        if not self.by_sip:
            return False
        followed = self.by_sip.get(msg.call_id)
        if followed is None or followed.host != peer.addr[0]:
            return False
        self._record(followed, "in", data, peer)
        return True

    def received_invite(self, call: Call, data: bytes) -> None:
        """Record the INVITE that created ``call`` (call setup, right after ``CallInviteReceived``)."""
        followed = self.by_sip.get(call.sip_call_id)
        if followed is not None and followed.call_id == call.call_id:
            self._record(followed, "in", data, call.peer)

    def sent(self, effects: list[Effect]) -> None:
        """Record the SIP messages among ``effects`` (about to be sent) that belong to followed calls."""
        if not self.by_sip:
            return
        for effect in effects:
            if type(effect) is not Send or not isinstance(effect.addr, Peer):
                continue
            sip_call_id = call_id_of(effect.data)
            followed = self.by_sip.get(sip_call_id) if sip_call_id is not None else None
            if followed is not None and followed.host == effect.addr.addr[0]:
                self._record(followed, "out", effect.data, effect.addr)

    def _record(self, followed: _Followed, direction: str, data: bytes, peer: Peer) -> None:
        limits = self.limits
        followed.recorded += 1
        over = followed.recorded > limits.max_messages
        if over:
            m.LADDER_UNRECORDED.inc()
            if followed.recorded > limits.max_messages + 1:
                return  # the marker is recorded already
            line, raw = TRUNCATED_LINE, b""
        else:
            line, raw = first_line(data), data[: limits.max_bytes]
        self.facts.record(
            cf.sip_message_observed(
                followed.call_id,
                direction=direction,
                transport=peer.transport,
                local_addr=f"{self.local.host}:{self.local.port_for(peer.transport)}",
                remote_addr=str(peer),
                first_line=line,
                raw=raw,
                size=len(data),
                truncated=over,
            )
        )
