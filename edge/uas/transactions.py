"""The UAS core's side of the transaction layers (RFC 3261 §17): answer, send, retransmit the 2xx.

One :class:`~edge.sip.transaction.TransactionLayer` per transport (UDP unreliable; TCP and TLS
reliable).  Each layer keeps its own deadlines; after every step that may move them, the layer is
scheduled on the core's heap under :class:`~edge.uas.timers.TransactionsDue`, and ``run_due`` runs
what has come due through the layer's own ``on_timer``.  The client transactions the edge starts
(BYE, REFER) are remembered with the call and method they belong to, so their outcome — a final
response or a timeout — goes back to that call.

The 2xx to an INVITE is the TU's to retransmit (§13.3.1.4): ``ok_with_sdp`` sends it and arms an
:class:`~edge.sip.transaction.InviteOkRetransmitter` under :class:`~edge.uas.timers.OkRetransmit`.
For a peer that has not proven it receives what we send (see :mod:`edge.uas.core`), the number of
copies is capped by ``unproven_retransmits`` and ``unproven_ratio``.
"""

from __future__ import annotations

from collections.abc import Iterable

from edge import metrics as m
from edge.effects import Send
from edge.sip.builders import make_response
from edge.sip.message import SipRequest, SipResponse
from edge.sip.transaction import (
    Action,
    InviteOkRetransmitter,
    InviteServerTransaction,
    ResponseReceived,
    SipTransactionError,
    Terminated,
    TimedOut,
    TransactionLayer,
)
from edge.uas.call import Call, Effect, Peer
from edge.uas.config import UasConfig
from edge.uas.methods import ALLOW, method_label
from edge.uas.timers import CoreTimers, OkRetransmit, TransactionsDue

ClientKey = tuple[str, ...]


class Transactions:
    """The three transaction layers, the client transactions' owners and the 2xx retransmission."""

    def __init__(self, config: UasConfig, timers: CoreTimers) -> None:
        self.config = config
        self.timers = timers
        self.layers = {
            "udp": TransactionLayer(config.timers, reliable=False),
            "tcp": TransactionLayer(config.timers, reliable=True),
            "tls": TransactionLayer(config.timers, reliable=True),
        }
        self._due = {transport: TransactionsDue(transport) for transport in self.layers}
        self._owners: dict[ClientKey, tuple[str, str]] = {}  # client txn -> (call_id, method)

    @property
    def active(self) -> int:
        """Live transactions on every transport."""
        return sum(len(layer) for layer in self.layers.values())

    def arm(self, transport: str) -> None:
        """Put the layer's next deadline on the core's heap (after anything that may have moved it)."""
        self.timers.schedule(self._due[transport], self.layers[transport].next_deadline)

    @staticmethod
    def absorb(actions: list[Action], out: list[Effect]) -> list[Action]:
        """Sends go out; a Terminated needs nothing more (the layer let the transaction go); the rest
        is returned."""
        rest: list[Action] = []
        for a in actions:
            if isinstance(a, Send):
                out.append(a)
            elif not isinstance(a, Terminated):
                rest.append(a)
        return rest

    def receive_request(
        self, req: SipRequest, peer: Peer, now: float, out: list[Effect]
    ) -> tuple[SipRequest | None, list[Action]]:
        """Match a request to its server transaction: ``(req, [])`` when the TU must handle it,
        ``(None, rest)`` for a retransmission the layer answered or absorbed (``rest``: Refused)."""
        for_tu, actions = self.layers[peer.transport].receive_request(req, peer, now)
        rest = self.absorb(actions, out)
        if for_tu is None:
            self.arm(peer.transport)
        return for_tu, rest

    def invite_for_cancel(self, cancel: SipRequest, peer: Peer) -> InviteServerTransaction | None:
        """The INVITE server transaction a CANCEL refers to (§9.2), on the CANCEL's transport."""
        return self.layers[peer.transport].invite_for_cancel(cancel)

    def quiet(self, invite: SipRequest, peer: Peer) -> None:
        """No timer G for this INVITE's final response: the peer has not proven it wants our
        messages (see :mod:`edge.uas.core`), so only its own retransmissions fetch the response again."""
        txn = self.layers[peer.transport].transaction_for(invite)
        if isinstance(txn, InviteServerTransaction):
            txn.quiet = True

    def forget(self, req: SipRequest, peer: Peer) -> None:
        """Drop ``req``'s server transaction unanswered (see TransactionLayer.forget)."""
        self.layers[peer.transport].forget(req)

    def respond(
        self,
        req: SipRequest,
        peer: Peer,
        status: int,
        now: float,
        out: list[Effect],
        *,
        reason: str | None = None,
        to_tag: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> SipResponse | None:
        """Answer ``req`` through its server transaction; None when it already has a final response."""
        response = make_response(
            req,
            status,
            reason,
            to_tag=to_tag,
            headers=[*headers, ("Server", self.config.server)],
            body=body,
            content_type=content_type,
        )
        try:
            self.absorb(self.layers[peer.transport].respond(req, response, now), out)
        except SipTransactionError:
            return None  # that transaction already has its final response
        m.RESPONSES_SENT.labels(method_label(req.method), m.status_class(status)).inc()
        self.arm(peer.transport)
        return response

    def trying_if_silent(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        """100 Trying only when nothing else was sent yet (§17.2.1 wants one when the TU will not
        answer within 200 ms; every answer here is immediate, so this is a safety net, and an
        unproven source is not sent one more message than the protocol needs)."""
        txn = self.layers[peer.transport].transaction_for(req)
        if txn is not None and txn.last_response is None and not txn.terminated:
            self.respond(req, peer, 100, now, out)

    def ok_with_sdp(
        self, call: Call, req: SipRequest, peer: Peer, contact: str, now: float, out: list[Effect]
    ) -> SipResponse | None:
        """200 OK to an INVITE carrying ``call.local_sdp``, retransmitted until its ACK (RFC 3261
        §13.3.1.4); None when the INVITE transaction is gone."""
        assert call.local_sdp is not None
        ok = self.respond(
            req,
            peer,
            200,
            now,
            out,
            to_tag=call.local_tag,
            headers=[("Contact", contact), ("Allow", ALLOW)],
            body=bytes(call.local_sdp),
            content_type="application/sdp",
        )
        if ok is not None:
            limit = None if call.proven else self._unproven_copies(req, ok) - 1
            call.ok = InviteOkRetransmitter(ok, peer, now, self.config.timers, limit)
            call.ok_cseq = req.cseq.seq
            self.timers.schedule(OkRetransmit(call.call_id), call.ok.next_deadline)
        return ok

    def _unproven_copies(self, req: SipRequest, ok: SipResponse) -> int:
        """Copies of a 2xx an unproven source gets: ``unproven_retransmits`` + 1, fewer if they would
        add up to more than ``unproven_ratio`` times the request's size (the first always goes)."""
        budget = int(self.config.unproven_ratio * len(bytes(req)) // max(1, len(bytes(ok))))
        return max(1, min(self.config.unproven_retransmits + 1, budget))

    def send_request(self, call: Call, req: SipRequest, hop: Peer, now: float, out: list[Effect]) -> None:
        """Start a client transaction for a request the edge sends in ``call``'s dialog."""
        self.absorb(self.layers[hop.transport].send_request(req, hop, now), out)
        self._owners[(req.top_via.branch or "", req.method)] = (call.call_id, req.method)
        m.TRANSACTIONS.labels("client").inc()
        self.arm(hop.transport)

    def owner(self, key: ClientKey) -> tuple[str, str] | None:
        """The (call_id, method) a finished client transaction belonged to; asked once per outcome."""
        return self._owners.pop(key, None)

    def receive_response(
        self, resp: SipResponse, peer: Peer, now: float, out: list[Effect]
    ) -> list[ResponseReceived]:
        """A response to one of our requests: the final ones its transaction passes up."""
        layer = self.layers[peer.transport]
        finals = [
            a
            for a in self.absorb(layer.receive_response(resp, now), out)
            if isinstance(a, ResponseReceived) and a.response.status >= 200
        ]
        self.arm(peer.transport)
        return finals

    def run_due(self, transport: str, now: float, out: list[Effect]) -> list[ClientKey]:
        """Run the layer's due timers: retransmissions go out; returns the keys of the transactions
        that timed out (timer F of our own requests; timer H needs nothing more from the core)."""
        actions = self.layers[transport].on_timer(now)
        m.RETRANSMISSIONS.inc(sum(1 for a in actions if isinstance(a, Send)))
        timed_out = [a.key for a in self.absorb(actions, out) if isinstance(a, TimedOut)]
        self.arm(transport)
        return timed_out
