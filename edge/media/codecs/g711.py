"""G.711 PCMU (µ-law) and PCMA (A-law) over int16 PCM, by lookup table (ITU-T G.711, RFC 3551 §4.5.14).

Bit-exact with the ITU-T G.191 Software Tools Library ``g711.c`` (``ulaw_compress``/``ulaw_expand``,
``alaw_compress``/``alaw_expand``), which take 16-bit linear samples and use their top 14 (µ-law) or
13 (A-law) bits:

- µ-law: magnitude ``(x >> 2) + 33`` (bias 33, clipped to 0x1FFF), segment from its bit length,
  4-bit mantissa, all bits inverted; sign bit set for ``x >= 0``. 0xFF and 0x7F decode to 0.
- A-law: magnitude ``x >> 4`` (one's complement for negatives), segment from its bit length,
  4-bit mantissa, sign bit set for ``x >= 0``, even bits inverted (XOR 0x55). 0xD5 decodes to +8.

Encoding indexes a 65536-entry table with the sample's bit pattern (``int16 → uint16`` view); decoding
indexes a 256-entry table with the byte. The tables are built once at import with vectorised formulas;
the unit test checks them against a scalar port of G.191 on every input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PCMU_PAYLOAD_TYPE = 0
PCMA_PAYLOAD_TYPE = 8
CLOCK_RATE = 8000
SAMPLES_PER_FRAME = 160  # 20 ms at 8 kHz
PCMU_SILENCE = 0xFF  # decodes to 0
PCMA_SILENCE = 0xD5  # decodes to +8, the smallest positive A-law level

Int16Array = npt.NDArray[np.int16]
_BIT_LENGTH_STEPS = np.array([1 << k for k in range(16)], dtype=np.int32)


def _bit_length(values: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Number of significant bits of each non-negative value (0 for 0)."""
    return np.searchsorted(_BIT_LENGTH_STEPS, values, side="right").astype(np.int32)


def _all_samples() -> npt.NDArray[np.int32]:
    """Every int16 value, ordered by its uint16 bit pattern (index i holds the sample whose bits are i)."""
    return np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    x = _all_samples()
    magnitude = np.where(x < 0, (~x) >> 2, x >> 2) + 33
    magnitude = np.minimum(magnitude, 0x1FFF)
    segment = 1 + _bit_length(magnitude >> 6)  # 1..8
    high = 8 - segment
    low = 0x0F - ((magnitude >> segment) & 0x0F)
    code = (high << 4) | low | np.where(x >= 0, 0x80, 0)
    table: npt.NDArray[np.uint8] = code.astype(np.uint8)
    return table


def _build_ulaw_decode() -> Int16Array:
    code = np.arange(256, dtype=np.int32)
    inverted = ~code
    exponent = (inverted >> 4) & 0x07
    mantissa = inverted & 0x0F
    step = 4 << (exponent + 1)
    magnitude = (0x80 << exponent) + step * mantissa + step // 2 - 4 * 33
    return np.where(code < 0x80, -magnitude, magnitude).astype(np.int16)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    x = _all_samples()
    magnitude = np.where(x < 0, (~x) >> 4, x >> 4)  # 0..2047
    exponent = np.maximum(_bit_length(magnitude) - 4, 0)  # 0 for magnitude <= 15, else 1..7
    shifted = magnitude >> np.maximum(exponent - 1, 0)
    code = np.where(exponent > 0, (shifted - 16) + (exponent << 4), magnitude)
    code = code | np.where(x >= 0, 0x80, 0)
    return (code ^ 0x55).astype(np.uint8)


def _build_alaw_decode() -> Int16Array:
    code = np.arange(256, dtype=np.int32)
    bits = (code ^ 0x55) & 0x7F
    exponent = bits >> 4
    mantissa = bits & 0x0F
    mantissa = np.where(exponent > 0, mantissa + 16, mantissa)
    mantissa = (mantissa << 4) + 0x08
    magnitude = np.where(exponent > 1, mantissa << np.maximum(exponent - 1, 0), mantissa)
    return np.where(code > 127, magnitude, -magnitude).astype(np.int16)


ULAW_ENCODE_TABLE: npt.NDArray[np.uint8] = _build_ulaw_encode()
ULAW_DECODE_TABLE: Int16Array = _build_ulaw_decode()
ALAW_ENCODE_TABLE: npt.NDArray[np.uint8] = _build_alaw_encode()
ALAW_DECODE_TABLE: Int16Array = _build_alaw_decode()
for _table in (ULAW_ENCODE_TABLE, ULAW_DECODE_TABLE, ALAW_ENCODE_TABLE, ALAW_DECODE_TABLE):
    _table.flags.writeable = False


def _as_pcm(pcm: Int16Array | bytes | bytearray | memoryview) -> Int16Array:
    if isinstance(pcm, np.ndarray):
        if pcm.dtype != np.int16:
            raise TypeError(f"PCM must be int16, got {pcm.dtype}")
        return pcm
    return np.frombuffer(pcm, dtype="<i2")


def ulaw_encode(pcm: Int16Array | bytes | bytearray | memoryview) -> bytes:
    """Encode int16 PCM (array, or little-endian bytes) to µ-law bytes."""
    return ULAW_ENCODE_TABLE[_as_pcm(pcm).view(np.uint16)].tobytes()


def ulaw_decode(data: bytes | bytearray | memoryview) -> Int16Array:
    """Decode µ-law bytes to int16 PCM."""
    return ULAW_DECODE_TABLE[np.frombuffer(data, dtype=np.uint8)]


def alaw_encode(pcm: Int16Array | bytes | bytearray | memoryview) -> bytes:
    """Encode int16 PCM (array, or little-endian bytes) to A-law bytes."""
    return ALAW_ENCODE_TABLE[_as_pcm(pcm).view(np.uint16)].tobytes()


def alaw_decode(data: bytes | bytearray | memoryview) -> Int16Array:
    """Decode A-law bytes to int16 PCM."""
    return ALAW_DECODE_TABLE[np.frombuffer(data, dtype=np.uint8)]


@dataclass(frozen=True, slots=True)
class G711Codec:
    """One G.711 law as an RTP payload format (static payload type, 8 kHz, one byte per sample)."""

    name: str
    payload_type: int
    silence_byte: int
    encode_table: npt.NDArray[np.uint8]
    decode_table: Int16Array

    clock_rate: int = CLOCK_RATE

    def encode(self, pcm: Int16Array | bytes | bytearray | memoryview) -> bytes:
        return self.encode_table[_as_pcm(pcm).view(np.uint16)].tobytes()

    def decode(self, data: bytes | bytearray | memoryview) -> Int16Array:
        return self.decode_table[np.frombuffer(data, dtype=np.uint8)]

    def silence(self, samples: int = SAMPLES_PER_FRAME) -> bytes:
        return bytes([self.silence_byte]) * samples


PCMU = G711Codec("PCMU", PCMU_PAYLOAD_TYPE, PCMU_SILENCE, ULAW_ENCODE_TABLE, ULAW_DECODE_TABLE)
PCMA = G711Codec("PCMA", PCMA_PAYLOAD_TYPE, PCMA_SILENCE, ALAW_ENCODE_TABLE, ALAW_DECODE_TABLE)
CODECS_BY_PAYLOAD_TYPE: dict[int, G711Codec] = {PCMU.payload_type: PCMU, PCMA.payload_type: PCMA}
CODECS_BY_NAME: dict[str, G711Codec] = {PCMU.name: PCMU, PCMA.name: PCMA}
