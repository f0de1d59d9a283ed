"""Requests inside an established dialog (RFC 3261 §12.2.2, §14, §15) and responses to our own.

BYE (200, CallEnded), re-INVITE (hold/unhold and SDP changes, 491 while an offer/answer is still
open, late offer answered in the ACK), INFO with ``application/dtmf-relay`` (RFC 2976; DtmfReceived),
NOTIFY of a REFER's progress (RFC 3515 §2.4.5; ``message/sipfrag`` status), and the blind transfer
the dialog asks for (REFER, CallTransferred requested/accepted/completed/failed).
"""

from __future__ import annotations

import structlog

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
from edge.sip.transaction import (
    ResponseReceived,
)
from edge.uas.base import (
    ALLOW,
    KNOWN_UNSUPPORTED,
    Effect,
    media_addr,
    method_label,
)
from edge.uas.call import Call, CallState, Peer, UpdateMedia
from edge.uas.info import parse_dtmf_info
from edge.uas.teardown import Teardown
from schemas import models as f

log = structlog.get_logger(__name__)


class InDialog(Teardown):
    """In-dialog requests and the results of the BYE/REFER transactions the edge started."""

    def transfer(self, call_id: str, target: str, now: float) -> list[Effect]:
        """Blind transfer (RFC 3515): REFER the caller to ``target``."""
        out: list[Effect] = []
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.ESTABLISHED or call.dialog is None:
            if call is not None and call.live:
                call.transfer_target = target  # answered but not yet ACKed: REFER after the ACK
            return out
        call.transfer_target = target
        self._emit(call, f.CallTransferred, target_uri=target, status="requested")
        hop = self._hop(call)
        refer = call.dialog.make_request(
            "REFER",
            via_host=self.config.host,
            via_port=self._local_port(hop.transport),
            transport=hop.transport.upper(),
            headers=[("Refer-To", f"<{target}>"), ("Referred-By", f"<{call.dialog.local_uri}>")],
        )
        self._send_request(call, refer, hop, now, out)
        return out

    def _in_dialog(self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        assert call.dialog is not None
        status = call.dialog.check_request(req)
        if status is not None:
            self._respond(req, peer, status, now, out)
            return
        method = req.method
        if method == "BYE":
            self._respond(req, peer, 200, now, out)
            if call.live:
                if call.ok is not None:
                    call.ok.ack_received()
                    call.ok = None
                call.fire("end")
                self._finish(call, "caller_bye", "caller", 200, now, out)
        elif method == "INVITE":
            self._reinvite(call, req, peer, now, out)
        elif method == "INFO":
            self._info(call, req, peer, now, out)
        elif method == "NOTIFY":
            self._notify(call, req, peer, now, out)
        elif method == "OPTIONS":
            self._options(req, peer, now, out)
        elif method in KNOWN_UNSUPPORTED or method == "REFER":
            self._respond(req, peer, 405, now, out, headers=[("Allow", ALLOW)])
        else:
            self._respond(req, peer, 501, now, out, headers=[("Allow", ALLOW)])

    def _reinvite(self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        if call.state is not CallState.ESTABLISHED or call.ok is not None:
            self._respond(req, peer, 491, now, out)  # an offer/answer is still in progress (§14.2)
            return
        assert call.port is not None and call.dialog is not None
        if req.body:
            try:
                neg = self._answer_sdp(
                    SessionDescription.parse(req.body), call.port, call.local_sdp, call.negotiated
                )
                self._check_family(neg)
            except SdpParseError:
                self._respond(req, peer, 400, now, out)
                return
            except SdpNegotiationError as exc:
                self._respond(req, peer, exc.status, now, out)
                return
            sdp = neg.sdp
        else:
            neg = None
            call.late_offer = True
            sdp = make_offer(
                local_address=self.config.rtp_host,
                local_port=call.port,
                previous=call.local_sdp,
                crypto=self._offer_crypto(call.negotiated),
            )
        call.local_sdp = sdp
        assert call.dialog is not None
        if self._ok_with_sdp(call, req, peer, call.dialog.local_contact, now, out) is None:
            return
        if neg is not None:
            call.negotiated = neg
            out.append(UpdateMedia(call.call_id, media_addr(neg), neg.direction))
            self._media_updated(call, neg)

    def _info(self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        if not req.body:
            self._respond(req, peer, 200, now, out)  # an empty INFO is a keep-alive
            return
        ctype = req.content_type or ""
        if ctype not in ("application/dtmf-relay", "application/dtmf"):
            accept = "application/dtmf-relay, application/dtmf"
            self._respond(req, peer, 415, now, out, headers=[("Accept", accept)])
            return
        dtmf = parse_dtmf_info(ctype, req.body)
        if dtmf is None:
            self._respond(req, peer, 400, now, out, reason="Bad Request (DTMF body)")
            return
        self._respond(req, peer, 200, now, out)
        self._emit(call, f.DtmfReceived, digit=dtmf[0], duration_ms=dtmf[1], method="sip_info")

    def _notify(self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        self._respond(req, peer, 200, now, out)
        event = (req.header("event") or "").split(";", 1)[0].strip().lower()
        if event != "refer" or not call.transfer_target or not call.live:
            return
        status = sipfrag_status(req.body)
        if status is None or status < 200:
            return
        if status < 300:
            self._emit(
                call,
                f.CallTransferred,
                target_uri=call.transfer_target,
                status="completed",
                sip_status=status,
            )
            self._send_bye(call, "transferred", "agent", now, out)
        else:
            self._emit(
                call, f.CallTransferred, target_uri=call.transfer_target, status="failed", sip_status=status
            )
            call.transfer_target = None

    def _media_updated(self, call: Call, neg: Negotiated) -> None:
        call.on_hold = neg.on_hold
        self._emit(
            call,
            f.CallMediaUpdated,
            direction=neg.direction,
            remote_rtp_addr=f"{neg.remote_address}:{neg.remote_port}",
            codec=neg.codec.encoding.upper(),
        )

    def _response(self, resp: SipResponse, peer: Peer, now: float, out: list[Effect]) -> None:
        m.RESPONSES_RECEIVED.labels(method_label(resp.cseq.method), m.status_class(resp.status)).inc()
        layer = self.layers[peer.transport]
        for a in self._absorb(peer.transport, layer.receive_response(resp, now), out):
            if isinstance(a, ResponseReceived) and a.response.status >= 200:
                self._client_result(a.key, a.response, now, out)
                txn = layer.client.get(a.key)
                if txn is not None:
                    self.timers.schedule(("ct", (peer.transport, a.key)), txn.next_deadline)

    def _client_result(
        self, key: tuple[str, ...], resp: SipResponse | None, now: float, out: list[Effect]
    ) -> None:
        owner = self._client.pop(key, None)
        if owner is None:
            return
        call = self.calls.get(owner[0])
        if call is None:
            return
        if owner[1] == "BYE":
            if call.state is CallState.TERMINATING:
                call.fire("bye_done")
                self._forget(call)
        elif owner[1] == "REFER" and call.transfer_target and call.live:
            status = resp.status if resp is not None else 408
            if status < 300:
                self._emit(
                    call,
                    f.CallTransferred,
                    target_uri=call.transfer_target,
                    status="accepted",
                    sip_status=status,
                )
            else:
                self._emit(
                    call,
                    f.CallTransferred,
                    target_uri=call.transfer_target,
                    status="failed",
                    sip_status=status,
                )
                call.transfer_target = None
