"""RTP and RTCP packets for the edge fuzz campaign (RFC 3550, RFC 4733, RFC 3711), seeded and pure.

``packet(rng, ssrc, seq, ts)`` returns one datagram and a label: valid PCMU/PCMA audio now and then (so
the session has a stream to lose), and otherwise RTP with odd payload types (the RTCP range 72-76,
dynamic types nobody negotiated, telephone-event with bad event bodies), a CSRC count larger than the
packet, header extensions whose length runs past the end, padding that claims more than the payload,
versions 0/1/3, truncations at every header field, sequence and timestamp jumps, SRTP-looking packets
(a valid header, noise and a 10-byte tag), and RTCP SR/RR/SDES/BYE/APP/feedback/XR packets with report
counts and length words that lie, compounds, and bare garbage.
"""

from __future__ import annotations

import random
import struct

RTP_HEADER = 12
RTCP_TYPES = (200, 201, 202, 203, 204, 205, 206, 207)
ODD_PT = (0, 8, 9, 13, 18, 101, 96, 111, 127, 72, 73, 76, 35, 126)


def rtp(
    pt: int,
    seq: int,
    ts: int,
    ssrc: int,
    payload: bytes,
    *,
    marker: bool = False,
    version: int = 2,
    padding: bool = False,
    extension: bool = False,
    csrc: int = 0,
) -> bytes:
    first = (version << 6) | (padding << 5) | (extension << 4) | (csrc & 0x0F)
    return (
        struct.pack("!BBHII", first, (marker << 7) | (pt & 0x7F), seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
        + payload
    )


def _dtmf(rng: random.Random) -> bytes:
    event = rng.choice((0, 5, 11, 15, 16, 100, 255))
    end = rng.random() < 0.3
    volume = rng.choice((0, 10, 63))
    duration = rng.choice((0, 160, 800, 65535))
    body = struct.pack("!BBH", event, (end << 7) | volume, duration)
    return body[: rng.choice((4, 4, 4, 3, 1, 0))] + (b"\x00" * rng.choice((0, 0, 4, 100)))


def _rtcp(rng: random.Random, ssrc: int) -> bytes:
    pt = rng.choice(RTCP_TYPES)
    count = rng.choice((0, 1, 2, 31))
    body = struct.pack("!I", ssrc) + rng.randbytes(rng.choice((0, 4, 20, 24, 48, 200)))
    words = len(body) // 4
    length = rng.choice((words, words, words + 1, words + 100, 0, 0xFFFF, max(0, words - 1)))
    if pt == 202 and rng.random() < 0.5:  # SDES with a CNAME item whose length runs past the end
        body = struct.pack("!IBB", ssrc, 1, rng.choice((0, 4, 255))) + b"fuzz"
    return struct.pack("!BBH", (2 << 6) | count, pt, length & 0xFFFF) + body


def packet(rng: random.Random, ssrc: int, seq: int, ts: int) -> tuple[bytes, str, bool]:
    """One datagram, what it is, and whether it belongs on the RTCP port."""
    r = rng.random()
    if r < 0.15:
        pt = rng.choice((0, 8))
        return rtp(pt, seq, ts, ssrc, rng.randbytes(160)), "valid audio", False
    if r < 0.27:
        return (
            rtp(rng.choice(ODD_PT), seq, ts, ssrc, rng.randbytes(rng.choice((0, 1, 159, 160, 161, 1400)))),
            ("odd payload type"),
            False,
        )
    if r < 0.35:
        return rtp(101, seq, ts, ssrc, _dtmf(rng), marker=rng.random() < 0.5), "telephone-event", False
    if r < 0.42:  # CSRC count larger than what follows
        csrc = rng.choice((1, 4, 15))
        return (
            rtp(0, seq, ts, ssrc, rng.randbytes(rng.choice((0, 4, 20, 60))), csrc=csrc),
            "csrc count",
            False,
        )
    if r < 0.50:  # header extension: profile, length in words, data that may be shorter
        words = rng.choice((0, 1, 10, 0xFFFF))
        ext = struct.pack("!HH", rng.choice((0xBEDE, 0x1000, 0)), words) + rng.randbytes(
            rng.choice((0, 4, 40))
        )
        return (
            rtp(0, seq, ts, ssrc, ext + rng.randbytes(rng.choice((0, 160))), extension=True),
            "extension",
            False,
        )
    if r < 0.57:  # padding: the last byte counts padding bytes, maybe more than there are
        payload = rng.randbytes(rng.choice((0, 10, 160))) + bytes([rng.choice((0, 1, 4, 161, 255))])
        return rtp(0, seq, ts, ssrc, payload, padding=True), "padding", False
    if r < 0.62:
        data = rtp(0, seq, ts, ssrc, rng.randbytes(160), version=rng.choice((0, 1, 3)))
        return data, "version", False
    if r < 0.69:  # truncated header: 0..11 bytes, or a header cut inside a CSRC list
        full = rtp(0, seq, ts, ssrc, rng.randbytes(160), csrc=rng.choice((0, 2)))
        return full[: rng.randrange(RTP_HEADER + 8)], "truncated", False
    if r < 0.75:  # sequence / timestamp jumps and wrap
        jump = rtp(
            0,
            seq + rng.choice((-1, 0, 32768, 65535, 3000)),
            rng.choice((0, 0xFFFFFFFF, ts - 16000)),
            ssrc,
            rng.randbytes(160),
        )
        return jump, "seq/ts jump", False
    if r < 0.82:  # SRTP-looking: header, noise, a 10-byte auth tag
        return (
            rtp(0, seq, ts, ssrc, rng.randbytes(rng.choice((0, 160))) + rng.randbytes(10)),
            "srtp-like",
            False,
        )
    if r < 0.85:  # another SSRC on the same port
        return rtp(0, seq, ts, rng.getrandbits(32), rng.randbytes(160)), "new ssrc", False
    if r < 0.96:
        data = _rtcp(rng, ssrc)
        if rng.random() < 0.3:  # a compound
            data += _rtcp(rng, ssrc)
        return data, "rtcp", rng.random() < 0.8
    return rng.randbytes(rng.choice((1, 2, 12, 64, 1500))), "garbage", rng.random() < 0.5
