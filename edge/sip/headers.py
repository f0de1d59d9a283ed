"""Typed SIP header values: URIs, name-addr, Via, CSeq, generic params, digest credentials.

RFC 3261 §25.1 grammar (abridged, LWS already unfolded to SP by the message parser)::

    SIP-URI       = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
    userinfo      = ( user / telephone-subscriber ) [ ":" password ] "@"
    hostport      = host [ ":" port ]        ; host = hostname / IPv4address / "[" IPv6 "]"
    uri-parameters= *( ";" pname [ "=" pvalue ] )
    headers       = "?" header *( "&" header )
    name-addr     = [ display-name ] LAQUOT addr-spec RAQUOT
    display-name  = *(token LWS) / quoted-string
    via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
    sent-protocol = protocol-name SLASH protocol-version SLASH transport
    CSeq          = 1*DIGIT LWS Method
    generic-param = token [ EQUAL gen-value ]   ; gen-value = token / host / quoted-string
    credentials   = "Digest" LWS digest-response *(COMMA digest-response)   (§25.1, RFC 7616)

Every type has ``parse(text)`` and ``__str__`` (headers are text; the message layer
encodes).  Errors raise :class:`edge.sip.errors.SipParseError` with a precise message.
Percent-escapes (§19.1.2) are decoded in :class:`SipUri` fields and re-applied on output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from edge.sip.errors import SipParseError

TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
# Characters kept unescaped when serializing each URI component (§25.1).
_USER_SAFE = "-_.!~*'()&=+$,;?/"
_PASSWORD_SAFE = "-_.!~*'()&=+$,"
_PARAM_SAFE = "-_.!~*'()[]/:&+$"
_HEADER_SAFE = "-_.!~*'()[]/?:+$"
MAX_CSEQ = 2**31 - 1  # §8.1.1.5: the sequence number MUST be less than 2**31

Params = tuple[tuple[str, str | None], ...]


def is_token(text: str) -> bool:
    # strip() removes token characters from both ends and stops at the first other one.
    return bool(text) and not text.strip(TOKEN_CHARS)


def split_quoted(text: str, sep: str) -> list[str]:
    """Split ``text`` on ``sep`` outside quoted strings and angle brackets."""
    if sep not in text:  # fast path; unbalanced quotes are caught by the element parsers
        return [text]
    if '"' not in text and "<" not in text:
        return text.split(sep)
    parts: list[str] = []
    start = 0
    in_quote = False
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if in_quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quote = False
        elif ch == '"':
            in_quote = True
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if in_quote:
        raise SipParseError("unterminated quoted string")
    parts.append(text[start:])
    return parts


def unquote_string(text: str) -> str:
    """Return the contents of a quoted-string with quoted-pairs resolved (§25.1)."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    inner = text[1:-1]
    if "\\" not in inner:
        return inner
    out: list[str] = []
    i = 0
    while i < len(inner):
        ch = inner[i]
        if ch == "\\" and i + 1 < len(inner):
            i += 1
            ch = inner[i]
        out.append(ch)
        i += 1
    return "".join(out)


def quote_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_params(text: str, what: str) -> Params:
    """Parse ``;name[=value]`` pairs (the leading ``;`` already removed)."""
    if not text.strip():
        return ()
    out: list[tuple[str, str | None]] = []
    for item in split_quoted(text, ";"):
        name, eq, value = item.partition("=")
        name = name.strip()
        if not is_token(name):
            raise SipParseError(f"invalid {what} parameter: {item.strip()!r}")
        if eq:
            value = value.strip()
            if value.startswith('"'):
                if len(value) < 2 or not value.endswith('"'):
                    raise SipParseError(f"unterminated quoted string in {what} parameter {name!r}")
            elif not value or " " in value:
                raise SipParseError(f"invalid {what} parameter value: {item.strip()!r}")
            out.append((name, value))
        else:
            out.append((name, None))
    return tuple(out)


def format_params(params: Params) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


def get_param(params: Params, name: str) -> str | None:
    """Value of parameter ``name`` (case-insensitive), unquoted; ``""`` if valueless."""
    lname = name.lower()
    for k, v in params:
        if k.lower() == lname:
            return "" if v is None else unquote_string(v)
    return None


def has_param(params: Params, name: str) -> bool:
    lname = name.lower()
    return any(k.lower() == lname for k, _ in params)


def set_param(params: Params, name: str, value: str | None) -> Params:
    lname = name.lower()
    kept = tuple((k, v) for k, v in params if k.lower() != lname)
    return (*kept, (name, value))


@dataclass(frozen=True, slots=True)
class SipUri:
    """A sip:/sips: URI (§19.1).  ``user``/``password``/params are percent-decoded."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: Params = ()
    headers: tuple[tuple[str, str], ...] = ()
    scheme: str = "sip"

    @classmethod
    def parse(cls, text: str) -> SipUri:
        scheme, colon, rest = text.partition(":")
        scheme_l = scheme.lower()
        if not colon or scheme_l not in ("sip", "sips"):
            raise SipParseError(f"not a SIP URI: {text!r}")
        if not rest or " " in rest or "\t" in rest:
            raise SipParseError(f"invalid SIP URI: {text!r}")
        user = password = None
        if "@" in rest:
            userinfo, _, rest = rest.rpartition("@")
            u, c, p = userinfo.partition(":")
            if not u:
                raise SipParseError(f"empty user in SIP URI: {text!r}")
            user = unquote(u, errors="surrogateescape")
            password = unquote(p, errors="surrogateescape") if c else None
        hostport, qmark, hdrs = rest.partition("?")
        hostport, _, param_text = hostport.partition(";")
        if hostport.startswith("["):
            end = hostport.find("]")
            if end < 0:
                raise SipParseError(f"unterminated IPv6 reference in SIP URI: {text!r}")
            host = hostport[: end + 1]
            port_text = hostport[end + 1 :]
            if port_text and not port_text.startswith(":"):
                raise SipParseError(f"invalid host in SIP URI: {text!r}")
            port_text = port_text[1:]
            has_port = bool(hostport[end + 1 :])
        else:
            host, c2, port_text = hostport.partition(":")
            has_port = bool(c2)
        if not host:
            raise SipParseError(f"missing host in SIP URI: {text!r}")
        port = None
        if has_port:
            if not port_text.isdigit() or int(port_text) > 65535:
                raise SipParseError(f"invalid port in SIP URI: {text!r}")
            port = int(port_text)
        params: Params = ()
        if param_text:
            raw = parse_params(param_text, "URI")
            params = tuple(
                (
                    unquote(k, errors="surrogateescape"),
                    None if v is None else unquote(v, errors="surrogateescape"),
                )
                for k, v in raw
            )
        headers: tuple[tuple[str, str], ...] = ()
        if qmark:
            pairs = []
            for item in hdrs.split("&"):
                k, _, v = item.partition("=")
                pairs.append((unquote(k, errors="surrogateescape"), unquote(v, errors="surrogateescape")))
            headers = tuple(pairs)
        return cls(
            host=host,
            user=user,
            password=password,
            port=port,
            params=params,
            headers=headers,
            scheme=scheme_l,
        )

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(quote(self.user, safe=_USER_SAFE, errors="surrogateescape"))
            if self.password is not None:
                out.append(":" + quote(self.password, safe=_PASSWORD_SAFE, errors="surrogateescape"))
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        for k, v in self.params:
            out.append(";" + quote(k, safe=_PARAM_SAFE, errors="surrogateescape"))
            if v is not None:
                out.append("=" + quote(v, safe=_PARAM_SAFE, errors="surrogateescape"))
        if self.headers:
            out.append("?" + "&".join(f"{_quote_header(k)}={_quote_header(v)}" for k, v in self.headers))
        return "".join(out)

    def param(self, name: str) -> str | None:
        return get_param(self.params, name)

    @property
    def transport(self) -> str:
        t = self.param("transport")
        return t.upper() if t else ("TLS" if self.scheme == "sips" else "UDP")


def _quote_header(text: str) -> str:
    return quote(text, safe=_HEADER_SAFE, errors="surrogateescape")


@dataclass(frozen=True, slots=True)
class AbsoluteUri:
    """Any non-SIP URI (tel:, http:, im:, unknown schemes — RFC 4475 §3.3.2/3.3.4)."""

    scheme: str
    opaque: str

    @classmethod
    def parse(cls, text: str) -> AbsoluteUri:
        scheme, colon, rest = text.partition(":")
        if not colon or not scheme or not scheme[0].isalpha() or " " in text:
            raise SipParseError(f"invalid URI: {text!r}")
        if not all(c.isalnum() or c in "+-." for c in scheme):
            raise SipParseError(f"invalid URI scheme: {text!r}")
        return cls(scheme=scheme.lower(), opaque=rest)

    def __str__(self) -> str:
        return f"{self.scheme}:{self.opaque}"


Uri = SipUri | AbsoluteUri


def parse_uri(text: str) -> Uri:
    s = text[:5].lower()
    if s.startswith(("sip:", "sips:")):
        return SipUri.parse(text)
    return AbsoluteUri.parse(text)


@dataclass(frozen=True, slots=True)
class Address:
    """name-addr / addr-spec with header parameters (From, To, Contact, Route, Refer-To)."""

    uri: Uri
    display_name: str | None = None
    params: Params = ()
    angle: bool = field(default=True, compare=False)

    @classmethod
    def parse(cls, text: str) -> Address:
        s = text.strip()
        if not s:
            raise SipParseError("empty address")
        display: str | None = None
        if s[0] == '"':
            i = 1
            n = len(s)
            while i < n:
                ch = s[i]
                if ch == "\\":
                    i += 2
                    continue
                if ch == '"':
                    break
                i += 1
            if i >= n:
                raise SipParseError(f"unterminated quoted display name: {s!r}")
            display = unquote_string(s[: i + 1])
            s = s[i + 1 :].lstrip()
            if not s.startswith("<"):
                raise SipParseError(f"quoted display name not followed by <uri>: {text.strip()!r}")
        lt = s.find("<")
        if lt >= 0:
            if display is None and lt > 0:
                words = s[:lt].split()
                for w in words:
                    if not is_token(w):
                        raise SipParseError(f"invalid display name: {s[:lt].strip()!r}")
                display = " ".join(words) or None
            gt = s.find(">", lt)
            if gt < 0:
                raise SipParseError(f"unterminated <uri>: {text.strip()!r}")
            inner = s[lt + 1 : gt]
            if inner != inner.strip():
                raise SipParseError(f"whitespace inside <uri>: {text.strip()!r}")
            uri = parse_uri(inner)
            rest = s[gt + 1 :].strip()
            angle = True
        else:
            uri_text, semi, rest = s.partition(";")
            if semi:
                rest = ";" + rest
            uri_text = uri_text.strip()
            if any(c in uri_text for c in ",?") or " " in uri_text:
                raise SipParseError(f"URI with ',', '?' or spaces must be enclosed in <>: {uri_text!r}")
            uri = parse_uri(uri_text)
            angle = False
        params: Params = ()
        if rest:
            if rest[0] != ";":
                raise SipParseError(f"unexpected text after address: {rest!r}")
            params = parse_params(rest[1:], "header")
        return cls(uri=uri, display_name=display, params=params, angle=angle)

    def __str__(self) -> str:
        out = ""
        if self.display_name is not None:
            dn = self.display_name
            out = (dn if all(is_token(w) for w in dn.split(" ")) and dn else quote_string(dn)) + " "
        return f"{out}<{self.uri}>{format_params(self.params)}"

    @property
    def tag(self) -> str | None:
        return get_param(self.params, "tag")

    def param(self, name: str) -> str | None:
        return get_param(self.params, name)

    def with_tag(self, tag: str) -> Address:
        return Address(
            uri=self.uri, display_name=self.display_name, params=set_param(self.params, "tag", tag)
        )


@dataclass(frozen=True, slots=True)
class Via:
    """One via-parm (§20.42)."""

    transport: str
    host: str
    port: int | None = None
    params: Params = ()
    protocol: str = "SIP/2.0"

    @classmethod
    def parse(cls, text: str) -> Via:
        s = text.strip()
        parts = s.split("/", 2)
        if len(parts) != 3:
            raise SipParseError(f"invalid Via sent-protocol: {s!r}")
        name = parts[0].strip()
        version = parts[1].strip()
        rest = parts[2].lstrip()
        transport, _, rest = rest.partition(" ")
        if ";" in transport:
            transport, _, more = transport.partition(";")
            rest = ";" + more + (" " + rest if rest else "")
        if not is_token(name) or not is_token(version) or not is_token(transport):
            raise SipParseError(f"invalid Via sent-protocol: {s!r}")
        sent_by, semi, param_text = rest.partition(";")
        sent_by = sent_by.strip()
        if not sent_by:
            raise SipParseError(f"missing Via sent-by: {s!r}")
        if sent_by.startswith("["):
            end = sent_by.find("]")
            host = sent_by[: end + 1]
            port_text = sent_by[end + 2 :] if end > 0 and sent_by[end + 1 : end + 2] == ":" else ""
            if end < 0 or (len(sent_by) > end + 1 and not port_text):
                raise SipParseError(f"invalid Via sent-by: {sent_by!r}")
        else:
            host, colon, port_text = sent_by.partition(":")
            host = host.strip()
            port_text = port_text.strip()
            if not host or " " in host:
                raise SipParseError(f"invalid Via sent-by: {sent_by!r}")
            if colon and not port_text:
                raise SipParseError(f"invalid Via port: {sent_by!r}")
        port = None
        if port_text:
            if not port_text.isdigit() or int(port_text) > 65535:
                raise SipParseError(f"invalid Via port: {sent_by!r}")
            port = int(port_text)
        params = parse_params(param_text, "Via") if semi else ()
        if semi and not params:
            raise SipParseError(f"empty Via parameter: {s!r}")
        return cls(
            transport=transport.upper(),
            host=host,
            port=port,
            params=params,
            protocol=f"{name.upper()}/{version}",
        )

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.protocol}/{self.transport} {self.host}{port}{format_params(self.params)}"

    def param(self, name: str) -> str | None:
        return get_param(self.params, name)

    @property
    def branch(self) -> str | None:
        return get_param(self.params, "branch")

    @property
    def received(self) -> str | None:
        return get_param(self.params, "received")

    @property
    def rport(self) -> int | None:
        """The rport value (RFC 3581); ``None`` if absent or valueless (see :attr:`wants_rport`)."""
        v = get_param(self.params, "rport")
        return int(v) if v and v.isdigit() else None

    @property
    def wants_rport(self) -> bool:
        return has_param(self.params, "rport")

    @property
    def sent_by(self) -> tuple[str, int]:
        default = 5061 if self.transport == "TLS" else 5060
        return self.host, self.port if self.port is not None else default


@dataclass(frozen=True, slots=True)
class CSeq:
    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit() or not is_token(parts[1]):
            raise SipParseError(f"invalid CSeq: {text.strip()!r}")
        seq = int(parts[0])
        if seq > MAX_CSEQ:
            raise SipParseError(f"CSeq number out of range: {parts[0]}")
        return cls(seq=seq, method=parts[1])

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


@dataclass(frozen=True, slots=True)
class DigestParams:
    """``Digest k=v, k="v"`` as used by Authorization, Proxy-Authorization, WWW-Authenticate.

    ``params`` keeps the wire order; values are unquoted.  ``quoted`` names the parameters
    to quote on output (RFC 7616 §3.3/§3.4 fix which ones are quoted).
    """

    scheme: str
    params: tuple[tuple[str, str], ...]

    QUOTED = frozenset(
        {
            "username",
            "realm",
            "nonce",
            "uri",
            "response",
            "cnonce",
            "opaque",
            "domain",
            "nextnonce",
            "rspauth",
            "qop_options",
        }
    )

    @classmethod
    def parse(cls, text: str) -> DigestParams:
        s = text.strip()
        scheme, _, rest = s.partition(" ")
        if not is_token(scheme):
            raise SipParseError(f"invalid auth scheme: {s[:40]!r}")
        out: list[tuple[str, str]] = []
        for item in split_quoted(rest, ","):
            if not item.strip():
                continue
            k, eq, v = item.partition("=")
            k = k.strip()
            if not eq or not is_token(k):
                raise SipParseError(f"invalid auth parameter: {item.strip()!r}")
            out.append((k.lower(), unquote_string(v.strip())))
        return cls(scheme=scheme, params=tuple(out))

    def __str__(self) -> str:
        # qop is a quoted list in a challenge but a bare token in credentials (RFC 7616 §3.3/§3.4).
        challenge = self.get("response") is None
        items = []
        for k, v in self.params:
            quoted = k in self.QUOTED or (k == "qop" and challenge)
            items.append(f"{k}={quote_string(v) if quoted else v}")
        return f"{self.scheme} " + ", ".join(items)

    def get(self, name: str) -> str | None:
        for k, v in self.params:
            if k == name:
                return v
        return None
