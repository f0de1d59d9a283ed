"""The UAC core of one outgoing call (RFC 3261 §13.2, §9.1, §12.1.2, §15), sans-IO.

``OutboundCall`` sends the INVITE and turns what comes back into call events::

    start ──INVITE──> 100/180/183 ─> Progress ──2xx──> Answered (ACK sent) ──BYE either way──> HungUp
       │                  │
       │                  ├── ring timeout → CANCEL → 487 ──> Ended(no_answer)
       │                  └── hangup()     → CANCEL → 487 ──> Ended(cancelled)
       ├── 401/407 → INVITE again with credentials (once per nonce, once more if stale)
       ├── 486/600 ──> Ended(busy);  other 3xx-6xx / timer B ──> Ended(failed)

Methods take ``now`` and return a list of :class:`~edge.effects.Send` (to ``peer``) and call
events; ``next_deadline`` says when to call ``on_timer``.  A CANCEL is only sent once a provisional
response came (§9.1): a hang-up before that is remembered and sent with the first 1xx.  A 2xx that
crosses our CANCEL is acknowledged and the call is ended with a BYE at once (§9.1, last paragraph).
A 2xx retransmitted after our ACK gets the same ACK again (§13.2.2.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.effects import Send
from edge.sip.builders import make_response, new_call_id, new_tag
from edge.sip.dialog import Dialog
from edge.sip.message import SipRequest, SipResponse
from edge.sip.transaction import (
    Action,
    NonInviteClientTransaction,
    ResponseReceived,
    TimedOut,
    TimerConfig,
)
from edge.uac.credentials import Credentials, answer_challenge
from edge.uac.disposition import Disposition, disposition_for
from edge.uac.invite_client import InviteClientTransaction
from edge.uac.requests import cancel_for, make_invite, reauthorised

DEFAULT_TIMERS = TimerConfig()
MAX_AUTH_ATTEMPTS = 2  # the first answer, and one more if the server calls its nonce stale


@dataclass(frozen=True, slots=True)
class CallSpec:
    """What to call and how we present ourselves."""

    target: str  # Request-URI, e.g. sip:1000@127.0.0.1:5080
    from_uri: str
    via_host: str
    via_port: int
    contact: str  # our Contact URI, where the callee sends its in-dialog requests
    sdp: bytes  # the offer
    ring_timeout: float = 30.0
    credentials: Credentials | None = None
    transport: str = "UDP"
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    status: int  # 180, 183…
    sdp: bytes | None  # early media answer (a 183 with SDP)

    @property
    def early_media(self) -> bool:
        return bool(self.sdp)


@dataclass(frozen=True, slots=True)
class Answered:
    sdp: bytes  # the answer
    dialog: Dialog


@dataclass(frozen=True, slots=True)
class Ended:
    """The attempt ended without an answered call."""

    disposition: Disposition
    status: int | None  # the final response, None when a timer ended it
    reason: str


@dataclass(frozen=True, slots=True)
class HungUp:
    """An answered call ended; ``by`` is "local" (our BYE) or "remote" (theirs)."""

    by: str
    reason: str


CallEvent = Progress | Answered | Ended | HungUp
Output = Send | CallEvent


class OutboundCall:
    """One outgoing INVITE dialog; the I/O layer feeds it responses/requests and timer ticks."""

    def __init__(
        self,
        spec: CallSpec,
        peer: Any,
        *,
        timers: TimerConfig = DEFAULT_TIMERS,
        reliable: bool = False,
        call_id: str | None = None,
        from_tag: str | None = None,
    ) -> None:
        self.spec = spec
        self.peer = peer
        self.timers = timers
        self.reliable = reliable
        self.from_tag = from_tag or new_tag()
        self.invite = make_invite(
            target=spec.target, from_uri=spec.from_uri, from_tag=self.from_tag,
            call_id=call_id or new_call_id(spec.via_host), via_host=spec.via_host, via_port=spec.via_port,
            contact=spec.contact, sdp=spec.sdp, transport=spec.transport, display_name=spec.display_name,
        )  # fmt: skip
        self.call_id = self.invite.call_id
        self.phase = "idle"  # idle → calling → early → answered → ended (or calling/early → ended)
        self.dialog: Dialog | None = None
        self.early_media = False
        self._txn: InviteClientTransaction | None = None
        self._others: list[NonInviteClientTransaction] = []  # CANCEL and BYE
        self._ack: bytes | None = None  # the ACK of our 2xx, resent on its retransmissions
        self._ring_deadline: float | None = None
        self._cancel_give_up: float | None = None  # §9.1: no final response 64*T1 after CANCEL
        self._cancel_as: Disposition | None = None  # why we cancel: no_answer or cancelled
        self._cancel_sent = False
        self._auth_tries = 0
        self._nonces: set[str] = set()

    # -- the I/O layer's entry points ------------------------------------------------------------
    def start(self, now: float) -> list[Output]:
        self.phase = "calling"
        self._ring_deadline = now + self.spec.ring_timeout
        return self._send_invite(self.invite, now)

    def receive_response(self, response: SipResponse, now: float) -> list[Output]:
        method = response.cseq.method
        if method != "INVITE":
            return self._other_response(response, now)
        txn = self._txn
        if txn is not None and response.top_via.branch == txn.key[0] and not txn.terminated:
            return self._invite_actions(txn.receive_response(response, now), now)
        if 200 <= response.status < 300 and self._ack is not None:
            return [Send(self._ack, self.peer)]  # 2xx retransmission: our ACK was lost (§13.2.2.4)
        return []  # a stray response: not ours, or of a transaction that has ended

    def receive_request(self, request: SipRequest, now: float) -> list[Output]:
        """An in-dialog request from the callee: BYE ends the call; anything else we refuse."""
        if request.method == "ACK":
            return []
        dialog = self.dialog
        if dialog is None or request.from_addr.tag != dialog.remote_tag or request.call_id != self.call_id:
            return [Send(bytes(make_response(request, 481)), self.peer)]
        status = dialog.check_request(request)
        if status is not None:
            return [Send(bytes(make_response(request, status)), self.peer)]
        if request.method == "BYE":
            was_up = self.phase == "answered"
            self.phase = "ended"
            out: list[Output] = [Send(bytes(make_response(request, 200)), self.peer)]
            return [*out, HungUp("remote", "BYE")] if was_up else out
        allow = [("Allow", "INVITE, ACK, CANCEL, BYE")]
        return [Send(bytes(make_response(request, 501, headers=allow)), self.peer)]

    def hangup(self, now: float, reason: str = "hangup") -> list[Output]:
        """End the call from our side: BYE once answered, CANCEL while it rings."""
        if self.phase == "answered":
            assert self.dialog is not None
            self.phase = "ended"
            bye = self.dialog.bye(
                via_host=self.spec.via_host, via_port=self.spec.via_port, transport=self.spec.transport
            )
            return [*self._send_other(bye, now), HungUp("local", reason)]
        if self.phase in ("calling", "early") and self._cancel_as is None:
            return self._cancel(Disposition.CANCELLED, now)
        return []

    @property
    def next_deadline(self) -> float | None:
        times = [t.next_deadline for t in (self._txn, *self._others) if t is not None]
        if self.phase in ("calling", "early") and self._cancel_as is None:
            times.append(self._ring_deadline)
        times.append(self._cancel_give_up if self.phase != "ended" else None)
        due = [t for t in times if t is not None]
        return min(due) if due else None

    @property
    def finished(self) -> bool:
        """Ended, and no transaction of ours has anything left to do."""
        return self.phase == "ended" and self.next_deadline is None

    def on_timer(self, now: float) -> list[Output]:
        out: list[Output] = []
        if self._txn is not None and not self._txn.terminated:
            out += self._invite_actions(self._txn.on_timer(now), now)
        for txn in list(self._others):
            out += [a for a in txn.on_timer(now) if isinstance(a, Send)]
            if txn.terminated:
                self._others.remove(txn)
        ring = self._ring_deadline
        ringing = self.phase in ("calling", "early") and self._cancel_as is None
        if ringing and ring is not None and now >= ring:
            out += self._cancel(Disposition.NO_ANSWER, now)
        give_up = self._cancel_give_up
        if self.phase != "ended" and give_up is not None and now >= give_up:
            out += self._end(self._cancel_as or Disposition.FAILED, None, "no final response to CANCEL")
        return out

    # -- internals --------------------------------------------------------------------------------
    def _send_invite(self, invite: SipRequest, now: float) -> list[Output]:
        self.invite = invite
        self._txn = InviteClientTransaction(invite, self.peer, self.timers, self.reliable)
        return [a for a in self._txn.start(now) if isinstance(a, Send)]

    def _send_other(self, request: SipRequest, now: float) -> list[Output]:
        key = (request.top_via.branch or "", request.method)
        txn = NonInviteClientTransaction(key, self.peer, self.timers, bytes(request), self.reliable)
        self._others.append(txn)
        return [a for a in txn.start(now) if isinstance(a, Send)]

    def _other_response(self, response: SipResponse, now: float) -> list[Output]:
        """Responses to our CANCEL or BYE: the transaction absorbs them; nothing for the TU
        (the CANCEL's outcome is the INVITE's 487, the BYE's is that the call is over anyway)."""
        key = (response.top_via.branch or "", response.cseq.method)
        for txn in self._others:
            if txn.key == key:
                txn.receive_response(response, now)
                if txn.terminated:
                    self._others.remove(txn)
                break
        return []

    def _cancel(self, why: Disposition, now: float) -> list[Output]:
        self._cancel_as = why
        self._cancel_give_up = now + 64 * self.timers.t1
        return self._send_cancel(now) if self.phase == "early" else []  # else: on the first 1xx

    def _send_cancel(self, now: float) -> list[Output]:
        if self._cancel_sent:
            return []
        self._cancel_sent = True
        return self._send_other(cancel_for(self.invite), now)

    def _invite_actions(self, actions: list[Action], now: float) -> list[Output]:
        out: list[Output] = []
        for action in actions:
            if isinstance(action, Send):
                out.append(action)
            elif isinstance(action, ResponseReceived):
                out += self._on_invite_response(action.response, now)
            elif isinstance(action, TimedOut) and self.phase in ("calling", "early"):
                out += self._end(self._cancel_as or Disposition.FAILED, 408, "no response (timer B)")
        return out

    def _on_invite_response(self, response: SipResponse, now: float) -> list[Output]:
        status = response.status
        if self.phase == "ended":
            return self._ack_and_bye(response, now) if 200 <= status < 300 else []
        if status < 200:
            if status == 100:
                return []
            out: list[Output] = []
            if self.phase == "calling":
                self.phase = "early"
                if self._cancel_as is not None:
                    out += self._send_cancel(now)
            sdp = response.body if response.content_type == "application/sdp" and response.body else None
            self.early_media = self.early_media or sdp is not None
            return [*out, Progress(status, sdp)]
        if status < 300:
            if self._cancel_as is not None:  # the answer crossed our CANCEL: take it and end it
                out = self._ack_and_bye(response, now)
                return out + self._end(self._cancel_as, status, "answered after CANCEL")
            return self._answer(response, now)
        if status in (401, 407) and self._cancel_as is None:
            retry = self._retry_with_credentials(response, now)
            if retry is not None:
                return retry
        if self._cancel_as is not None:
            return self._end(self._cancel_as, status, response.reason)
        return self._end(disposition_for(status), status, response.reason)

    def _retry_with_credentials(self, response: SipResponse, now: float) -> list[Output] | None:
        creds = self.spec.credentials
        if creds is None or self._auth_tries >= MAX_AUTH_ATTEMPTS:
            return None
        answer = answer_challenge(response, creds, method="INVITE", uri=self.invite.uri)
        if answer is None or (answer.nonce in self._nonces) or (self._auth_tries and not answer.stale):
            return None  # the same nonce again, or a fresh refusal: the credentials are wrong
        self._auth_tries += 1
        self._nonces.add(answer.nonce)
        self.phase = "calling"
        return self._send_invite(reauthorised(self.invite, answer.header, answer.value), now)

    def _dialog_for(self, response: SipResponse) -> Dialog:
        """§12.1.2: the UAC's dialog — route set reversed, remote target from the 2xx Contact."""
        contacts = response.contacts
        return Dialog(
            call_id=self.call_id, local_tag=self.from_tag, remote_tag=response.to_addr.tag or "",
            local_uri=self.spec.from_uri, remote_uri=str(response.to_addr.uri),
            remote_target=str(contacts[0].uri) if contacts else self.invite.uri,
            route_set=tuple(str(a) for a in reversed(response.record_routes)),
            remote_seq=0, local_contact=f"<{self.spec.contact}>", local_seq=self.invite.cseq.seq,
        )  # fmt: skip

    def _ack_2xx(self, dialog: Dialog) -> bytes:
        ack = dialog.make_request(
            "ACK", via_host=self.spec.via_host, via_port=self.spec.via_port, cseq=self.invite.cseq.seq,
            transport=self.spec.transport,
        )  # fmt: skip
        return bytes(ack)

    def _answer(self, response: SipResponse, now: float) -> list[Output]:
        self.dialog = self._dialog_for(response)
        self._ack = self._ack_2xx(self.dialog)
        self.phase = "answered"
        return [Send(self._ack, self.peer), Answered(response.body, self.dialog)]

    def _ack_and_bye(self, response: SipResponse, now: float) -> list[Output]:
        """A 2xx we no longer want (crossed CANCEL, or a second fork): ACK it, then BYE (§15)."""
        dialog = self._dialog_for(response)
        if self.dialog is None:
            self.dialog = dialog
        self._ack = self._ack_2xx(dialog)
        bye = dialog.bye(
            via_host=self.spec.via_host, via_port=self.spec.via_port, transport=self.spec.transport
        )
        return [Send(self._ack, self.peer), *self._send_other(bye, now)]

    def _end(self, disposition: Disposition, status: int | None, reason: str) -> list[Output]:
        self.phase = "ended"
        self._cancel_give_up = None
        return [Ended(disposition, status, reason)]
