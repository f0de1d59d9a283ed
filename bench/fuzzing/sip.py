"""SIP mutations for the edge fuzz campaign: a seeded generator over the RFC 4475 and captured corpora.

``SipMutator(corpus, seed).message(i)`` is a pure function of ``(seed, i)``: message ``i`` of a
campaign can be rebuilt exactly (``--replay-index``), and two runs with one seed send the same bytes.

Each message is one corpus entry (its addresses moved to loopback, its Call-ID, Via branch and From tag
made unique so it reaches call set-up instead of the transaction layer's retransmission path — except
one in eight, which reuse a small pool of ids to hit live transactions and dialogs) with one to four
mutations:

- structure-aware (about two thirds): header duplication (up to 60 copies), deletion, reordering,
  value replacement or insertion of boundary strings (huge numbers, NUL, ``%00``, ``%FF``, invalid
  UTF-8, overlong and surrogate encodings, 64 KiB values, format strings, bare separators), line folding,
  CRLF injection, Content-Length lies (bigger, smaller, negative, not a number, twice), start-line
  mutations (methods, URIs, versions, status codes), compact and odd-case header names, LF/CR line ends,
  SDP-aware body mutations (``c=`` addresses, ``m=`` ports, ``rtpmap``/``fmtp``/``ptime``/``crypto``),
  and truncation at every offset class (start line, header name, after the colon, inside a value,
  between CR and LF, at the blank line, inside the body);
- byte-level (the rest): bit flips, interesting bytes, random insertions, erasures, duplicated and
  swapped ranges, digit runs replaced by boundary integers, splices with another corpus message.

Pure: no sockets, no time. The wire is in ``bench.fuzzing.peers``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

UDP_MAX_PAYLOAD = 65507  # IPv4: 65535 - 20 (IP) - 8 (UDP)
CORPORA = ("rfc4475", "captured")

# Values a parser must survive, as bytes on the wire (not all are text).
BOUNDARY: tuple[bytes, ...] = (
    b"",
    b"0",
    b"-1",
    b"-0",
    b"+1",
    b"2147483647",
    b"2147483648",
    b"4294967295",
    b"4294967296",
    b"18446744073709551616",
    b"9" * 80,
    b"1e309",
    b"0x7fffffff",
    b"NaN",
    b"\x00",
    b"a\x00b",
    b"%00",
    b"%FF",
    b"%",
    b"%%",
    b"%G1",
    b"%s%n%x%p",
    b"\xff\xfe",
    b"\xc0\xaf",  # overlong '/'
    b"\xed\xa0\x80",  # a UTF-16 surrogate, UTF-8 encoded
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"\x80",
    b"\xe2\x80\xae",  # RIGHT-TO-LEFT OVERRIDE
    b"\xef\xbb\xbf",  # BOM
    b"\x1b[31m\x07\x08",
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n\r\n",
    b" \t ",
    b";",
    b";;;",
    b";=",
    b";a=b=c",
    b"=",
    b",",
    b",,,,",
    b"<",
    b">",
    b"<>",
    b"<<<<",
    b'"',
    b'"\\',
    b"\\",
    b"*",
    b"sip:",
    b"sip:@",
    b"sips:%00@127.0.0.1",
    b"sip:%00@127.0.0.1",
    b"sip:[::1",
    b"sip:127.0.0.1:99999",
    b"sip:127.0.0.1:0",
    b"tel:+",
    b"<sip:a@127.0.0.1>;tag=",
    b"<sip:a@127.0.0.1;lr>,<sip:b@127.0.0.1>",
    b"SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK;rport=;received=",
    b"0.0.0.0",
    b"127.0.0.2",
    b"[::1]",
    b"[::ffff:127.0.0.1]",
    b"A" * 256,
    b"A" * 1024,
    b"A" * 4096,
    b"A" * 65000,  # 64 KiB, capped to fit one UDP datagram with the rest of the message
    b"\x00" * 1024,
    b"%FF" * 300,
)

SDP_LINES: tuple[bytes, ...] = (
    b"c=IN IP4 not-an-ip",
    b"c=IN IP4 0.0.0.0",
    b"c=IN IP4 127.0.0.2",
    b"c=IN IP4 255.255.255.255",
    b"c=IN IP4 224.0.0.1/127",
    b"c=IN IP6 ::1",
    b"c=IN IP4 ::1",
    b"c=IN IP4",
    b"c=IN XX 127.0.0.1",
    b"c=IN IP4 127.0.0.1/0/999999",
    b"m=audio 0 RTP/AVP 0",
    b"m=audio 65536 RTP/AVP 0",
    b"m=audio -1 RTP/AVP 0",
    b"m=audio 99999999999999999999 RTP/AVP 0",
    b"m=audio 49170/2 RTP/AVP 0 8",
    b"m=audio 49170 RTP/AVP",
    b"m=audio 49170 RTP/AVP 999 -1 x",
    b"m=audio 49170 RTP/SAVP 0",
    b"m=audio 49170 UDP/TLS/RTP/SAVPF 111",
    b"m=video 49172 RTP/AVP 96",
    b"m=audio 49170 RTP/AVP " + b" ".join(b"%d" % i for i in range(128)),
    b"a=rtpmap:0 PCMU/0",
    b"a=rtpmap:0 PCMU/-8000",
    b"a=rtpmap:96 opus/48000/0",
    b"a=rtpmap:999 x/1",
    b"a=rtpmap:101 telephone-event/8000",
    b"a=rtpmap:9 G722/8000/99",
    b"a=fmtp:101 0-99999",
    b"a=fmtp:111 maxplaybackrate=0;stereo=9",
    b"a=ptime:0",
    b"a=ptime:-5",
    b"a=ptime:100000",
    b"a=ptime:x",
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:!!!!",
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + b"A" * 40,
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|1:32",
    b"a=crypto:999999999999 AES_256_CM_HMAC_SHA1_80 inline:",
    b"a=sendonly",
    b"a=inactive",
    b"a=rtcp:0",
    b"a=rtcp:70000 IN IP4 127.0.0.1",
    b"v=1",
    b"o=- 0 0 IN IP4",
    b"s=",
    b"t=99999999999999999999 0",
    b"b=AS:-1",
    b"x",
    b"",
)

INTERESTING_BYTES = b"\x00\xff\x7f\x80\x20\x0d\x0a\x3a\x3b\x2c\x22\x3c\x3e\x25\x5c\x09\x40\x3d"
COMPACT = {
    b"via": b"v",
    b"from": b"f",
    b"to": b"t",
    b"call-id": b"i",
    b"contact": b"m",
    b"content-length": b"l",
    b"content-type": b"c",
    b"subject": b"s",
    b"supported": b"k",
}
METHODS = (
    b"INVITE",
    b"ACK",
    b"BYE",
    b"CANCEL",
    b"OPTIONS",
    b"REGISTER",
    b"INFO",
    b"NOTIFY",
    b"REFER",
    b"SUBSCRIBE",
    b"MESSAGE",
    b"UPDATE",
    b"PRACK",
    b"PUBLISH",
    b"invite",
    b"NEWMETHOD",
    b"INV\x00ITE",
    b"I" * 300,
    b"",
)
VERSIONS = (b"SIP/2.0", b"SIP/2.1", b"SIP/1.0", b"sip/2.0", b"SIP/2.0x", b"SIP/", b"HTTP/1.1", b"SIP/02.00")
STATUS = (
    b"0",
    b"99",
    b"100",
    b"180",
    b"200",
    b"299",
    b"401",
    b"699",
    b"700",
    b"999",
    b"1000",
    b"-200",
    b"2OO",
)
_IPV4 = re.compile(rb"(?<![0-9.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![0-9])")
_DIGITS = re.compile(rb"\d+")
_BRANCH = re.compile(rb"branch=z9hG4bK[^;,\s]*", re.I)
_TAG = re.compile(rb"tag=[^;,\s>]*", re.I)


def loopback(data: bytes) -> bytes:
    """Every IPv4 literal outside 127/8 (and not 0.0.0.0) becomes 127.0.0.1: signalling and media the
    edge answers go to this machine only, whatever the corpus or a mutation names."""

    def sub(match: re.Match[bytes]) -> bytes:
        text = match.group(0)
        return text if text.startswith(b"127.") or text == b"0.0.0.0" else b"127.0.0.1"

    return _IPV4.sub(sub, data)


def kind(data: bytes) -> str:
    """``request`` (a request line shape), ``response`` (a status line) or ``junk``: which socket sends it,
    so the edge's answers can be told apart (it must never answer a response)."""
    head = data.lstrip(b"\r\n")
    if head.startswith(b"SIP/"):
        return "response"
    line = head.split(b"\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) >= 3 and parts[0] and parts[-1].rstrip(b"\r").upper().startswith(b"SIP/"):
        return "request"
    return "junk"


@dataclass(frozen=True, slots=True)
class Seed:
    """One corpus message, split for structure-aware mutation."""

    name: str
    start: bytes
    headers: tuple[bytes, ...]  # raw header lines, folded continuations kept inside
    body: bytes

    @classmethod
    def parse(cls, name: str, data: bytes) -> Seed:
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = data.partition(b"\n\n")
        lines = re.split(rb"\r?\n", head)
        headers: list[bytes] = []
        for line in lines[1:]:
            if line[:1] in (b" ", b"\t") and headers:
                headers[-1] += b"\r\n" + line  # keep the fold: it is part of what is being tested
            else:
                headers.append(line)
        return cls(name, lines[0], tuple(headers), body)


def load_corpus(root: Path) -> list[Seed]:
    """The RFC 4475 torture messages and the captured messages under ``root`` (tests/fixtures/sip)."""
    seeds: list[Seed] = []
    for corpus in CORPORA:
        for path in sorted((root / corpus).iterdir()):
            if path.suffix in (".dat", ".sip"):
                data = _fix_length(loopback(path.read_bytes()), path.read_bytes())
                seeds.append(Seed.parse(f"{corpus}/{path.name}", data))
    if not seeds:
        raise FileNotFoundError(f"no SIP corpus under {root}")
    return seeds


def _fix_length(rewritten: bytes, original: bytes) -> bytes:
    """After moving addresses, a Content-Length that was right stays right (a wrong one stays wrong)."""
    if rewritten == original:
        return rewritten
    old = Seed.parse("", original)
    new = Seed.parse("", rewritten)
    lines = list(new.headers)
    for n, line in enumerate(lines):
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l") and value.strip() == b"%d" % len(old.body):
            lines[n] = name + b": %d" % len(new.body)
    return _join(new.start, lines, new.body)


def _join(start: bytes, headers: list[bytes], body: bytes, eol: bytes = b"\r\n") -> bytes:
    return eol.join([start, *headers, b"", body]) if headers else start + eol + eol + body


@dataclass(slots=True)
class Draft:
    """A message being mutated: its parts, or (after ``flatten``) plain bytes."""

    start: bytes
    headers: list[bytes]
    body: bytes
    eol: bytes = b"\r\n"
    keep_length: bool = False  # a Content-Length lie: do not fix it up
    raw: bytearray | None = None
    ops: list[str] = field(default_factory=list)

    def flatten(self) -> bytearray:
        if self.raw is None:
            if not self.keep_length:
                self._fix_length()
            self.raw = bytearray(_join(self.start, self.headers, self.body, self.eol))
        return self.raw

    def _fix_length(self) -> None:
        for n, line in enumerate(self.headers):
            name, sep, _ = line.partition(b":")
            if sep and name.strip().lower() in (b"content-length", b"l"):
                self.headers[n] = name + b": %d" % len(self.body)
                return


Op = Callable[[random.Random, Draft, list[Seed]], None]


def _pick_header(rng: random.Random, d: Draft) -> int | None:
    return rng.randrange(len(d.headers)) if d.headers else None


def _boundary(rng: random.Random) -> bytes:
    return rng.choice(BOUNDARY)


def op_dup_header(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    n = _pick_header(rng, d)
    if n is not None:
        d.headers[n + 1 : n + 1] = [d.headers[n]] * rng.choice((1, 2, 5, 60))


def op_del_header(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    n = _pick_header(rng, d)
    if n is not None:
        del d.headers[n]


def op_reorder(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    if rng.random() < 0.5:
        rng.shuffle(d.headers)
    elif len(d.headers) > 1:
        a, b = rng.sample(range(len(d.headers)), 2)
        d.headers[a], d.headers[b] = d.headers[b], d.headers[a]


def op_value(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    """Replace a header's value, or put a boundary string somewhere inside it."""
    n = _pick_header(rng, d)
    if n is None:
        return
    name, sep, value = d.headers[n].partition(b":")
    if rng.random() < 0.5:
        value = b" " + _boundary(rng)
    else:
        at = rng.randrange(len(value) + 1)
        value = value[:at] + _boundary(rng) + value[at:]
    d.headers[n] = name + (sep or b":") + value


def op_param(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    """A header parameter (tag, branch, rport, expires, lr, transport, maddr...) with an odd value."""
    n = _pick_header(rng, d)
    if n is None:
        return
    param = rng.choice((b"tag", b"branch", b"rport", b"received", b"expires", b"lr", b"maddr", b"q", b"ttl"))
    d.headers[n] += b";" + param + rng.choice((b"", b"=", b"=" + _boundary(rng)))


def op_fold(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    n = _pick_header(rng, d)
    if n is not None:
        line = d.headers[n]
        at = rng.randrange(len(line) + 1)
        d.headers[n] = (
            line[:at] + rng.choice((b"\r\n ", b"\r\n\t", b"\r\n", b"\n ", b"\r\n \r\n ")) + line[at:]
        )


def op_inject(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    """CRLF injection: a header value carrying a line break and a header (or a body) of its own."""
    n = _pick_header(rng, d)
    if n is not None:
        extra = rng.choice(
            (
                b"\r\nX-Injected: 1",
                b"\r\nVia: SIP/2.0/UDP 127.0.0.2:1",
                b"\r\n\r\nv=0",
                b"\r\nContent-Length: 9999",
            )
        )
        d.headers[n] += extra


def op_length(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    """Content-Length lies: larger or smaller than the body, negative, not a number, twice."""
    size = len(d.body)
    lie = rng.choice(
        (
            b"%d" % (size + rng.choice((1, 10, 1000, 70000))),
            b"%d" % max(0, size - rng.choice((1, 10, 100))),
            b"-1",
            b"4294967296",
            b"99999999999999999999",
            b"",
            b"abc",
            b"1 2",
            b"0x10",
        )
    )
    d.headers = [
        h for h in d.headers if h.partition(b":")[0].strip().lower() not in (b"content-length", b"l")
    ]
    d.headers.append(b"Content-Length: " + lie)
    if rng.random() < 0.2:
        d.headers.append(b"Content-Length: %d" % size)
    d.keep_length = True


def op_start(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    parts = d.start.split(b" ")
    r = rng.random()
    if d.start.startswith(b"SIP/"):
        if r < 0.5 and len(parts) > 1:
            parts[1] = rng.choice(STATUS)
        elif r < 0.7:
            parts[0] = rng.choice(VERSIONS)
        else:
            parts.append(_boundary(rng))
    elif r < 0.35:
        parts[0] = rng.choice(METHODS)
    elif r < 0.7 and len(parts) > 1:
        parts[1] = rng.choice((_boundary(rng), b"sip:" + _boundary(rng), parts[1] + _boundary(rng)))
    elif r < 0.85:
        parts[-1] = rng.choice(VERSIONS)
    else:
        sep = rng.choice((b"  ", b"\t", b""))
        return setattr(d, "start", sep.join(parts))
    d.start = b" ".join(parts)


def op_name(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    """Header names: compact forms, odd case, space before the colon, an empty or unknown name."""
    n = _pick_header(rng, d)
    if n is None:
        return
    name, sep, value = d.headers[n].partition(b":")
    key = name.strip().lower()
    choice = rng.random()
    if choice < 0.3 and key in COMPACT:
        name = COMPACT[key]
    elif choice < 0.5:
        name = name.swapcase()
    elif choice < 0.7:
        name = name + rng.choice((b" ", b"\t", b"  \t"))
    elif choice < 0.85:
        name = rng.choice((b"", b"X-" + b"A" * 200, b"Via\x00", b"To;", b"From From"))
    else:
        sep = b""
    d.headers[n] = name + sep + value


def op_eol(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    d.eol = rng.choice((b"\n", b"\r", b"\n\r", b"\r\r\n"))


def op_sdp(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    lines = re.split(rb"\r?\n", d.body) if d.body else [b"v=0"]
    r = rng.random()
    at = rng.randrange(len(lines) + 1)
    if r < 0.45:
        lines.insert(at, rng.choice(SDP_LINES))
    elif r < 0.65 and lines:
        lines[min(at, len(lines) - 1)] = rng.choice(SDP_LINES)
    elif r < 0.8 and lines:
        n = min(at, len(lines) - 1)
        words = lines[n].split(b" ")
        words[rng.randrange(len(words))] = _boundary(rng)
        lines[n] = b" ".join(words)
    elif r < 0.9 and lines:
        n = min(at, len(lines) - 1)
        lines[n + 1 : n + 1] = [lines[n]] * rng.choice((1, 30))
    else:
        del lines[min(at, len(lines) - 1)]
    d.body = b"\r\n".join(lines)
    if not any(h.lower().startswith((b"content-type", b"c:")) for h in d.headers):
        d.headers.append(b"Content-Type: application/sdp")


def op_truncate(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    """Cut the message at an offset of a chosen class (start line, header name, after a colon, in a value,
    between CR and LF, at the blank line, in the body)."""
    raw = d.flatten()
    head_end = raw.find(b"\r\n\r\n")
    lines = [m.start() for m in re.finditer(rb"\r\n", raw[: head_end if head_end >= 0 else len(raw)])]
    first = lines[0] if lines else len(raw)
    cls = rng.randrange(7)
    if cls == 0 or not lines:
        at = rng.randrange(max(1, first))
    elif cls in (1, 2, 3):
        start = rng.choice(lines) + 2
        end = raw.find(b"\r\n", start)
        end = len(raw) if end < 0 else end
        colon = raw.find(b":", start, end)
        colon = end if colon < 0 else colon
        at = {
            1: start + rng.randrange(max(1, colon - start)),
            2: min(colon + 1, end),
            3: colon + rng.randrange(max(1, end - colon)),
        }[cls]
    elif cls == 4:
        at = rng.choice(lines) + 1  # between CR and LF
    elif cls == 5 and head_end >= 0:
        at = head_end + rng.choice((0, 2, 3))
    elif head_end >= 0 and len(raw) > head_end + 4:
        at = head_end + 4 + rng.randrange(len(raw) - head_end - 4)
    else:
        at = rng.randrange(len(raw) + 1)
    del raw[at:]


# --- byte level, on the flattened message ---


def op_bitflip(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    raw = d.flatten()
    for _ in range(rng.choice((1, 1, 2, 4, 8))):
        if raw:
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)


def op_byte(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    raw = d.flatten()
    if raw:
        raw[rng.randrange(len(raw))] = rng.choice(INTERESTING_BYTES)


def op_insert(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    raw = d.flatten()
    at = rng.randrange(len(raw) + 1)
    if rng.random() < 0.5:
        chunk = rng.randbytes(rng.choice((1, 4, 16, 64)))
    else:
        chunk = bytes([rng.choice(INTERESTING_BYTES)]) * rng.choice((2, 16, 256, 4096))
    raw[at:at] = chunk


def op_erase(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    raw = d.flatten()
    if raw:
        at = rng.randrange(len(raw))
        del raw[at : at + rng.choice((1, 2, 8, 64, 512))]


def op_dup_range(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    raw = d.flatten()
    if raw:
        at = rng.randrange(len(raw))
        chunk = raw[at : at + rng.choice((1, 8, 64, 256))]
        to = rng.randrange(len(raw) + 1)
        raw[to:to] = chunk * rng.choice((1, 1, 3, 20))


def op_swap(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    raw = d.flatten()
    size = rng.choice((1, 4, 16))
    if len(raw) >= 2 * size + 2:
        a, b = sorted(rng.sample(range(len(raw) - size), 2))
        if b - a >= size:
            raw[a : a + size], raw[b : b + size] = raw[b : b + size], raw[a : a + size]


def op_number(rng: random.Random, d: Draft, _: list[Seed]) -> None:
    raw = d.flatten()
    runs = list(_DIGITS.finditer(raw))
    if runs:
        m = rng.choice(runs)
        raw[m.start() : m.end()] = rng.choice(BOUNDARY[:14])


def op_splice(rng: random.Random, d: Draft, corpus: list[Seed]) -> None:
    raw = d.flatten()
    other = rng.choice(corpus)
    donor = _join(other.start, list(other.headers), other.body)
    cut = rng.randrange(len(raw) + 1)
    raw[cut:] = donor[rng.randrange(len(donor) + 1) :]


STRUCTURAL: tuple[tuple[Op, int], ...] = (
    (op_dup_header, 8),
    (op_del_header, 8),
    (op_reorder, 5),
    (op_value, 22),
    (op_param, 6),
    (op_fold, 5),
    (op_inject, 4),
    (op_length, 8),
    (op_start, 8),
    (op_name, 6),
    (op_eol, 2),
    (op_sdp, 12),
)
BYTE_LEVEL: tuple[tuple[Op, int], ...] = (
    (op_truncate, 8),
    (op_bitflip, 10),
    (op_byte, 8),
    (op_insert, 6),
    (op_erase, 6),
    (op_dup_range, 4),
    (op_swap, 3),
    (op_number, 6),
    (op_splice, 3),
)


@dataclass(frozen=True, slots=True)
class Mutant:
    index: int
    data: bytes
    base: str
    ops: tuple[str, ...]

    @property
    def kind(self) -> str:
        return kind(self.data)


class SipMutator:
    """Message ``i`` of a campaign with seed ``seed``; pure and deterministic."""

    def __init__(self, corpus: list[Seed], seed: int, *, max_size: int = UDP_MAX_PAYLOAD) -> None:
        self.corpus = corpus
        self.seed = seed
        self.max_size = max_size
        ops, weights = zip(*STRUCTURAL, strict=True)
        self._structural = list(ops), list(_cumulative(weights))
        ops, weights = zip(*BYTE_LEVEL, strict=True)
        self._bytes = list(ops), list(_cumulative(weights))

    def rng(self, index: int) -> random.Random:
        return random.Random(self.seed * 0x9E3779B1 + index)

    def message(self, index: int) -> Mutant:
        rng = self.rng(index)
        base = rng.choice(self.corpus)
        ident = b"%x.%x" % (self.seed, index if rng.random() < 0.875 else index % 32)
        d = Draft(base.start, [_identify(h, ident) for h in base.headers], base.body)
        structural = rng.random() < 0.7
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            ops, cum = self._structural if structural and d.raw is None else self._bytes
            op = rng.choices(ops, cum_weights=cum)[0]
            op(rng, d, self.corpus)
            d.ops.append(op.__name__[3:])
            structural = rng.random() < 0.6
        data = bytes(d.flatten()[: self.max_size])
        return Mutant(index, data, base.name, tuple(d.ops))


def _identify(line: bytes, ident: bytes) -> bytes:
    """Fresh Call-ID, Via branch and From tag: a mutated INVITE is a new call, not a retransmission."""
    name = line.partition(b":")[0].strip().lower()
    if name in (b"call-id", b"i"):
        return line.partition(b":")[0] + b": fz" + ident + b"@127.0.0.1"
    if name in (b"via", b"v"):
        return _BRANCH.sub(b"branch=z9hG4bK-fz" + ident, line, count=1)
    if name in (b"from", b"f"):
        return _TAG.sub(b"tag=fz" + ident, line, count=1)
    return line


def _cumulative(weights: tuple[int, ...]) -> list[int]:
    total, out = 0, []
    for w in weights:
        total += w
        out.append(total)
    return out
