"""One inbound call as the UAS core sees it: its state machine (a table) and the effects it asks for.

States and the events that move them (anything else raises :class:`CallStateError`)::

    NEW ──challenge──▶ CHALLENGED ──credentials──▶ NEW          (401 sent, INVITE retried with auth)
    NEW ──ring──▶ RINGING ──answer──▶ ANSWERED                   (180, then 200 after the ring time)
    NEW ──answer──▶ ANSWERED ──ack──▶ ESTABLISHED                (200 sent / ACK received)
    ANSWERED | ESTABLISHED ──bye_sent──▶ TERMINATING ──bye_done──▶ ENDED   (the edge hung up)
    any state but ENDED ──end──▶ ENDED                           (caller BYE, CANCEL, rejection)

``CallEnded`` is recorded on ``end`` and on ``bye_sent`` (the call is over when we send BYE; the
BYE transaction only keeps the dialog alive long enough to answer a crossing BYE with 200).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from edge.effects import Send
from edge.media_port import MediaOptions
from edge.sdp import Negotiated, SessionDescription
from edge.sip.dialog import Dialog
from edge.sip.message import SipRequest
from edge.sip.transaction import InviteOkRetransmitter
from edge.uas.access import Trunk
from edge.uas.dialplan import Plan
from schemas.envelope import DEFAULT_TENANT


class CallStateError(ValueError):
    """An event the call state machine does not allow in its current state."""


class CallState(Enum):
    NEW = "new"
    CHALLENGED = "challenged"
    RINGING = "ringing"
    ANSWERED = "answered"
    ESTABLISHED = "established"
    TERMINATING = "terminating"
    ENDED = "ended"


N, CH, R, A, E, T, X = (
    CallState.NEW,
    CallState.CHALLENGED,
    CallState.RINGING,
    CallState.ANSWERED,
    CallState.ESTABLISHED,
    CallState.TERMINATING,
    CallState.ENDED,
)
CALL_TABLE: dict[tuple[CallState, str], CallState] = {
    (N, "challenge"): CH, (CH, "credentials"): N,
    (N, "ring"): R, (N, "answer"): A, (R, "answer"): A,
    (A, "ack"): E,
    (A, "bye_sent"): T, (E, "bye_sent"): T, (T, "bye_done"): X,
    (N, "end"): X, (CH, "end"): X, (R, "end"): X, (A, "end"): X, (E, "end"): X, (T, "end"): X,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Peer:
    """Where a message came from and how to answer: transport name and remote address."""

    transport: str  # "udp", "tcp" or "tls"
    addr: tuple[str, int]

    def __str__(self) -> str:
        return f"{self.addr[0]}:{self.addr[1]}"


# -- effects the core asks its driver to carry out (besides transaction.Send) ---------------------
@dataclass(frozen=True, slots=True)
class OpenMedia:
    """Open the call's media session with ``options`` (what offer/answer negotiated, the peer's trust)."""

    call_id: str
    options: MediaOptions


@dataclass(frozen=True, slots=True)
class UpdateMedia:
    call_id: str
    remote_addr: tuple[str, int] | None
    direction: str


@dataclass(frozen=True, slots=True)
class ConfirmMedia:
    """The caller ACKed our 2xx (it saw our To-tag): it has proven it receives what we send."""

    call_id: str


@dataclass(frozen=True, slots=True)
class CloseMedia:
    call_id: str


@dataclass(frozen=True, slots=True)
class Ringback:
    """Play (``on``) or stop the ringback tone to a caller waiting for a bridged transfer's target."""

    call_id: str
    on: bool


@dataclass(frozen=True, slots=True)
class JoinMedia:
    """Bridge two calls' media both ways (a transfer's target answered); stops the caller's ringback."""

    call_id: str
    leg_call_id: str


@dataclass(frozen=True, slots=True)
class BriefTarget:
    """Attended transfer: say ``text`` to the target on ``leg_call_id`` (the caller holds); once it
    has played, the driver reports ``UasCore.briefed`` and the core joins the calls."""

    call_id: str
    leg_call_id: str
    text: str
    language: str


Effect = (
    Send | OpenMedia | UpdateMedia | ConfirmMedia | CloseMedia | Ringback | JoinMedia | BriefTarget
)  # what the core returns


@dataclass(frozen=True, slots=True)
class Durations:
    """A call's CallEnded durations."""

    setup_ms: float | None  # INVITE to 200 OK; None when never answered
    talk_ms: int  # 200 OK to the end
    total_ms: int  # INVITE to the end


class Call:
    """Mutable per-call record owned by the core; ``fire`` applies :data:`CALL_TABLE`."""

    __slots__ = (
        "answered_at",
        "busy",
        "call_id",
        "counted_ip",
        "dialog",
        "direction",
        "disposition",
        "early_media",
        "end_reason",
        "established_at",
        "final_status",
        "from_tag",
        "hangup_pending",
        "invite",
        "invited_at",
        "late_offer",
        "local_sdp",
        "local_tag",
        "media_open",
        "negotiated",
        "ok",
        "ok_cseq",
        "on_hold",
        "parent_call_id",
        "peer",
        "plan",
        "port",
        "proven",
        "ring_until",
        "sip_call_id",
        "state",
        "tenant",
        "timer_at",
        "transfer_target",
        "trunk",
    )

    def __init__(self, call_id: str, invite: SipRequest, peer: Peer, local_tag: str, now: float) -> None:
        self.call_id = call_id
        self.invite = invite
        self.sip_call_id = invite.call_id
        self.from_tag = invite.from_addr.tag or ""
        self.peer = peer
        self.local_tag = local_tag
        self.state = CallState.NEW
        self.invited_at = now
        self.answered_at: float | None = None
        self.established_at: float | None = None
        self.plan: Plan | None = None
        self.port: int | None = None
        self.dialog: Dialog | None = None
        self.negotiated: Negotiated | None = None
        self.local_sdp: SessionDescription | None = None
        self.late_offer = False
        self.media_open = False
        self.on_hold = False
        self.ok: InviteOkRetransmitter | None = None
        self.ok_cseq = 0
        self.ring_until: float | None = None
        self.timer_at: float | None = None  # challenge expiry / media-timeout check
        self.hangup_pending: str | None = None
        self.transfer_target: str | None = None
        self.final_status: int | None = None
        self.end_reason: str | None = None
        self.trunk: Trunk | None = None  # the trunk the call came from, if any
        self.proven = peer.transport != "udp"  # see edge.uas.core: trunk, digest, TCP or the ACK
        self.counted_ip: str | None = None  # the source IP this call counts against (per-source cap)
        self.busy: str | None = None  # no worker can serve it (why): answered for the busy prompt only
        self.direction = "inbound"  # "outbound": the edge sent the INVITE (edge.uas.outbound)
        self.disposition: str | None = None  # an outbound call's: answered, busy, no_answer, failed…
        self.early_media = False  # an outbound call got a 183 with SDP
        self.tenant = DEFAULT_TENANT  # whose call (edge.uas.tenants), known once the INVITE is routed
        self.parent_call_id: str | None = None  # a transfer's leg: the caller's call (edge.uas.bridge)

    def fire(self, event: str) -> CallState:
        try:
            self.state = CALL_TABLE[(self.state, event)]
        except KeyError:
            raise CallStateError(
                f"call {self.call_id}: {event!r} not allowed in {self.state.value}"
            ) from None
        return self.state

    @property
    def ended(self) -> bool:
        return self.state is CallState.ENDED

    @property
    def live(self) -> bool:
        return self.state not in (CallState.TERMINATING, CallState.ENDED)

    def durations(self, now: float) -> Durations:
        setup = None if self.answered_at is None else round((self.answered_at - self.invited_at) * 1000, 3)
        talk = 0 if self.answered_at is None else round((now - self.answered_at) * 1000)
        return Durations(setup, talk, round((now - self.invited_at) * 1000))
