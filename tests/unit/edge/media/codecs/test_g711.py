"""G.711 tables against a scalar port of the ITU-T G.191 ``g711.c`` reference, on every input."""

from __future__ import annotations

import numpy as np
import pytest

from edge.media.codecs.g711 import (
    ALAW_DECODE_TABLE,
    ALAW_ENCODE_TABLE,
    PCMA,
    PCMU,
    ULAW_DECODE_TABLE,
    ULAW_ENCODE_TABLE,
    alaw_decode,
    alaw_encode,
    ulaw_decode,
    ulaw_encode,
)

# --- scalar port of ITU-T G.191 STL g711.c (the loops, kept as in the C source) ---


def ref_alaw_compress(sample: int) -> int:
    ix = (~sample) >> 4 if sample < 0 else sample >> 4
    if ix > 15:
        iexp = 1
        while ix > 16 + 15:
            ix >>= 1
            iexp += 1
        ix -= 16
        ix += iexp << 4
    if sample >= 0:
        ix |= 0x0080
    return (ix ^ 0x0055) & 0xFF


def ref_alaw_expand(code: int) -> int:
    ix = code ^ 0x0055
    ix &= 0x007F
    iexp = ix >> 4
    mant = ix & 0x000F
    if iexp > 0:
        mant = mant + 16
    mant = (mant << 4) + 0x0008
    if iexp > 1:
        mant = mant << (iexp - 1)
    return mant if code > 127 else -mant


def ref_ulaw_compress(sample: int) -> int:
    absno = ((~sample) >> 2) + 33 if sample < 0 else (sample >> 2) + 33
    if absno > 0x1FFF:
        absno = 0x1FFF
    i = absno >> 6
    segno = 1
    while i != 0:
        segno += 1
        i >>= 1
    high_nibble = 0x0008 - segno
    low_nibble = (absno >> segno) & 0x000F
    low_nibble = 0x000F - low_nibble
    code = (high_nibble << 4) | low_nibble
    if sample >= 0:
        code |= 0x0080
    return code & 0xFF


def ref_ulaw_expand(code: int) -> int:
    sign = -1 if code < 0x0080 else 1
    mantissa = ~code
    exponent = (mantissa >> 4) & 0x0007
    segment = exponent + 1
    mantissa = mantissa & 0x000F
    step = 4 << segment
    return sign * ((0x0080 << exponent) + step * mantissa + step // 2 - 4 * 33)


ALL_SAMPLES = range(-32768, 32768)


def test_ulaw_encode_table_matches_reference_on_all_inputs() -> None:
    expected = np.array([ref_ulaw_compress(s) for s in ALL_SAMPLES], dtype=np.uint8)
    pcm = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    assert np.array_equal(np.frombuffer(ulaw_encode(pcm), dtype=np.uint8), expected)
    assert ULAW_ENCODE_TABLE.shape == (65536,)


def test_alaw_encode_table_matches_reference_on_all_inputs() -> None:
    expected = np.array([ref_alaw_compress(s) for s in ALL_SAMPLES], dtype=np.uint8)
    pcm = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    assert np.array_equal(np.frombuffer(alaw_encode(pcm), dtype=np.uint8), expected)
    assert ALAW_ENCODE_TABLE.shape == (65536,)


def test_decode_tables_match_reference_on_all_codes() -> None:
    codes = bytes(range(256))
    assert ulaw_decode(codes).tolist() == [ref_ulaw_expand(c) for c in range(256)]
    assert alaw_decode(codes).tolist() == [ref_alaw_expand(c) for c in range(256)]
    assert ULAW_DECODE_TABLE.dtype == np.int16 and ALAW_DECODE_TABLE.dtype == np.int16


@pytest.mark.parametrize(
    ("code", "value"),
    [(0xFF, 0), (0x7F, 0), (0x80, 32124), (0x00, -32124), (0xFE, 8), (0x7E, -8)],
)
def test_known_ulaw_values(code: int, value: int) -> None:
    assert int(ulaw_decode(bytes([code]))[0]) == value


@pytest.mark.parametrize(
    ("code", "value"),
    [(0xD5, 8), (0x55, -8), (0xAA, 32256), (0x2A, -32256), (0xD4, 24)],
)
def test_known_alaw_values(code: int, value: int) -> None:
    assert int(alaw_decode(bytes([code]))[0]) == value


def test_known_encodings() -> None:
    assert ulaw_encode(np.array([0, -1, 32767, -32768], dtype=np.int16)) == bytes([0xFF, 0x7F, 0x80, 0x00])
    assert alaw_encode(np.array([0, 8, -1, 32767, -32768], dtype=np.int16)) == bytes(
        [0xD5, 0xD5, 0x55, 0xAA, 0x2A]
    )


def test_decode_then_encode_is_identity_on_codes() -> None:
    codes = bytes(range(256))
    # µ-law has two zeros (0x7F and 0xFF); both decode to 0, which encodes as 0xFF.
    assert ulaw_encode(ulaw_decode(codes)) == bytes(0xFF if c == 0x7F else c for c in range(256))
    assert alaw_encode(alaw_decode(codes)) == codes


def test_codec_objects_accept_bytes_and_arrays() -> None:
    pcm = (np.sin(np.arange(160) / 5) * 12000).astype(np.int16)
    assert PCMU.encode(pcm) == PCMU.encode(pcm.astype("<i2").tobytes())
    assert PCMA.decode(PCMA.encode(pcm)).shape == (160,)
    assert PCMU.silence(160) == b"\xff" * 160 and PCMA.silence(2) == b"\xd5\xd5"
    assert PCMU.payload_type == 0 and PCMA.payload_type == 8
    # the quantisation error of G.711 stays within half a step of the largest segment
    assert int(np.max(np.abs(PCMU.decode(PCMU.encode(pcm)).astype(int) - pcm))) <= 512
    with pytest.raises(TypeError, match="PCM must be int16, got float64"):
        PCMU.encode(np.zeros(4))
