"""SIP transactions (RFC 3261 §17) as sans-IO state machines.

Every machine takes ``now: float`` and returns a list of actions/events; ``next_deadline`` says
when to call ``on_timer(now)`` again (None = no timer).  The I/O layer sends :class:`Send`
actions (the edge's own, :mod:`edge.effects`) to their ``addr`` (the opaque peer it gave us) and
re-arms one timer.

Timers (§17, Table 4; T1=500 ms, T2=4 s, T4=5 s by default, all configurable):

====  =================================  =====================================================
G     INVITE server, response retransmit  T1, doubling, capped at T2 (unreliable transport only)
H     INVITE server, wait for ACK         64*T1, then Terminated + TimedOut
I     INVITE server, absorb ACK retrans.  T4 unreliable, 0 reliable
J     non-INVITE server, absorb retrans.  64*T1 unreliable, 0 reliable
E     non-INVITE client, retransmit       T1, doubling to T2 (T2 once Proceeding)
F     non-INVITE client, timeout          64*T1
K     non-INVITE client, absorb resp.     T4 unreliable, 0 reliable
====  =================================  =====================================================

State transitions are declared as tables (h11 style) and an event not in the table raises
:class:`SipTransactionError`.  :class:`InviteOkRetransmitter` is the UAS core's 2xx retransmission
(§13.3.1.4): it resends the 200 until the ACK arrives and after 64*T1 reports
:class:`AckTimeout` — the dialog must then be ended with a BYE.

Anti-reflection: a server transaction answers only the peer that created it — a request matching it
from any other transport address is refused (:class:`Refused`, nothing sent), so a replayed request
cannot redirect a stored response.  For a peer that has not proven it receives what we send (the UAS
core decides), timer G is off (``quiet``: the final response is resent only when the client resends
its request, one for one — a real client's timer A covers a lost response) and the 2xx retransmitter
sends at most ``limit`` copies before waiting silently for the ACK until 64*T1.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from edge.effects import Send as Send  # re-exported: one of the actions below
from edge.sip.builders import BRANCH_MAGIC_COOKIE
from edge.sip.message import SipRequest, SipResponse
from edge.sip.timer_heap import TimerHeap


class SipTransactionError(ValueError):
    """An action that the transaction state machine does not allow."""


@dataclass(frozen=True, slots=True)
class TimerConfig:
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0


class State(Enum):
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    TERMINATED = "Terminated"


@dataclass(frozen=True, slots=True)
class TimedOut:
    key: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Terminated:
    key: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A client transaction passes a response up to the TU."""

    key: tuple[str, ...]
    response: SipResponse


@dataclass(frozen=True, slots=True)
class Refused:
    """A request matched a server transaction created by another peer: dropped, nothing sent."""

    key: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AckTimeout:
    """No ACK for a 2xx within 64*T1 (§13.3.1.4): confirm then terminate the session with BYE."""

    call_id: str


Action = Send | TimedOut | Terminated | ResponseReceived | AckTimeout | Refused

P, C, CF, T, TR = State.PROCEEDING, State.COMPLETED, State.CONFIRMED, State.TERMINATED, State.TRYING
# (state, event) -> next state.  Events: "1xx", "2xx", "final" (300-699), "request" (retransmission),
# "ack", and timer names.
INVITE_SERVER_TABLE: dict[tuple[State, str], State] = {
    (P, "1xx"): P, (P, "2xx"): T, (P, "final"): C, (P, "request"): P,
    (C, "request"): C, (C, "ack"): CF, (C, "G"): C, (C, "H"): T,
    (CF, "request"): CF, (CF, "ack"): CF, (CF, "I"): T,
}  # fmt: skip
NON_INVITE_SERVER_TABLE: dict[tuple[State, str], State] = {
    (TR, "request"): TR, (TR, "1xx"): P, (TR, "2xx"): C, (TR, "final"): C,
    (P, "request"): P, (P, "1xx"): P, (P, "2xx"): C, (P, "final"): C,
    (C, "request"): C, (C, "J"): T,
}  # fmt: skip
NON_INVITE_CLIENT_TABLE: dict[tuple[State, str], State] = {
    (TR, "E"): TR, (TR, "F"): T, (TR, "1xx"): P, (TR, "2xx"): C, (TR, "final"): C,
    (P, "E"): P, (P, "F"): T, (P, "1xx"): P, (P, "2xx"): C, (P, "final"): C,
    (C, "1xx"): C, (C, "2xx"): C, (C, "final"): C, (C, "K"): T,
}  # fmt: skip


def _status_event(status: int) -> str:
    if status < 200:
        return "1xx"
    return "2xx" if status < 300 else "final"


class _Transaction:
    TABLE: dict[tuple[State, str], State] = {}

    def __init__(self, key: tuple[str, ...], peer: Any, timers: TimerConfig, reliable: bool) -> None:
        self.key = key
        self.peer = peer
        self.timers = timers
        self.reliable = reliable
        self.state = State.TRYING
        self._deadlines: dict[str, float] = {}
        self._interval = timers.t1

    def _fire(self, event: str) -> State:
        try:
            self.state = self.TABLE[(self.state, event)]
        except KeyError:
            raise SipTransactionError(
                f"{type(self).__name__}: {event!r} not allowed in {self.state.value}"
            ) from None
        return self.state

    @property
    def next_deadline(self) -> float | None:
        return min(self._deadlines.values()) if self._deadlines else None

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def on_timer(self, now: float) -> list[Action]:
        out: list[Action] = []
        for name, when in sorted(self._deadlines.items(), key=lambda kv: kv[1]):
            if when <= now and name in self._deadlines and not self.terminated:
                del self._deadlines[name]
                out.extend(self._timer(name, when))
        return out

    def _timer(self, name: str, when: float) -> list[Action]:
        raise NotImplementedError

    def _terminate(self) -> list[Action]:
        self.state = State.TERMINATED
        self._deadlines.clear()
        return [Terminated(self.key)]


class InviteServerTransaction(_Transaction):
    """§17.2.1.  Created in Proceeding; the TU sends 100 Trying at once via :meth:`respond`."""

    TABLE = INVITE_SERVER_TABLE

    def __init__(self, key: tuple[str, ...], peer: Any, timers: TimerConfig, reliable: bool = False) -> None:
        super().__init__(key, peer, timers, reliable)
        self.state = State.PROCEEDING
        self.last_response: bytes | None = None
        self.quiet = False  # no timer G: the final response is resent only on a retransmitted request

    def respond(self, response: SipResponse, now: float) -> list[Action]:
        state = self._fire(_status_event(response.status))
        self.last_response = bytes(response)
        out: list[Action] = [Send(self.last_response, self.peer)]
        if state is State.TERMINATED:  # 2xx: retransmission is the TU's job (§13.3.1.4)
            out += self._terminate()
        elif state is State.COMPLETED:
            if not self.reliable and not self.quiet:
                self._interval = self.timers.t1
                self._deadlines["G"] = now + self._interval
            self._deadlines["H"] = now + 64 * self.timers.t1
        return out

    def receive_request(self, request: SipRequest, now: float) -> list[Action]:
        if request.method == "ACK":
            if self.state is State.COMPLETED:
                self._fire("ack")
                self._deadlines.pop("G", None)
                self._deadlines.pop("H", None)
                self._deadlines["I"] = now + (0.0 if self.reliable else self.timers.t4)
                return self.on_timer(now) if self.reliable else []
            return []  # absorbed in Confirmed; ignored in Proceeding (no final response yet)
        self._fire("request")
        return [Send(self.last_response, self.peer)] if self.last_response else []

    def _timer(self, name: str, when: float) -> list[Action]:
        self._fire(name)
        if name == "G":
            self._interval = min(2 * self._interval, self.timers.t2)
            self._deadlines["G"] = when + self._interval
            assert self.last_response is not None
            return [Send(self.last_response, self.peer)]
        if name == "H":
            return [TimedOut(self.key), *self._terminate()]
        return self._terminate()  # I


class NonInviteServerTransaction(_Transaction):
    """§17.2.2: Trying → Proceeding → Completed → (J) → Terminated."""

    TABLE = NON_INVITE_SERVER_TABLE

    def __init__(self, key: tuple[str, ...], peer: Any, timers: TimerConfig, reliable: bool = False) -> None:
        super().__init__(key, peer, timers, reliable)
        self.last_response: bytes | None = None

    def respond(self, response: SipResponse, now: float) -> list[Action]:
        state = self._fire(_status_event(response.status))
        self.last_response = bytes(response)
        out: list[Action] = [Send(self.last_response, self.peer)]
        if state is State.COMPLETED:
            self._deadlines["J"] = now + (0.0 if self.reliable else 64 * self.timers.t1)
            if self.reliable:
                out += self.on_timer(now)
        return out

    def receive_request(self, request: SipRequest, now: float) -> list[Action]:
        self._fire("request")
        if self.state is State.TRYING or self.last_response is None:
            return []  # absorbed: the TU has not answered yet
        return [Send(self.last_response, self.peer)]

    def _timer(self, name: str, when: float) -> list[Action]:
        self._fire(name)
        return self._terminate()


class NonInviteClientTransaction(_Transaction):
    """§17.1.2, for the requests the edge originates (BYE, NOTIFY, OPTIONS…)."""

    TABLE = NON_INVITE_CLIENT_TABLE

    def __init__(
        self, key: tuple[str, ...], peer: Any, timers: TimerConfig, request: bytes, reliable: bool = False
    ) -> None:
        super().__init__(key, peer, timers, reliable)
        self.request = request
        self._started = False

    def start(self, now: float) -> list[Action]:
        """Send the request and arm E and F."""
        if self._started:
            raise SipTransactionError("client transaction already started")
        self._started = True
        if not self.reliable:
            self._deadlines["E"] = now + self.timers.t1
        self._deadlines["F"] = now + 64 * self.timers.t1
        return [Send(self.request, self.peer)]

    def receive_response(self, response: SipResponse, now: float) -> list[Action]:
        before = self.state
        state = self._fire(_status_event(response.status))
        if before is State.COMPLETED:
            return []  # retransmitted final response: absorbed
        out: list[Action] = [ResponseReceived(self.key, response)]
        if state is State.COMPLETED:
            self._deadlines.pop("E", None)
            self._deadlines.pop("F", None)
            self._deadlines["K"] = now + (0.0 if self.reliable else self.timers.t4)
            if self.reliable:
                out += self.on_timer(now)
        return out

    def _timer(self, name: str, when: float) -> list[Action]:
        self._fire(name)
        if name == "E":
            if self.state is State.PROCEEDING:
                self._interval = self.timers.t2
            else:
                self._interval = min(2 * self._interval, self.timers.t2)
            self._deadlines["E"] = when + self._interval
            return [Send(self.request, self.peer)]
        if name == "F":
            return [TimedOut(self.key), *self._terminate()]
        return self._terminate()  # K


class InviteOkRetransmitter:
    """UAS core 2xx retransmission (§13.3.1.4): T1, 2T1, 4T1… capped at T2, until ACK or 64*T1."""

    def __init__(
        self,
        response: SipResponse,
        peer: Any,
        now: float,
        timers: TimerConfig = TimerConfig(),
        limit: int | None = None,
    ) -> None:
        """``limit``: at most this many retransmissions (None: until 64*T1, as §13.3.1.4 says)."""
        self.data = bytes(response)
        self.call_id = response.call_id
        self.peer = peer
        self.timers = timers
        self._interval = timers.t1
        self._give_up = now + 64 * timers.t1
        self._next: float | None = now + timers.t1 if limit is None or limit > 0 else None
        self._left = limit
        self.done = False

    @property
    def next_deadline(self) -> float | None:
        return None if self.done else min(self._next or self._give_up, self._give_up)

    def ack_received(self) -> None:
        self.done = True

    def on_timer(self, now: float) -> list[Action]:
        out: list[Action] = []
        while not self.done and self._next is not None and self._next <= now:
            if self._next >= self._give_up:
                break
            out.append(Send(self.data, self.peer))
            if self._left is not None:
                self._left -= 1
                if self._left <= 0:
                    self._next = None  # no more copies; the ACK may still come until 64*T1
                    break
            self._interval = min(2 * self._interval, self.timers.t2)
            self._next += self._interval
        if not self.done and now >= self._give_up:
            self.done = True
            out.append(AckTimeout(self.call_id))
        return out


def server_key(request: SipRequest) -> tuple[str, ...]:
    """Transaction key of a request (§17.2.3), with the RFC 2543 fallback."""
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch or ""
    if branch.startswith(BRANCH_MAGIC_COOKIE) and len(branch) > len(BRANCH_MAGIC_COOKIE):
        host, port = via.sent_by
        return (branch, f"{host.lower()}:{port}", method)
    # RFC 2543 (§17.2.3 last paragraphs): Request-URI, From tag, Call-ID, CSeq number, top Via.
    # The To tag is left out so the ACK, which carries our tag, matches its INVITE.
    return (
        "2543",
        request.uri,
        request.from_addr.tag or "",
        request.call_id,
        str(request.cseq.seq),
        str(via),
        method,
    )


class TransactionLayer:
    """Owns the transactions of one transport, matches messages to them and runs their timers.

    ``receive_request`` returns ``(request_for_tu, actions)``: ``request_for_tu`` is the request
    when the TU must handle it (a new transaction was created, or an ACK for a 2xx, which has no
    transaction), and None when the transaction layer absorbed a retransmission.

    Timers: ``next_deadline`` is the earliest deadline of any of its transactions (a heap, O(1) to
    read) and ``on_timer(now)`` runs every due one.  A transaction that terminates leaves the layer
    (its :class:`Terminated` is still returned, for the record).
    """

    def __init__(self, timers: TimerConfig = TimerConfig(), reliable: bool = False) -> None:
        self.timers = timers
        self.reliable = reliable
        self.server: dict[tuple[str, ...], InviteServerTransaction | NonInviteServerTransaction] = {}
        self.client: dict[tuple[str, ...], NonInviteClientTransaction] = {}
        self._due: TimerHeap[_Transaction] = TimerHeap()  # keyed by the transaction itself

    def __len__(self) -> int:
        """Live transactions, server and client."""
        return len(self.server) + len(self.client)

    def receive_request(
        self, request: SipRequest, peer: Any, now: float
    ) -> tuple[SipRequest | None, list[Action]]:
        key = server_key(request)
        txn = self.server.get(key)
        if request.method == "ACK":
            if txn is not None and isinstance(txn, InviteServerTransaction) and not txn.terminated:
                if txn.peer != peer:
                    return None, [Refused(key)]
                return None, self._track(txn, txn.receive_request(request, now))
            return request, []  # ACK for a 2xx: goes to the TU / dialog
        if txn is not None:
            if txn.peer != peer:  # a replay from elsewhere: the stored response goes nowhere else
                return None, [Refused(key)]
            return None, self._track(txn, txn.receive_request(request, now))
        cls = InviteServerTransaction if request.method == "INVITE" else NonInviteServerTransaction
        self.server[key] = cls(key, peer, self.timers, self.reliable)
        return request, []

    def transaction_for(
        self, request: SipRequest
    ) -> InviteServerTransaction | NonInviteServerTransaction | None:
        return self.server.get(server_key(request))

    def forget(self, request: SipRequest) -> None:
        """Drop the server transaction of ``request`` unanswered: the TU absorbs it (a retransmitted
        INVITE after our 2xx, RFC 6026) or refuses to keep it (a replay, a setup that failed)."""
        txn = self.server.pop(server_key(request), None)
        if txn is not None:
            self._due.cancel(txn)

    def invite_for_cancel(self, cancel: SipRequest) -> InviteServerTransaction | None:
        """The INVITE server transaction a CANCEL refers to (§9.2): same key, method INVITE."""
        key = server_key(cancel)
        txn = self.server.get((*key[:-1], "INVITE"))
        return txn if isinstance(txn, InviteServerTransaction) else None

    def respond(self, request: SipRequest, response: SipResponse, now: float) -> list[Action]:
        txn = self.server.get(server_key(request))
        if txn is None:
            raise SipTransactionError(f"no server transaction for {request.method} {request.call_id}")
        return self._track(txn, txn.respond(response, now))

    def send_request(self, request: SipRequest, peer: Any, now: float) -> list[Action]:
        if request.method in ("INVITE", "ACK"):
            raise SipTransactionError("only non-INVITE client transactions are supported")
        via = request.top_via
        key = (via.branch or "", request.cseq.method)
        txn = NonInviteClientTransaction(key, peer, self.timers, bytes(request), self.reliable)
        self.client[key] = txn
        return self._track(txn, txn.start(now))

    def receive_response(self, response: SipResponse, now: float) -> list[Action]:
        """Match by top Via branch and CSeq method (§17.1.3); unmatched responses are dropped."""
        try:
            key = (response.top_via.branch or "", response.cseq.method)
        except ValueError:
            return []
        txn = self.client.get(key)
        return self._track(txn, txn.receive_response(response, now)) if txn else []

    @property
    def next_deadline(self) -> float | None:
        return self._due.next_deadline

    def on_timer(self, now: float) -> list[Action]:
        """Run every transaction whose deadline has come: retransmissions (:class:`Send`), timeouts
        (:class:`TimedOut`, then :class:`Terminated`)."""
        out: list[Action] = []
        for txn in self._due.pop_due(now):
            deadline = txn.next_deadline
            if deadline is not None and deadline <= now:
                out.extend(self._track(txn, txn.on_timer(now)))
            else:  # its deadline moved later since it was scheduled
                self._due.schedule(txn, deadline)
        return out

    def _track(self, txn: _Transaction, actions: list[Action]) -> list[Action]:
        """After ``txn`` acted: re-arm its deadline, or let it go if it terminated."""
        if txn.terminated:
            self._due.cancel(txn)
            if self.server.get(txn.key) is txn:
                del self.server[txn.key]
            if self.client.get(txn.key) is txn:
                del self.client[txn.key]
        else:
            self._due.schedule(txn, txn.next_deadline)
        return actions
