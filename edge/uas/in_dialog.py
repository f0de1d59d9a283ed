"""Requests inside an established dialog (RFC 3261 §12.2.2, §14, §15) and responses to our own.

BYE (200, CallEnded), re-INVITE (hold/unhold and SDP changes, 491 while an offer/answer is still
open, late offer answered in the ACK), INFO with ``application/dtmf-relay`` (RFC 2976; DtmfReceived),
NOTIFY of a REFER's progress (RFC 3515 §2.4.5; ``message/sipfrag`` status), and the blind transfer
the dialog asks for (REFER, CallTransferred requested/accepted/completed/failed).
"""

from __future__ import annotations

from typing import Protocol

import structlog

from edge import call_facts as cf
from edge import metrics as m
from edge.sdp import (
    Negotiated,
    SdpNegotiationError,
    SdpParseError,
    SessionDescription,
    make_offer,
)
from edge.sip.dialog import sipfrag_status
from edge.sip.message import SipRequest, SipResponse
from edge.uas.addresses import LocalAddresses
from edge.uas.call import Call, CallState, Effect, Peer, UpdateMedia
from edge.uas.call_facts import CallFacts
from edge.uas.call_table import CallTable
from edge.uas.info import parse_dtmf_info
from edge.uas.methods import ALLOW, KNOWN_UNSUPPORTED, OPTIONS_HEADERS, method_label
from edge.uas.routing import call_hop
from edge.uas.sdp_policy import SdpPolicy, media_addr
from edge.uas.teardown import Teardown
from edge.uas.transactions import ClientKey, Transactions

log = structlog.get_logger(__name__)


class BridgeStart(Protocol):
    """``edge.uas.bridge.TransferBridges.start``: True when the edge took the transfer over."""

    def __call__(
        self, call: Call, target: str, refused: int | None, now: float, out: list[Effect],
        *, attended: bool = False, brief: str | None = None,
    ) -> bool: ...  # fmt: skip


class InDialog:
    """In-dialog requests and the results of the BYE/REFER transactions the edge started."""

    def __init__(
        self,
        *,
        table: CallTable,
        txns: Transactions,
        facts: CallFacts,
        sdp: SdpPolicy,
        local: LocalAddresses,
        teardown: Teardown,
    ) -> None:
        self.table = table
        self.txns = txns
        self.facts = facts
        self.sdp = sdp
        self.local = local
        self.teardown = teardown
        # the edge's own transfer when REFER is refused (edge.uas.bridge): True when it took over
        self.bridge: BridgeStart | None = None

    def transfer(
        self, call_id: str, target: str, now: float, mode: str | None = None, brief: str | None = None
    ) -> list[Effect]:
        """Transfer the caller to ``target``: blind (RFC 3515: REFER the caller), or the edge calls the
        target itself (``bridge``; ``attended``: the target hears ``brief`` first).  ``mode`` None:
        the call's dialplan ``transfer_mode``."""
        out: list[Effect] = []
        call = self.table.get(call_id)
        if call is None or call.state is not CallState.ESTABLISHED or call.dialog is None:
            if call is not None and call.live:
                call.transfer_target = target  # answered but not yet ACKed: REFER after the ACK
            return out
        call.transfer_target = target
        self.facts.record(cf.call_transferred(call.call_id, target_uri=target, status="requested"))
        mode = mode or (call.plan.transfer_mode if call.plan is not None else "refer")
        if mode in ("bridge", "attended") and self.bridge is not None:
            attended = mode == "attended"
            if self.bridge(call, target, None, now, out, attended=attended, brief=brief):  # no REFER
                return out
        hop = call_hop(call)
        refer = call.dialog.make_request(
            "REFER",
            via_host=self.local.host,
            via_port=self.local.port_for(hop.transport),
            transport=hop.transport.upper(),
            headers=[("Refer-To", f"<{target}>"), ("Referred-By", f"<{call.dialog.local_uri}>")],
        )
        self.txns.send_request(call, refer, hop, now, out)
        return out

    def request(self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        """A request inside ``call``'s dialog (its To tag is ours)."""
        assert call.dialog is not None
        respond = self.txns.respond
        status = call.dialog.check_request(req)
        if status is not None:
            respond(req, peer, status, now, out)
            return
        method = req.method
        if method == "BYE":
            respond(req, peer, 200, now, out)
            if call.live:
                if call.ok is not None:
                    call.ok.ack_received()
                    call.ok = None
                call.fire("end")
                if call.parent_call_id is not None:  # a transfer's leg: the transferred-to party left
                    self.teardown.finish(call, "callee_bye", "callee", 200, now, out)
                else:
                    self.teardown.finish(call, "caller_bye", "caller", 200, now, out)
        elif method == "INVITE":
            self._reinvite(call, req, peer, now, out)
        elif method == "INFO":
            self._info(call, req, peer, now, out)
        elif method == "NOTIFY":
            self._notify(call, req, peer, now, out)
        elif method == "OPTIONS":
            respond(req, peer, 200, now, out, headers=OPTIONS_HEADERS)
        elif method in KNOWN_UNSUPPORTED or method == "REFER":
            respond(req, peer, 405, now, out, headers=[("Allow", ALLOW)])
        else:
            respond(req, peer, 501, now, out, headers=[("Allow", ALLOW)])

    def _reinvite(self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        if call.state is not CallState.ESTABLISHED or call.ok is not None:
            self.txns.respond(req, peer, 491, now, out)  # an offer/answer is still in progress (§14.2)
            return
        assert call.port is not None and call.dialog is not None
        if req.body:
            try:
                neg = self.sdp.answer(
                    SessionDescription.parse(req.body), call.port, call.local_sdp, call.negotiated
                )
                self.sdp.check_family(neg)
            except SdpParseError:
                self.txns.respond(req, peer, 400, now, out)
                return
            except SdpNegotiationError as exc:
                self.txns.respond(req, peer, exc.status, now, out)
                return
            sdp = neg.sdp
        else:
            neg = None
            call.late_offer = True
            sdp = make_offer(
                local_address=self.sdp.rtp_host,
                local_port=call.port,
                previous=call.local_sdp,
                crypto=self.sdp.offer_crypto(call.negotiated),
            )
        call.local_sdp = sdp
        if self.txns.ok_with_sdp(call, req, peer, call.dialog.local_contact, now, out) is None:
            return
        if neg is not None:
            call.negotiated = neg
            out.append(UpdateMedia(call.call_id, media_addr(neg), neg.direction))
            self.media_updated(call, neg)

    def _info(self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        if not req.body:
            self.txns.respond(req, peer, 200, now, out)  # an empty INFO is a keep-alive
            return
        ctype = req.content_type or ""
        if ctype not in ("application/dtmf-relay", "application/dtmf"):
            accept = "application/dtmf-relay, application/dtmf"
            self.txns.respond(req, peer, 415, now, out, headers=[("Accept", accept)])
            return
        dtmf = parse_dtmf_info(ctype, req.body)
        if dtmf is None:
            self.txns.respond(req, peer, 400, now, out, reason="Bad Request (DTMF body)")
            return
        self.txns.respond(req, peer, 200, now, out)
        self.facts.record(
            cf.dtmf_received(call.call_id, digit=dtmf[0], duration_ms=dtmf[1], method="sip_info")
        )

    def _notify(self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        self.txns.respond(req, peer, 200, now, out)
        event = (req.header("event") or "").split(";", 1)[0].strip().lower()
        if event != "refer" or not call.transfer_target or not call.live:
            return
        status = sipfrag_status(req.body)
        if status is None or status < 200:
            return
        target = call.transfer_target
        if status < 300:
            self.facts.record(
                cf.call_transferred(call.call_id, target_uri=target, status="completed", sip_status=status)
            )
            self.teardown.send_bye(call, "transferred", "agent", now, out)
        else:
            self._refused(call, target, status, now, out)

    def _refused(self, call: Call, target: str, status: int, now: float, out: list[Effect]) -> None:
        """The caller's side refused the REFER (or the new call failed): the edge bridges, else failed."""
        if self.bridge is not None and self.bridge(call, target, status, now, out):
            return
        self.facts.record(
            cf.call_transferred(call.call_id, target_uri=target, status="failed", sip_status=status)
        )
        call.transfer_target = None

    def media_updated(self, call: Call, neg: Negotiated) -> None:
        call.on_hold = neg.on_hold
        self.facts.record(
            cf.call_media_updated(
                call.call_id,
                direction=neg.direction,
                remote_rtp_addr=f"{neg.remote_address}:{neg.remote_port}",
                codec=neg.codec.encoding.upper(),
            )
        )

    def response(self, resp: SipResponse, peer: Peer, now: float, out: list[Effect]) -> None:
        """A response to a request the edge sent: its final status goes to the call that sent it."""
        m.RESPONSES_RECEIVED.labels(method_label(resp.cseq.method), m.status_class(resp.status)).inc()
        for a in self.txns.receive_response(resp, peer, now, out):
            self.client_result(a.key, a.response, now, out)

    def client_result(self, key: ClientKey, resp: SipResponse | None, now: float, out: list[Effect]) -> None:
        """The outcome of our BYE or REFER: a final response, or None when it timed out."""
        owner = self.txns.owner(key)
        if owner is None:
            return
        call = self.table.get(owner[0])
        if call is None:
            return
        if owner[1] == "BYE":
            if call.state is CallState.TERMINATING:
                call.fire("bye_done")
                self.teardown.forget(call)
        elif owner[1] == "REFER" and call.transfer_target and call.live:
            status = resp.status if resp is not None else 408
            target = call.transfer_target
            if status < 300:
                self.facts.record(
                    cf.call_transferred(call.call_id, target_uri=target, status="accepted", sip_status=status)
                )
            else:
                self._refused(call, target, status, now, out)
