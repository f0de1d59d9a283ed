"""SIP messages (RFC 3261 §7): parse a datagram into a request or response and back to bytes.

Wire format::

    message       = start-line *message-header CRLF [ message-body ]
    Request-Line  = Method SP Request-URI SP SIP-Version CRLF      ; exactly one SP each (§7.1)
    Status-Line   = SIP-Version SP Status-Code SP Reason-Phrase CRLF
    message-header= field-name HCOLON field-value CRLF             ; HCOLON = *( SP / HTAB ) ":" SWS
                    ; a line starting with SP/HTAB continues the previous field (LWS folding, §7.3.1)

Rules applied here:

* header names are case-insensitive and compact forms (§7.3.3, RFC 3262/3265/3515/4028…) map to
  one canonical key (``"v"`` and ``"VIA"`` are both ``"via"``); header order and the exact wire
  text of every parsed field are kept, so ``bytes(parse_message(x)) == x`` for any well-formed
  datagram whose Content-Length matches its body;
* Via, Route, Record-Route, Contact and the other list headers may appear several times and/or
  carry comma-separated values; commas inside quoted strings and <> do not split;
* datagram framing (§18.3): without Content-Length the body is the rest of the datagram; with it,
  extra octets are discarded and a shorter body is an error.  Leading CRLFs are ignored (§7.5).
  Stream framing lives in :mod:`edge.sip.framing`;
* a request must carry Via, From, To, Call-ID and CSeq (once each, except Via) with a CSeq method
  equal to the request method (RFC 4475 §3.1.2.17, §3.3.1, §3.3.8, §3.3.9); these are parsed
  eagerly (and cached) so malformed ones are rejected at the door with a precise message.

Bodies stay bytes.  Text is decoded as UTF-8 with ``surrogateescape`` so any octet round-trips.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from edge.sip.errors import SipParseError
from edge.sip.headers import (
    Address,
    CSeq,
    Uri,
    Via,
    is_token,
    parse_uri,
    split_quoted,
)

_T = TypeVar("_T")  # what a cached typed view holds

SIP_VERSION = "SIP/2.0"
CRLF = "\r\n"
MAX_FORWARDS_LIMIT = 255

COMPACT_FORMS: dict[str, str] = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "n": "identity-info",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}
# Display spelling used when this module writes a header itself.
CANONICAL_NAMES: dict[str, str] = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
    "rack": "RAck",
    "rseq": "RSeq",
    "sip-etag": "SIP-ETag",
    "sip-if-match": "SIP-If-Match",
}
# Headers whose value is a comma-separated list (§7.3.1); others are never split.
LIST_HEADERS = frozenset(
    {
        "via",
        "route",
        "record-route",
        "contact",
        "allow",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "accept",
        "accept-encoding",
        "accept-language",
        "allow-events",
        "path",
        "service-route",
        "content-encoding",
        "in-reply-to",
    }
)
_SINGLE_HEADERS = ("from", "to", "call-id", "cseq", "max-forwards")
_KNOWN_KEYS: dict[str, str] = {**COMPACT_FORMS, **{v: v for v in COMPACT_FORMS.values()}}
for _k in (
    "cseq",
    "max-forwards",
    "route",
    "record-route",
    "expires",
    "min-expires",
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "allow",
    "require",
    "proxy-require",
    "unsupported",
    "user-agent",
    "server",
    "accept",
    "date",
    "content-disposition",
    "retry-after",
    "warning",
    "organization",
    "mime-version",
    "reason",
    "p-asserted-identity",
    "content-transfer-encoding",
    "rack",
    "rseq",
    "path",
    "service-route",
    "replaces",
):
    _KNOWN_KEYS[_k] = _k
# Also index the usual wire spellings ("Call-ID", "CSeq", "Via") so lookups skip lower().
for _k in list(_KNOWN_KEYS.values()):
    for _spelling in (CANONICAL_NAMES.get(_k), "-".join(p.capitalize() for p in _k.split("-"))):
        if _spelling:
            _KNOWN_KEYS.setdefault(_spelling, _k)
for _k, _v in COMPACT_FORMS.items():
    _KNOWN_KEYS.setdefault(_k.upper(), _v)


def canonical_key(name: str) -> str:
    """Lower-case full header name for ``name`` (compact forms expanded)."""
    low = name.lower()
    return _KNOWN_KEYS.get(low, low)


def canonical_name(key: str) -> str:
    return CANONICAL_NAMES.get(key) or "-".join(p[:1].upper() + p[1:] for p in key.split("-"))


@dataclass(frozen=True, slots=True)
class Header:
    """One header field.  ``raw`` is its exact wire text (folding included) when parsed."""

    key: str
    name: str
    value: str
    raw: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def make(cls, name: str, value: str) -> Header:
        key = canonical_key(name)
        return cls(key=key, name=canonical_name(key) if len(name) == 1 else name, value=value)

    def __str__(self) -> str:
        return self.raw if self.raw is not None else f"{self.name}: {self.value}"


class _Message:
    """Behaviour shared by requests and responses (headers access, typed views, bytes)."""

    __slots__ = ()
    headers: tuple[Header, ...]
    body: bytes
    _cache: dict[str, Any]

    # -- raw access ---------------------------------------------------------------------------
    def get_headers(self, name: str) -> list[Header]:
        key = canonical_key(name)
        return [h for h in self.headers if h.key == key]

    def header(self, name: str) -> str | None:
        """Value of the first instance of ``name`` (any spelling), or None."""
        key = canonical_key(name)
        for h in self.headers:
            if h.key == key:
                return h.value
        return None

    def header_values(self, name: str) -> list[str]:
        """All values of ``name``: every instance, split on commas for list headers."""
        key = canonical_key(name)
        out: list[str] = []
        for h in self.headers:
            if h.key == key:
                if key in LIST_HEADERS:
                    for part in split_quoted(h.value, ","):
                        part = part.strip()
                        if not part:
                            raise SipParseError(f"empty value in {h.name} header")
                        out.append(part)
                else:
                    out.append(h.value)
        return out

    def _cached(self, key: str, fn: Callable[[], _T]) -> _T:
        cache: dict[str, _T] = self._cache  # what this key holds was stored here by fn, a _T
        if key not in cache:
            cache[key] = fn()
        return cache[key]

    # -- typed views (parsed on first use, then cached) ---------------------------------------
    @property
    def vias(self) -> tuple[Via, ...]:
        return self._cached("via", lambda: tuple(Via.parse(v) for v in self.header_values("via")))

    @property
    def top_via(self) -> Via:
        vias = self.vias
        if not vias:
            raise SipParseError("missing Via header")
        return vias[0]

    def _single_address(self, key: str) -> Address:
        def parse() -> Address:
            value = self.header(key)
            if value is None:
                raise SipParseError(f"missing {canonical_name(key)} header")
            try:
                return Address.parse(value)
            except SipParseError as exc:
                raise SipParseError(f"invalid {canonical_name(key)} header: {exc}") from None

        return self._cached(key, parse)

    @property
    def from_addr(self) -> Address:
        return self._single_address("from")

    @property
    def to_addr(self) -> Address:
        return self._single_address("to")

    @property
    def call_id(self) -> str:
        value = self.header("call-id")
        if not value:
            raise SipParseError("missing Call-ID header")
        return value

    @property
    def cseq(self) -> CSeq:
        def parse() -> CSeq:
            value = self.header("cseq")
            if value is None:
                raise SipParseError("missing CSeq header")
            return CSeq.parse(value)

        return self._cached("cseq", parse)

    def _addresses(self, key: str) -> tuple[Address, ...]:
        def parse() -> tuple[Address, ...]:
            values = self.header_values(key)
            if key == "contact" and values == ["*"]:
                return ()
            try:
                return tuple(Address.parse(v) for v in values)
            except SipParseError as exc:
                raise SipParseError(f"invalid {canonical_name(key)} header: {exc}") from None

        return self._cached(key, parse)

    @property
    def contacts(self) -> tuple[Address, ...]:
        """Contact addresses (empty for ``Contact: *``; see :attr:`contact_is_star`)."""
        return self._addresses("contact")

    @property
    def contact_is_star(self) -> bool:
        return self.header_values("contact") == ["*"]

    @property
    def routes(self) -> tuple[Address, ...]:
        return self._addresses("route")

    @property
    def record_routes(self) -> tuple[Address, ...]:
        return self._addresses("record-route")

    def _int_header(self, key: str, limit: int) -> int | None:
        value = self.header(key)
        if value is None:
            return None
        value = value.strip()
        if not value.isdigit() or int(value) > limit:
            raise SipParseError(f"invalid {canonical_name(key)}: {value[:40]!r}")
        return int(value)

    @property
    def max_forwards(self) -> int | None:
        return self._int_header("max-forwards", MAX_FORWARDS_LIMIT)

    @property
    def expires(self) -> int | None:
        return self._int_header("expires", 2**32 - 1)

    @property
    def content_type(self) -> str | None:
        value = self.header("content-type")
        return value.split(";", 1)[0].strip().lower() if value else None

    # -- building -----------------------------------------------------------------------------
    def with_header(self, name: str, value: str) -> Any:
        return dataclasses.replace(self, headers=(*self.headers, Header.make(name, value)))  # type: ignore[type-var]  # self is one of the dataclass subclasses

    def without_header(self, name: str) -> Any:
        key = canonical_key(name)
        return dataclasses.replace(self, headers=tuple(h for h in self.headers if h.key != key))  # type: ignore[type-var]  # self is one of the dataclass subclasses

    def replace_header(self, name: str, value: str) -> Any:
        """Replace every instance of ``name`` by one field, at the position of the first."""
        key = canonical_key(name)
        new = Header.make(name, value)
        out: list[Header] = []
        placed = False
        for h in self.headers:
            if h.key == key:
                if not placed:
                    out.append(new)
                    placed = True
            else:
                out.append(h)
        if not placed:
            out.append(new)
        return dataclasses.replace(self, headers=tuple(out))  # type: ignore[type-var]  # self is one of the dataclass subclasses

    def with_body(self, body: bytes, content_type: str | None = None) -> Any:
        msg = self.replace_header("Content-Length", str(len(body)))
        if content_type is not None:
            msg = msg.replace_header("Content-Type", content_type)
        return dataclasses.replace(msg, body=body)

    def _head(self) -> str:
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        lines = [self._head()]
        lines.extend(str(h) for h in self.headers)
        lines.append(CRLF)
        return CRLF.join(lines).encode("utf-8", "surrogateescape") + self.body


@dataclass(frozen=True, slots=True)
class SipRequest(_Message):
    method: str
    uri: str
    headers: tuple[Header, ...] = ()
    body: bytes = b""
    version: str = SIP_VERSION
    _cache: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def parse(cls, data: bytes) -> SipRequest:
        msg = parse_message(data)
        if not isinstance(msg, SipRequest):
            raise SipParseError("expected a request, got a response")
        return msg

    def _head(self) -> str:
        return f"{self.method} {self.uri} {self.version}"

    @property
    def request_uri(self) -> Uri:
        return self._cached("ruri", lambda: parse_uri(self.uri))


@dataclass(frozen=True, slots=True)
class SipResponse(_Message):
    status: int
    reason: str
    headers: tuple[Header, ...] = ()
    body: bytes = b""
    version: str = SIP_VERSION
    _cache: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def parse(cls, data: bytes) -> SipResponse:
        msg = parse_message(data)
        if not isinstance(msg, SipResponse):
            raise SipParseError("expected a response, got a request")
        return msg

    def _head(self) -> str:
        return f"{self.version} {self.status} {self.reason}"


SipMessage = SipRequest | SipResponse
_PARTIAL_KEYS = frozenset({"via", "from", "to", "call-id", "cseq"})


def _split_headers(lines: list[str]) -> list[Header]:
    """Turn header lines into fields, joining continuation lines (§7.3.1)."""
    # Group continuation lines with their field first; most messages have none.
    if any(line[:1] in (" ", "\t") for line in lines):
        grouped: list[str] = []
        for line in lines:
            if not line:
                continue
            if line[0] in " \t":
                if not grouped:
                    raise SipParseError("continuation line before the first header")
                grouped[-1] += CRLF + line
            else:
                grouped.append(line)
        lines = grouped
    known = _KNOWN_KEYS
    headers: list[Header] = []
    append = headers.append
    for raw in lines:
        name, colon, value = raw.partition(":")
        if not colon:
            if not raw:
                continue
            raise SipParseError(f"malformed header line: {raw[:40]!r}")
        if name[-1:] in (" ", "\t"):
            name = name.rstrip(" \t")
        key = known.get(name) or known.get(name.lower())
        if key is None:
            if not is_token(name):
                raise SipParseError(f"invalid header name: {name[:40]!r}")
            key = name.lower()
        if CRLF in value:
            value = " ".join(p.strip(" \t") for p in value.split(CRLF))
        append(Header(key, name, value.strip(" \t"), raw))
    return headers


def _bare_line_break(lines: list[str]) -> None:
    """Refuse a head with a CR or LF that is not part of a CRLF (§7.3.1 has no bare ones).

    A lenient peer reads a bare LF as a line end: echoed in a response (Via, From, To, Call-ID, CSeq
    are copied), it would let the sender write headers of its choosing into our answer.  The 400 is
    built from the lines without one, so it carries none (and is dropped if Via or CSeq had one).
    """
    clean = [line for line in lines[1:] if "\r" not in line and "\n" not in line]
    try:
        headers = _split_headers(clean)
    except SipParseError:
        headers = []
    method = lines[0].partition(" ")[0] if not lines[0].startswith("SIP/") else ""
    raise SipParseError("bare CR or LF in the message head", partial=_partial(method, headers))


def _partial(method: str, headers: list[Header]) -> SipRequest | None:
    kept_list: list[Header] = []
    keys: set[str] = set()
    for h in headers:
        if h.key in _PARTIAL_KEYS and (h.key == "via" or h.key not in keys):
            kept_list.append(h)
            keys.add(h.key)
    kept = tuple(kept_list)
    if not is_token(method) or not {"via", "cseq"} <= keys:
        return None
    return SipRequest(method=method, uri="", headers=kept)


def parse_message(data: bytes, *, strict: bool = True) -> SipRequest | SipResponse:
    """Parse one SIP message from a datagram (see the module docstring for the rules).

    ``strict`` (default) also parses Via, From, To, Contact and the Request-URI now, so a
    malformed one is rejected here.  With ``strict=False`` those are parsed (and cached) on
    first access and raise :class:`SipParseError` then — about twice as fast, for paths such
    as retransmission matching that only need the raw Via branch, Call-ID and CSeq.
    """
    if data[:2] == b"\r\n":
        data = data.lstrip(b"\r\n")
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise SipParseError("no empty line after the headers")
    text = head.decode("utf-8", "surrogateescape")
    lines = text.split(CRLF)
    start = lines[0]
    is_response = start.startswith("SIP/")
    headers: list[Header] = []
    method = ""
    try:
        if not is_response:
            method = start.partition(" ")[0]
        if text.count("\n") >= len(lines) or text.count("\r") >= len(lines):
            _bare_line_break(lines)  # raises
        headers = _split_headers(lines[1:])
        body = _frame_body(headers, rest)
        msg: SipRequest | SipResponse
        if is_response:
            msg = _parse_status_line(start, tuple(headers), body)
        else:
            msg = _parse_request_line(start, tuple(headers), body, strict)
        _validate(msg, strict)
        return msg
    except SipParseError as exc:
        if not is_response and exc.partial is None:
            exc.partial = _partial(method, headers)
        raise
    except (ValueError, IndexError) as exc:  # defensive: never leak another exception type
        raise SipParseError(f"malformed message: {exc}") from None


def _frame_body(headers: list[Header], rest: bytes) -> bytes:
    lengths = {h.value for h in headers if h.key == "content-length"}
    if not lengths:
        return rest
    if len(lengths) > 1:
        raise SipParseError("conflicting Content-Length headers")
    value = lengths.pop()
    if not value.isdigit():
        raise SipParseError(f"invalid Content-Length: {value[:40]!r}")
    length = int(value)
    if length > len(rest):
        raise SipParseError(f"Content-Length {length} larger than the {len(rest)} octets received")
    return rest[:length]


def _parse_request_line(start: str, headers: tuple[Header, ...], body: bytes, strict: bool) -> SipRequest:
    parts = start.split(" ")
    if len(parts) != 3 or not all(parts):
        raise SipParseError(f"malformed Request-Line: {start[:80]!r}")
    method, uri, version = parts
    if not is_token(method):
        raise SipParseError(f"invalid method: {method[:40]!r}")
    msg = SipRequest(method=method, uri=uri, headers=headers, body=body, version=version)
    if version.upper() != SIP_VERSION:
        raise SipParseError(
            f"unsupported SIP version: {version[:20]!r}", status=505, partial=_partial(method, list(headers))
        )
    if not strict:
        return msg
    try:
        ruri = msg.request_uri
    except SipParseError as exc:
        raise SipParseError(f"invalid Request-URI: {exc}") from None
    if getattr(ruri, "headers", ()):
        raise SipParseError("Request-URI must not contain headers")
    return msg


def _parse_status_line(start: str, headers: tuple[Header, ...], body: bytes) -> SipResponse:
    version, _, rest = start.partition(" ")
    code, sp, reason = rest.partition(" ")
    if version.upper() != SIP_VERSION:
        raise SipParseError(f"unsupported SIP version: {version[:20]!r}", status=505)
    if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699 or (reason and not sp):
        raise SipParseError(f"invalid status code: {code[:20]!r}")
    return SipResponse(status=int(code), reason=reason, headers=headers, body=body, version=version)


def _validate(msg: SipRequest | SipResponse, strict: bool) -> None:
    seen: dict[str, int] = {}
    for h in msg.headers:
        seen[h.key] = seen.get(h.key, 0) + 1
    for key in _SINGLE_HEADERS:
        if seen.get(key, 0) > 1:
            raise SipParseError(f"duplicate {canonical_name(key)} header")
    for key in ("via", "from", "to", "call-id", "cseq"):
        if key not in seen:
            raise SipParseError(f"missing {canonical_name(key)} header")
    cseq = msg.cseq
    if not msg.call_id:
        raise SipParseError("missing Call-ID header")
    if isinstance(msg, SipRequest):
        if cseq.method != msg.method:
            raise SipParseError(f"CSeq method {cseq.method!r} does not match request method {msg.method!r}")
        msg.max_forwards  # noqa: B018 - range check
    if strict:
        msg.vias  # noqa: B018 - parse and cache: rejects a malformed Via now
        msg.from_addr  # noqa: B018
        msg.to_addr  # noqa: B018
        if "contact" in seen:
            msg.contacts  # noqa: B018
