"""The requests of an outgoing call (RFC 3261 §8.1.1, §9.1, §17.1.1.3), built from the INVITE.

* ``make_invite``: a new INVITE (§8.1.1) with our From tag, a fresh Call-ID and branch, Contact,
  and the SDP offer.  A retry after a 401/407 (§22.2) is ``reauthorised``: same Call-ID and From
  tag, CSeq + 1, new branch, the credentials header added.
* ``ack_for_failure``: the ACK for a 300-699 (§17.1.1.3), part of the INVITE transaction.
* ``cancel_for``: the CANCEL of an INVITE (§9.1) — same Request-URI, Call-ID, From, To, CSeq
  number and top Via (so the server matches it to the INVITE), method CANCEL.
"""

from __future__ import annotations

import dataclasses

from edge.sip.builders import make_request, new_branch
from edge.sip.headers import set_param
from edge.sip.message import Header, SipRequest, SipResponse

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"


def make_invite(
    *,
    target: str,
    from_uri: str,
    from_tag: str,
    call_id: str,
    via_host: str,
    via_port: int,
    contact: str,
    sdp: bytes,
    cseq: int = 1,
    transport: str = "UDP",
    display_name: str | None = None,
) -> SipRequest:
    """An initial INVITE to ``target`` (a SIP URI) carrying the SDP offer ``sdp``."""
    name = f'"{display_name}" ' if display_name else ""
    return make_request(
        "INVITE", target,
        via=f"SIP/2.0/{transport} {via_host}:{via_port};branch={new_branch()};rport",
        from_=f"{name}<{from_uri}>;tag={from_tag}", to=f"<{target}>",
        call_id=call_id, cseq=cseq, contact=f"<{contact}>",
        headers=[("Allow", ALLOW)], body=sdp, content_type="application/sdp",
    )  # fmt: skip


def reauthorised(invite: SipRequest, header: str, value: str) -> SipRequest:
    """The same INVITE again with ``header`` (Authorization / Proxy-Authorization) set, a new
    branch and CSeq + 1 (§22.2: a new transaction of the same call)."""
    via = invite.top_via
    new_via = str(dataclasses.replace(via, params=set_param(via.params, "branch", new_branch())))
    seq = invite.cseq.seq + 1
    out = invite.replace_header("Via", new_via).replace_header("CSeq", f"{seq} INVITE")
    out = out.without_header(header)
    headers = list(out.headers)
    at = next(i for i, h in enumerate(headers) if h.key == "content-type")
    headers.insert(at, Header.make(header, value))
    return SipRequest(method=out.method, uri=out.uri, headers=tuple(headers), body=out.body)


def _copy(invite: SipRequest, method: str, to: str) -> SipRequest:
    return make_request(
        method, invite.uri,
        via=invite.header_values("via")[0], from_=invite.header("from") or "", to=to,
        call_id=invite.call_id, cseq=invite.cseq.seq, routes=invite.header_values("route"),
    )  # fmt: skip


def ack_for_failure(invite: SipRequest, response: SipResponse) -> SipRequest:
    """§17.1.1.3: the To of the response (its tag), everything else from the INVITE."""
    return _copy(invite, "ACK", response.header("to") or invite.header("to") or "")


def cancel_for(invite: SipRequest) -> SipRequest:
    """§9.1: the To of the INVITE (no tag), its top Via (same branch) and Route set."""
    return _copy(invite, "CANCEL", invite.header("to") or "")
