"""WebSocket frames for the ``/ws`` fuzz phase (``edge/ws/PROTOCOL.md``, RFC 6455), seeded and pure.

``frame(rng)`` gives one message for a connected client: JSON text frames (valid ``ping``/``text``,
unknown types, wrong field types, missing or extra fields, huge and empty texts, NUL and lone
surrogates, deep nesting, non-object JSON, truncated JSON, invalid UTF-8 sent as a text frame) and
binary audio frames (odd lengths, empty, 20 ms, noise, oversized up to 4x the frame limit).

``raw_frame(rng)`` gives one hand-built frame for a raw connection (after a hand-written upgrade), to
reach the framing layer: reserved bits, unknown opcodes, unmasked frames, control frames over 125
bytes or fragmented, continuations out of place, lengths that lie, close codes that are not allowed.
"""

from __future__ import annotations

import json
import os
import random
import struct

DEEP = (100, 990, 1100, 2100, 50_000)
AUDIO_FRAME = 640  # 20 ms at 16 kHz s16le


def _text(rng: random.Random) -> str:
    return rng.choice(
        (
            "what are your opening hours",
            "",
            "   ",
            "a\u0000b",
            "\ud800",  # a lone surrogate: json.dumps escapes it as \ud800
            "\u202eevil",
            "\x1b[31mred\x07",
            "x" * 2000,
            "x" * 2001,
            "ü" * 1500,
            "%s%n%x",
            "${jndi:ldap://127.0.0.1/a}",
            "<script>alert(1)</script>",
        )
    )


def frame(rng: random.Random) -> tuple[bytes | str, bool, str]:
    """One client message: (data, is_text, label). Bytes with is_text=True are sent as a text frame."""
    r = rng.random()
    if r < 0.06:
        return '{"type":"ping"}', True, "ping"
    if r < 0.16:
        return json.dumps({"type": "text", "text": _text(rng)}), True, "text"
    if r < 0.26:
        kind = rng.choice(("", "PING", "pong", "session", "audio", "x" * 500, "hangup ", "error"))
        return json.dumps({"type": kind}), True, "unknown type"
    if r < 0.36:
        value = rng.choice((None, 1, 1.5, True, [], {}, ["a"], {"text": "a"}, 10**400, -1))
        field = rng.choice(("type", "text"))
        body = {"type": "text", "text": "hi"}
        body[field] = value  # type: ignore[assignment]
        return json.dumps(body), True, "wrong field type"
    if r < 0.42:
        extra = {"type": rng.choice(("ping", "text")), "text": "hi", "x" * rng.choice((1, 100)): "y" * 100}
        return json.dumps(extra), True, "extra field"
    if r < 0.50:
        depth = rng.choice(DEEP)
        nest = rng.choice((("[" * depth) + ("]" * depth), '{"a":' * depth + "1" + "}" * depth))
        if rng.random() < 0.5:
            nest = '{"type":"text","text":"hi","x":' + nest + "}"
        return nest, True, "deep nesting"
    if r < 0.56:
        return rng.choice(("1", "null", '"ping"', "[]", "true", "1e999", "-", "")), True, "not an object"
    if r < 0.62:
        full = json.dumps({"type": "text", "text": _text(rng)})
        return full[: rng.randrange(len(full))], True, "truncated json"
    if r < 0.68:
        bad = rng.choice((b'{"type":"text","text":"\xff\xfe"}', b"\xc0\xaf", b'{"type":"ping"}\xed\xa0\x80'))
        return bad, True, "invalid utf-8 text"
    if r < 0.72:
        return '{"type":"ping","type":"text","text":"dup"}', True, "duplicate key"
    if r < 0.75:
        return "\ufeff" + '{"type":"ping"}' + rng.choice(("", " x", "}")), True, "bom/trailing"
    if r < 0.80:
        return bytes(AUDIO_FRAME), False, "audio 20ms silence"
    if r < 0.86:
        return rng.randbytes(rng.choice((2, 640, 3200))), False, "audio noise"
    if r < 0.92:
        return rng.randbytes(rng.choice((1, 3, 641, 3199))), False, "audio odd length"
    if r < 0.95:
        return b"", False, "audio empty"
    return os.urandom(0) + bytes(rng.choice((65536, 65538, 65537, 200_000))), False, "audio oversized"


def raw_frame(rng: random.Random) -> tuple[bytes, str]:
    """One hand-built client frame (masked unless the point is that it is not)."""
    r = rng.random()
    fin, rsv, opcode, masked = 1, 0, 1, True
    payload = b'{"type":"ping"}'
    label = "valid ping"
    if r < 0.15:
        rsv, label = rng.choice((1, 2, 4, 7)), "reserved bits"
    elif r < 0.30:
        opcode, label = rng.choice((3, 4, 5, 6, 7, 0xB, 0xC, 0xF)), "unknown opcode"
    elif r < 0.40:
        masked, label = False, "unmasked"
    elif r < 0.50:
        opcode, payload, label = 9, b"p" * rng.choice((126, 1000)), "ping over 125 bytes"
    elif r < 0.58:
        opcode, fin, label = 9, 0, "fragmented ping"
    elif r < 0.66:
        opcode, label = 0, "continuation out of place"
    elif r < 0.74:
        fin, label = 0, "text start, never finished"
    elif r < 0.84:
        code = rng.choice((0, 999, 1004, 1005, 1006, 1015, 2000, 5000, 65535))
        opcode, payload, label = (
            8,
            struct.pack("!H", code) + rng.choice((b"", b"\xff\xfe", b"r" * 130)),
            "close code",
        )
    elif r < 0.92:
        return _header(
            1, 0, 2, True, rng.choice((2**63 - 1, 2**32, 70000))
        ) + b"\x00" * 4 + b"x" * 100, "length lie"
    else:
        opcode, payload, label = 2, rng.randbytes(rng.choice((0, 1, 125, 126, 65535, 65536))), "binary sizes"
    return _header(fin, rsv, opcode, masked, len(payload)) + _mask(payload, masked, rng), label


def _header(fin: int, rsv: int, opcode: int, masked: bool, length: int) -> bytes:
    first = (fin << 7) | (rsv << 4) | opcode
    if length < 126:
        return struct.pack("!BB", first, (masked << 7) | length)
    if length < 65536:
        return struct.pack("!BBH", first, (masked << 7) | 126, length)
    return struct.pack("!BBQ", first, (masked << 7) | 127, length)


def _mask(payload: bytes, masked: bool, rng: random.Random) -> bytes:
    if not masked:
        return payload
    key = rng.randbytes(4)
    return key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def upgrade_request(port: int, token: str) -> bytes:
    return (
        f"GET /ws?caller=fuzz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
