"""SDP (RFC 4566) and the offer/answer model (RFC 3264), with SDES crypto lines (RFC 4568).

Grammar (one ``<type>=<value>`` per line, CRLF; order is fixed by RFC 4566 §5)::

    session  = v= o= s= [i=] [u=] [e=] [p=] [c=] *b= 1*(t= *r=) [z=] [k=] *a=  *media
    media    = m=<media> <port>[/<count>] <proto> <fmt> ...  [i=] *c= *b= [k=] *a=
    o=<username> <sess-id> <sess-version> IN IP4 <address>
    a=rtpmap:<pt> <encoding>/<clock>[/<channels>]   a=fmtp:<pt> <params>   a=ptime:<ms>
    a=sendrecv | a=sendonly | a=recvonly | a=inactive          (session or media level)
    a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]   (RFC 4568 §9.1)

Descriptions keep their lines in order, so ``bytes(SessionDescription.parse(x)) == x`` for CRLF
input; typed views (origin, connection, rtpmap, direction, crypto…) are computed from the lines.
:func:`answer` picks a codec from ``edge.media.codecs.registry`` (PCMU, PCMA, G722, opus): the first
offered G.711 codec when there is one (wideband costs ~10x the CPU per call), else the first offered
codec we support, under the offer's payload type; telephone-event is kept when offered at the chosen
codec's clock rate. It mirrors the direction (sendonly→recvonly, hold), keeps ptime, and raises
:class:`SdpNegotiationError` (answer 488) when nothing fits. Opus is answered as ``opus/48000/2`` with
our ``a=fmtp`` (RFC 7587 §7); the offer's fmtp for the chosen payload type travels in the ``Binding``.

The media address of the chosen stream must be usable before anything is answered
(:func:`check_media_address`, 488 otherwise): ``IN IP4`` with a dotted-quad literal or ``IN IP6`` with
an IPv6 literal (no host names: resolving one per packet would block the media clock, and a name is
an address nobody vouched for), not multicast, broadcast or reserved, and unspecified (``0.0.0.0``,
``::``) only as the RFC 3264 §8.4 hold idiom; port 1..65535 (0 is a refused stream, never chosen).
"""

from __future__ import annotations

import ipaddress
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from edge.media.codecs.registry import DEFAULT_OFFER, Binding, CodecRegistry, default_registry

STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int]] = {
    0: ("PCMU", 8000),
    8: ("PCMA", 8000),
    9: ("G722", 8000),
    18: ("G729", 8000),
    3: ("GSM", 8000),
    13: ("CN", 8000),
}
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
MIRROR = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}
SRTP_SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")
REGISTRY = default_registry()  # codec modules load their libraries (PyAV) only when a codec is used
PREFERRED = ("PCMU", "PCMA")  # answered first whenever offered: the cheap hot path
TELEPHONE_EVENT_PT = 101

Line = tuple[str, str]


class SdpParseError(ValueError):
    """Malformed session description."""


class SdpNegotiationError(ValueError):
    """No acceptable answer to an offer; the SIP layer answers ``status`` (488)."""

    status = 488


# Packet times a peer may ask for (ms): a value outside, or not a finite number (``x``, ``nan``,
# ``1e309``), is ignored like a missing attribute — a peer's typo is no reason to refuse the call, and a
# 1 ms or a one-minute packet would make the media clock tick absurdly.
PTIME_MIN_MS: Final = 10
PTIME_MAX_MS: Final = 200


def _packet_ms(values: list[str | None]) -> int | None:
    """``a=ptime`` / ``a=maxptime`` (RFC 4566 §6): the first value, in range, as whole ms, else None."""
    if not values or not values[0]:
        return None
    try:
        ms = float(values[0])
    except ValueError:
        return None
    if not math.isfinite(ms) or not PTIME_MIN_MS <= ms <= PTIME_MAX_MS:
        return None
    return int(ms)


def _attrs(lines: Sequence[Line], name: str) -> list[str | None]:
    out: list[str | None] = []
    for t, v in lines:
        if t == "a":
            n, colon, rest = v.partition(":")
            if n == name:
                out.append(rest if colon else None)
    return out


@dataclass(frozen=True, slots=True)
class Origin:
    username: str
    session_id: str
    version: int
    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"

    @classmethod
    def parse(cls, value: str) -> Origin:
        p = value.split()
        if len(p) != 6 or not p[2].isdigit():
            raise SdpParseError(f"invalid o= line: {value!r}")
        return cls(p[0], p[1], int(p[2]), p[5], p[3], p[4])

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.version} {self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"

    @classmethod
    def parse(cls, value: str) -> Connection:
        p = value.split()
        if len(p) != 3:
            raise SdpParseError(f"invalid c= line: {value!r}")
        return cls(p[2].split("/")[0], p[0], p[1])

    @property
    def is_hold(self) -> bool:
        return self.address in ("0.0.0.0", "::")  # RFC 2543-style hold


@dataclass(frozen=True, slots=True)
class Crypto:
    """``a=crypto`` (RFC 4568 §9.1); key_params like ``inline:<key||salt>[|lifetime][|MKI:len]``."""

    tag: int
    suite: str
    key_params: str
    session_params: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> Crypto:
        p = value.split()
        if len(p) < 3 or not p[0].isdigit():
            raise SdpParseError(f"invalid crypto attribute: {value!r}")
        return cls(int(p[0]), p[1], p[2], tuple(p[3:]))

    def __str__(self) -> str:
        return " ".join([str(self.tag), self.suite, self.key_params, *self.session_params])

    @property
    def inline_key(self) -> str | None:
        """The base64 master key||salt of the first ``inline:`` key parameter."""
        for kp in self.key_params.split(";"):
            if kp.startswith("inline:"):
                return kp[7:].split("|")[0]
        return None


@dataclass(frozen=True, slots=True)
class Codec:
    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1
    fmtp: str | None = None


@dataclass(frozen=True, slots=True)
class MediaDescription:
    media: str
    port: int
    proto: str
    fmts: tuple[str, ...]
    lines: tuple[Line, ...] = ()  # c=, b=, a=… after the m= line
    port_count: int | None = None

    @classmethod
    def parse_mline(cls, value: str) -> MediaDescription:
        p = value.split()
        if len(p) < 4:
            raise SdpParseError(f"invalid m= line: {value!r}")
        port_text, _, count = p[1].partition("/")
        if not port_text.isdigit() or int(port_text) > 65535 or (count and not count.isdigit()):
            raise SdpParseError(f"invalid m= port: {value!r}")
        return cls(p[0], int(port_text), p[2], tuple(p[3:]), port_count=int(count) if count else None)

    def mline(self) -> str:
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        return f"{self.media} {port} {self.proto} {' '.join(self.fmts)}"

    def attributes(self, name: str) -> list[str | None]:
        return _attrs(self.lines, name)

    @property
    def connection(self) -> Connection | None:
        for t, v in self.lines:
            if t == "c":
                return Connection.parse(v)
        return None

    @property
    def direction(self) -> str | None:
        for t, v in self.lines:
            if t == "a" and v in DIRECTIONS:
                return v
        return None

    @property
    def ptime(self) -> int | None:
        return _packet_ms(self.attributes("ptime"))

    @property
    def maxptime(self) -> int | None:
        return _packet_ms(self.attributes("maxptime"))

    @property
    def cryptos(self) -> list[Crypto]:
        return [Crypto.parse(v) for v in self.attributes("crypto") if v]

    @property
    def is_srtp(self) -> bool:
        return "SAVP" in self.proto.upper()

    def codecs(self) -> list[Codec]:
        """Offered codecs in preference order (rtpmap wins over the static table)."""
        rtpmap: dict[str, str] = {}
        for v in self.attributes("rtpmap"):
            if v:
                fmt, _, enc = v.partition(" ")
                rtpmap[fmt] = enc.strip()
        fmtp: dict[str, str] = {}
        for v in self.attributes("fmtp"):
            if v:
                fmt, _, params = v.partition(" ")
                fmtp[fmt] = params.strip()
        out = []
        for fmt in self.fmts:
            if not fmt.isdigit():
                continue
            pt = int(fmt)
            if fmt in rtpmap:
                parts = rtpmap[fmt].split("/")
                name = parts[0]
                clock = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 8000
                channels = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 1
            elif pt in STATIC_PAYLOAD_TYPES:
                name, clock = STATIC_PAYLOAD_TYPES[pt]
                channels = 1
            else:
                continue
            out.append(Codec(pt, name, clock, channels, fmtp.get(fmt)))
        return out


@dataclass(frozen=True, slots=True)
class SessionDescription:
    lines: tuple[Line, ...]  # session-level lines, v= first
    media: tuple[MediaDescription, ...] = ()

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        session: list[Line] = []
        media: list[MediaDescription] = []
        current: list[Line] | None = None
        head: MediaDescription | None = None
        for raw in text.split("\n"):
            line = raw.rstrip("\r")
            if not line:
                continue
            if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
                raise SdpParseError(f"invalid SDP line: {line[:40]!r}")
            t, v = line[0], line[2:]
            if t == "m":
                if head is not None:
                    media.append(replace(head, lines=tuple(current or ())))
                head, current = MediaDescription.parse_mline(v), []
            elif current is not None:
                current.append((t, v))
            else:
                session.append((t, v))
        if head is not None:
            media.append(replace(head, lines=tuple(current or ())))
        if not session or session[0] != ("v", "0"):
            raise SdpParseError("SDP must start with v=0")
        sd = cls(tuple(session), tuple(media))
        sd.origin  # noqa: B018 - validate o=
        return sd

    def __str__(self) -> str:
        out = [f"{t}={v}" for t, v in self.lines]
        for m in self.media:
            out.append(f"m={m.mline()}")
            out.extend(f"{t}={v}" for t, v in m.lines)
        return "\r\n".join(out) + "\r\n"

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8")

    def _value(self, kind: str) -> str | None:
        for t, v in self.lines:
            if t == kind:
                return v
        return None

    @property
    def origin(self) -> Origin:
        v = self._value("o")
        if v is None:
            raise SdpParseError("missing o= line")
        return Origin.parse(v)

    @property
    def connection(self) -> Connection | None:
        v = self._value("c")
        return Connection.parse(v) if v else None

    @property
    def direction(self) -> str | None:
        for t, v in self.lines:
            if t == "a" and v in DIRECTIONS:
                return v
        return None

    def media_connection(self, m: MediaDescription) -> Connection | None:
        return m.connection or self.connection

    def media_direction(self, m: MediaDescription) -> str:
        return m.direction or self.direction or "sendrecv"

    def is_hold(self, m: MediaDescription) -> bool:
        conn = self.media_connection(m)
        return self.media_direction(m) in ("sendonly", "inactive") or bool(conn and conn.is_hold)

    def with_version(self, version: int) -> SessionDescription:
        o = self.origin
        lines = tuple(("o", str(replace(o, version=version))) if t == "o" else (t, v) for t, v in self.lines)
        return replace(self, lines=lines)


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What the media layer needs once offer and answer are known."""

    sdp: SessionDescription  # our description (the answer, or our offer)
    codec: Codec
    telephone_event: Codec | None
    remote_address: str
    remote_port: int
    direction: str  # ours
    ptime: int
    local_crypto: Crypto | None = None
    remote_crypto: Crypto | None = None
    binding: Binding | None = None  # the registry codec, its payload type and the peer's fmtp

    @property
    def on_hold(self) -> bool:
        return self.direction in ("recvonly", "inactive")


def check_media_address(conn: Connection, port: int) -> None:
    """Raise :class:`SdpNegotiationError` (488) unless ``conn``/``port`` can be sent RTP (see the module
    docstring); the unspecified address passes (hold: nothing is sent to it)."""
    if conn.nettype != "IN" or conn.addrtype not in ("IP4", "IP6"):
        raise SdpNegotiationError(f"unsupported connection type {conn.nettype} {conn.addrtype}"[:120])
    if not 0 < port <= 65535:
        raise SdpNegotiationError(f"media port {port} out of range")
    try:
        ip = (
            ipaddress.IPv4Address(conn.address)
            if conn.addrtype == "IP4"
            else ipaddress.IPv6Address(conn.address)
        )
    except ValueError:
        raise SdpNegotiationError(
            f"media address is not an {conn.addrtype} literal: {conn.address[:60]!r}"
        ) from None
    if ip.is_unspecified:
        return
    if ip.is_multicast or ip.is_reserved or ip == ipaddress.IPv4Address("255.255.255.255"):
        raise SdpNegotiationError(f"media address {ip} cannot take unicast RTP")
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        raise SdpNegotiationError("media address with a zone index")


def _first_audio(sd: SessionDescription) -> MediaDescription:
    for m in sd.media:
        if m.media == "audio" and m.port != 0:
            return m
    raise SdpNegotiationError("no audio stream offered")


def _build(
    local_address: str, username: str, session_id: str, version: int, media: Sequence[MediaDescription]
) -> SessionDescription:
    lines = (
        ("v", "0"),
        ("o", f"{username} {session_id} {version} IN IP4 {local_address}"),
        ("s", "-"),
        ("c", f"IN IP4 {local_address}"),
        ("t", "0 0"),
    )
    return SessionDescription(lines, tuple(media))


def _codec_lines(codecs: Sequence[Codec]) -> list[Line]:
    out: list[Line] = []
    for c in codecs:
        tail = f"/{c.channels}" if c.channels != 1 else ""
        out.append(("a", f"rtpmap:{c.payload_type} {c.encoding}/{c.clock_rate}{tail}"))
        if c.fmtp:
            out.append(("a", f"fmtp:{c.payload_type} {c.fmtp}"))
    return out


def _binding_codec(binding: Binding) -> Codec:
    """The SDP view of a registry binding: our rtpmap and our fmtp for it."""
    c = binding.codec
    return Codec(binding.payload_type, c.name, c.clock_rate, c.channels, c.fmtp)


def choose_codec(
    offered: Sequence[Codec], registry: CodecRegistry = REGISTRY, prefer: Sequence[str] = PREFERRED
) -> Binding | None:
    """The answerer's codec: the first offered one named in ``prefer``, else the first we support."""
    fmtps = {c.payload_type: c.fmtp for c in offered if c.fmtp}
    names = {n.upper() for n in prefer}
    first = registry.choose([c for c in offered if c.encoding.upper() in names], fmtps)
    return first or registry.choose(offered, fmtps)


def answer(
    offer: SessionDescription,
    *,
    local_address: str,
    local_port: int,
    registry: CodecRegistry = REGISTRY,
    require_srtp: bool = False,
    crypto_for: Callable[[str], str | None] | None = None,
    previous: SessionDescription | None = None,
    username: str = "sentiric",
    hold: bool = False,
) -> Negotiated:
    """The answer to ``offer`` (RFC 3264 §6).  ``crypto_for(suite)`` returns our ``key-params``
    (e.g. ``inline:...``) for a suite we accept, or None.  ``previous`` is our last description
    in this session: its id is kept and its version bumped (§8)."""
    audio = _first_audio(offer)
    offered = audio.codecs()
    binding = choose_codec(offered, registry)
    if binding is None:
        raise SdpNegotiationError("no common codec")
    chosen = _binding_codec(binding)
    te = next(
        (c for c in offered if c.encoding.lower() == "telephone-event" and c.clock_rate == chosen.clock_rate),
        None,
    )
    local_crypto = remote_crypto = None
    proto = audio.proto
    if audio.is_srtp:
        for cr in audio.cryptos:
            key = crypto_for(cr.suite) if crypto_for else None
            if key is not None:
                remote_crypto, local_crypto = cr, Crypto(cr.tag, cr.suite, key)
                break
        if local_crypto is None:
            raise SdpNegotiationError("no acceptable SRTP crypto suite offered")
    elif require_srtp:
        raise SdpNegotiationError("SRTP required but not offered")
    direction = MIRROR[offer.media_direction(audio)]
    conn = offer.media_connection(audio)
    if conn is None:
        raise SdpNegotiationError("no connection address for the audio stream")
    check_media_address(conn, audio.port)
    if conn.is_hold and direction == "sendrecv":
        direction = "recvonly"
    if hold:
        direction = {"sendrecv": "sendonly", "recvonly": "inactive"}.get(direction, direction)
    ptime = audio.ptime or 20
    codecs = [chosen] + ([te] if te else [])
    lines = _codec_lines(codecs)
    if audio.ptime:
        lines.append(("a", f"ptime:{audio.ptime}"))
    lines.append(("a", direction))
    if local_crypto:
        lines.append(("a", f"crypto:{local_crypto}"))
    media = []
    for m in offer.media:
        if m is audio:
            media.append(
                MediaDescription(
                    "audio", local_port, proto, tuple(str(c.payload_type) for c in codecs), tuple(lines)
                )
            )
        else:  # every offered stream gets an m= line; unsupported ones are refused with port 0
            media.append(MediaDescription(m.media, 0, m.proto, m.fmts))
    sid = previous.origin.session_id if previous else str(secrets.randbelow(2**62))
    version = previous.origin.version + 1 if previous else 1
    sd = _build(local_address, username, sid, version, media)
    return Negotiated(
        sd, chosen, te, conn.address, audio.port, direction, ptime, local_crypto, remote_crypto, binding
    )


def make_offer(
    *,
    local_address: str,
    local_port: int,
    codecs: Sequence[str] = DEFAULT_OFFER,
    telephone_event_pt: int | None = TELEPHONE_EVENT_PT,
    crypto: Sequence[Crypto] = (),
    ptime: int = 20,
    direction: str = "sendrecv",
    previous: SessionDescription | None = None,
    username: str = "sentiric",
) -> SessionDescription:
    """An offer (late-offer INVITE: sent in the 200, answer taken from the ACK).  A re-offer
    passes ``previous`` to keep the session id and bump the o= version (RFC 3264 §8).  ``codecs`` are
    registry names in preference order; telephone-event is offered at each of their clock rates
    (``telephone_event_pt`` at 8000, a free dynamic type for Opus's 48000)."""
    taken = [telephone_event_pt] if telephone_event_pt is not None else []
    bindings = REGISTRY.offer(codecs, taken=taken)
    cs = [_binding_codec(b) for b in bindings]
    if telephone_event_pt is not None:
        used = {c.payload_type for c in cs} | {telephone_event_pt}
        for rate in sorted({c.clock_rate for c in cs}):
            pt = telephone_event_pt
            if rate != 8000:
                pt = next(p for p in range(96, 128) if p not in used)
                used.add(pt)
            cs.append(Codec(pt, "telephone-event", rate, fmtp="0-16"))
    lines = [*_codec_lines(cs), ("a", f"ptime:{ptime}"), ("a", direction)]
    lines += [("a", f"crypto:{c}") for c in crypto]
    proto = "RTP/SAVP" if crypto else "RTP/AVP"
    m = MediaDescription("audio", local_port, proto, tuple(str(c.payload_type) for c in cs), tuple(lines))
    sid = previous.origin.session_id if previous else str(secrets.randbelow(2**62))
    version = previous.origin.version + 1 if previous else 1
    return _build(local_address, username, sid, version, [m])


def accept_answer(offer: SessionDescription, answer_sdp: SessionDescription) -> Negotiated:
    """Apply the peer's answer to our offer (e.g. the SDP in an ACK after a late offer)."""
    ours = _first_audio(offer)
    theirs = _first_audio(answer_sdp)
    offered = {c.payload_type: c for c in ours.codecs()}
    chosen = binding = None
    for c in theirs.codecs():
        if c.payload_type not in offered or c.encoding.lower() == "telephone-event":
            continue
        codec = REGISTRY.get(c.encoding, c.clock_rate, c.channels)
        if codec is not None:
            chosen, binding = c, Binding(codec, c.payload_type, c.fmtp)
            break
    if chosen is None or binding is None:
        raise SdpNegotiationError("answer selected no codec from the offer")
    te = next(
        (
            c
            for c in theirs.codecs()
            if c.encoding.lower() == "telephone-event" and c.clock_rate == chosen.clock_rate
        ),
        None,
    )
    conn = answer_sdp.media_connection(theirs)
    if conn is None:
        raise SdpNegotiationError("no connection address in the answer")
    check_media_address(conn, theirs.port)
    remote_crypto = None
    local_crypto = None
    if ours.is_srtp:
        answered = theirs.cryptos
        if not answered:
            raise SdpNegotiationError("SRTP offered but the answer has no crypto line")
        remote_crypto = answered[0]
        local_crypto = next((c for c in ours.cryptos if c.tag == remote_crypto.tag), None)
        if local_crypto is None:
            raise SdpNegotiationError("answer crypto tag matches nothing offered")
    direction = MIRROR[answer_sdp.media_direction(theirs)]
    return Negotiated(
        offer,
        chosen,
        te,
        conn.address,
        theirs.port,
        direction,
        theirs.ptime or ours.ptime or 20,
        local_crypto,
        remote_crypto,
        binding,
    )
