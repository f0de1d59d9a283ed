"""The INVITE client transaction (RFC 3261 §17.1.1, with the RFC 6026 fix for 2xx), sans-IO.

States (§17.1.1.2, Figure 5)::

    Calling --1xx--> Proceeding --300-699--> Completed --D--> Terminated
       |  \\__________2xx / timer B____________________________^
       +--300-699--> Completed

Timers (§17, Table 4):

====  ========================================  ============================================
A     INVITE retransmit (unreliable only)        T1, doubling; stops at the first response
B     no response at all                         64*T1 → TimedOut (the TU reports 408); off once
                                                 a 1xx came (the TU's ring timeout takes over)
D     absorb final-response retransmissions      32 s unreliable (≥ 64*T1 of the server), 0 reliable
====  ========================================  ============================================

A 300-699 final response is acknowledged by the transaction itself (§17.1.1.3: the ACK has the
INVITE's Request-URI, Call-ID, From, CSeq number, top Via and Route, and the response's To) and
passed up once; its retransmissions are answered with the same ACK and absorbed.  A 2xx ends the
transaction at once: the ACK for a 2xx is the TU's, built inside the dialog (§13.2.2.4).
"""

from __future__ import annotations

from typing import Any

from edge.sip.message import SipRequest, SipResponse
from edge.sip.transaction import (
    Action,
    ResponseReceived,
    Send,
    SipTransactionError,
    State,
    TimedOut,
    TimerConfig,
    _status_event,
    _Transaction,
)
from edge.uac.requests import ack_for_failure

DEFAULT_TIMERS = TimerConfig()
TIMER_D_UNRELIABLE = 32.0  # §17.1.1.2: "at least 32 seconds"

# Calling is the Trying of the non-INVITE table: same enum value, another name in the RFC.
CALLING, P, C, T = State.TRYING, State.PROCEEDING, State.COMPLETED, State.TERMINATED
# (state, event) -> next state.  Events: "1xx", "2xx", "final" (300-699) and timer names.
INVITE_CLIENT_TABLE: dict[tuple[State, str], State] = {
    (CALLING, "A"): CALLING, (CALLING, "B"): T,
    (CALLING, "1xx"): P, (CALLING, "2xx"): T, (CALLING, "final"): C,
    (P, "1xx"): P, (P, "2xx"): T, (P, "final"): C,
    (C, "final"): C, (C, "D"): T,
}  # fmt: skip


class InviteClientTransaction(_Transaction):
    """One INVITE sent to ``peer``; key (branch, "INVITE") as responses are matched (§17.1.3)."""

    TABLE = INVITE_CLIENT_TABLE

    def __init__(
        self, invite: SipRequest, peer: Any, timers: TimerConfig = DEFAULT_TIMERS, reliable: bool = False
    ) -> None:
        super().__init__((invite.top_via.branch or "", "INVITE"), peer, timers, reliable)
        self.invite = invite
        self.data = bytes(invite)
        self._ack: bytes | None = None
        self._started = False

    def start(self, now: float) -> list[Action]:
        """Send the INVITE and arm A (unreliable transport) and B."""
        if self._started:
            raise SipTransactionError("INVITE client transaction already started")
        self._started = True
        if not self.reliable:
            self._deadlines["A"] = now + self.timers.t1
        self._deadlines["B"] = now + 64 * self.timers.t1
        return [Send(self.data, self.peer)]

    def receive_response(self, response: SipResponse, now: float) -> list[Action]:
        before = self.state
        state = self._fire(_status_event(response.status))
        self._deadlines.pop("A", None)
        if state is P:
            self._deadlines.pop("B", None)  # §17.1.1.2: B guards Calling only; the TU's own timer rules now
        if before is C:  # a retransmitted final response: ACK it again, the TU saw it already
            return [Send(self._ack, self.peer)] if self._ack else []
        out: list[Action] = [ResponseReceived(self.key, response)]
        if state is T:  # 2xx: the TU takes over (ACK and 2xx retransmissions, §13.2.2.4)
            return out + self._terminate()
        if state is C:  # ACK first: whatever the TU sends next (a retry with credentials) follows it
            self._ack = bytes(ack_for_failure(self.invite, response))
            out.insert(0, Send(self._ack, self.peer))
            self._deadlines.pop("B", None)
            self._deadlines["D"] = now + (0.0 if self.reliable else TIMER_D_UNRELIABLE)
            if self.reliable:
                out += self.on_timer(now)
        return out

    def _timer(self, name: str, when: float) -> list[Action]:
        self._fire(name)
        if name == "A":
            self._interval *= 2  # §17.1.1.2: doubling, no T2 cap for INVITE
            self._deadlines["A"] = when + self._interval
            return [Send(self.data, self.peer)]
        if name == "B":
            return [TimedOut(self.key), *self._terminate()]
        return self._terminate()  # D
