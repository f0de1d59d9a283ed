"""Building responses and in-dialog requests (RFC 3261 §8.2.6, §12.2.1.1).

``make_response`` copies Via (all, in order), From, To, Call-ID and CSeq from the request
(§8.2.6.2), adds the UAS To-tag (never on 100 Trying, §8.2.6.1) and, for dialog-creating
responses, the Record-Route set (§12.1.1).  It works on a full request or on the ``partial``
request carried by a :class:`~edge.sip.errors.SipParseError`, so malformed input still gets a 400.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from edge.sip.errors import SipParseError
from edge.sip.headers import Address
from edge.sip.message import Header, SipRequest, SipResponse

BRANCH_MAGIC_COOKIE = "z9hG4bK"  # §8.1.1.7
REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    415: "Unsupported Media Type",
    420: "Bad Extension",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
}
_COPIED = ("via", "from", "to", "call-id", "cseq")
_DIALOG_CREATING = frozenset({"INVITE", "SUBSCRIBE", "REFER"})


def new_branch() -> str:
    return BRANCH_MAGIC_COOKIE + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(12)}@{host}"


def _to_has_tag(value: str) -> bool:
    try:
        return Address.parse(value).tag is not None
    except SipParseError:
        return ";tag=" in value.lower().replace(" ", "")


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> SipResponse:
    """A response to ``request`` per §8.2.6; ``headers`` are appended as (name, value)."""
    out: list[Header] = []
    for key in _COPIED:
        for h in request.headers:
            if h.key != key:
                continue
            if key == "to" and to_tag and status != 100 and not _to_has_tag(h.value):
                h = Header(h.key, h.name, f"{h.value};tag={to_tag}")
            out.append(_unfolded(h))
    if request.method in _DIALOG_CREATING and 100 < status < 300:
        out.extend(_unfolded(h) for h in request.headers if h.key == "record-route")
    out.extend(Header.make(name, value) for name, value in headers)
    if content_type is not None:
        out.append(Header.make("Content-Type", content_type))
    out.append(Header.make("Content-Length", str(len(body))))
    return SipResponse(
        status=status,
        reason=clean_reason(reason) if reason else REASON_PHRASES.get(status, ""),
        headers=tuple(out),
        body=body,
    )


def _unfolded(h: Header) -> Header:
    """A copied header on one line: its wire text when that has no folding (§7.3.1), else ``name:
    value`` with the continuation joined. A folded line starting with SP/HTAB is read as a header of its
    own by a lenient peer (`` L: x`` is a Content-Length), so what we echo is never folded."""
    if h.raw is not None and "\r\n" in h.raw:
        return Header(h.key, h.name, h.value)
    return h


def clean_reason(reason: str) -> str:
    """A Reason-Phrase (§25.1: text, SP and HTAB) from any string: control characters (CR and LF
    above all — they would end the status line) and lone surrogates from undecodable input become
    ``?``. Our phrases quote parse errors, which quote the wire."""
    if reason.isprintable():
        return reason
    return "".join(c if c.isprintable() or c == "\t" else "?" for c in reason)


def make_request(
    method: str,
    uri: str,
    *,
    via: str,
    from_: str,
    to: str,
    call_id: str,
    cseq: int,
    routes: Iterable[str] = (),
    contact: str | None = None,
    max_forwards: int = 70,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> SipRequest:
    """A request with the mandatory headers of §8.1.1 in the conventional order."""
    out = [Header.make("Via", via)]
    out.extend(Header.make("Route", r) for r in routes)
    out += [
        Header.make("Max-Forwards", str(max_forwards)),
        Header.make("From", from_),
        Header.make("To", to),
        Header.make("Call-ID", call_id),
        Header.make("CSeq", f"{cseq} {method}"),
    ]
    if contact is not None:
        out.append(Header.make("Contact", contact))
    out.extend(Header.make(name, value) for name, value in headers)
    if content_type is not None:
        out.append(Header.make("Content-Type", content_type))
    out.append(Header.make("Content-Length", str(len(body))))
    return SipRequest(method=method, uri=uri, headers=tuple(out), body=body)


def bad_request_for(error: SipParseError) -> SipResponse | None:
    """The 400 (or 505) answering a datagram that failed to parse, when it can be routed back."""
    if error.partial is None:
        return None
    status = error.status
    if status != 400 and not {"from", "to", "call-id"} <= {h.key for h in error.partial.headers}:
        status = 400  # only a 400 may lack what the request lacked (§8.2.6 copies all five)
    return make_response(error.partial, status, f"{REASON_PHRASES[status]} ({error})"[:120])
