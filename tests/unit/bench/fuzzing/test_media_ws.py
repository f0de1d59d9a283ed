"""The campaign's RTP/RTCP packets and WebSocket frames: seeded, every kind produced, well-formed where
they claim to be."""

from __future__ import annotations

import random
import struct
from collections import Counter

from bench.fuzzing import media, ws


def test_rtp_packets_cover_every_kind_and_are_reproducible() -> None:
    labels: Counter[str] = Counter()
    for i in range(3000):
        a = media.packet(random.Random(i), 0x5EED, i, i * 160)
        assert a == media.packet(random.Random(i), 0x5EED, i, i * 160)
        labels[a[1]] += 1
    assert set(labels) == {
        "valid audio", "odd payload type", "telephone-event", "csrc count", "extension", "padding", "version",
        "truncated", "seq/ts jump", "srtp-like", "new ssrc", "rtcp", "garbage",
    }  # fmt: skip


def test_valid_audio_is_a_valid_rtp_header() -> None:
    data = media.rtp(0, 65535 + 2, 2**32 + 5, 0xABCD, b"\xff" * 160, marker=True)
    first, second, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    assert (first >> 6, second & 0x7F, second >> 7, seq, ts, ssrc) == (2, 0, 1, 1, 5, 0xABCD)


def test_ws_frames_cover_text_and_binary_kinds() -> None:
    labels: Counter[str] = Counter()
    texts = binaries = 0
    for i in range(3000):
        data, text, label = ws.frame(random.Random(i))
        labels[label] += 1
        texts += text
        binaries += not text
        assert isinstance(data, str | bytes)
    assert {"deep nesting", "invalid utf-8 text", "audio odd length", "audio oversized", "ping"} <= set(
        labels
    )
    assert texts > binaries > 0


def test_raw_frames_are_masked_unless_that_is_the_point() -> None:
    for i in range(500):
        data, label = ws.raw_frame(random.Random(i))
        masked = bool(data[1] & 0x80)
        assert masked == (label != "unmasked"), label
