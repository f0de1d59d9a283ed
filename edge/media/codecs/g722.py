"""G.722 wideband ADPCM (ITU-T G.722 at 64 kbit/s) as an RTP payload format (RFC 3551 §4.5.2).

Audio is 16 kHz, 16-bit; the codec splits it into two sub-bands (QMF) and codes each with ADPCM, so
every octet carries two input samples: 20 ms = 320 samples = 160 octets.

RTP (RFC 3551 §4.5.2, and the table in §6)::

    payload type 9 (static)      a=rtpmap:9 G722/8000
    RTP clock rate 8000 Hz       "even though the actual sampling rate for G.722 audio is 16,000 Hz"
    timestamp step per 20 ms     160 (not 320): an erratum kept for backward compatibility

Encoding and decoding go through FFmpeg's ``g722`` codec as bundled in PyAV's wheels. Measured on
``tests/fixtures/media/opening_hours_8k.wav`` (upsampled to 16 kHz): its bitstream and its decoded
samples are identical to libg722's (``G722`` on PyPI, which passes the ITU test vectors); the unit tests
keep checking that. Both directions are stateful (the ADPCM predictors and the QMF history carry
across frames), so each RTP stream direction needs its own encoder and decoder.

Every octet string is a valid G.722 bit stream: decoding cannot detect garbage, only an empty payload.
FFmpeg has no G.722 packet loss concealment (G.722 Appendix III/IV), so ``decode_loss`` returns one
frame of silence and the decoder carries on from its current state with the next packet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np

from edge.media.codecs.errors import CodecError

PAYLOAD_TYPE: Final = 9
CLOCK_RATE: Final = 8000  # RFC 3551 §4.5.2: the RTP clock is 8000 Hz although audio is 16 kHz
SAMPLE_RATE: Final = 16000
PTIME_MS: Final = 20
SAMPLES_PER_FRAME: Final = SAMPLE_RATE * PTIME_MS // 1000  # 320
PAYLOAD_BYTES_PER_FRAME: Final = SAMPLES_PER_FRAME // 2  # 160: two samples per octet
MAX_PAYLOAD_BYTES: Final = 1500  # more than any datagram on an Ethernet path carries


def _context(mode: Literal["r", "w"]) -> Any:
    import av  # PyAV: imported on first use, so G.711-only processes never load FFmpeg

    ctx = av.CodecContext.create("g722", mode)
    ctx.sample_rate = SAMPLE_RATE
    ctx.layout = "mono"
    if mode == "w":
        ctx.format = "s16"
        ctx.open()
    return ctx


class G722Encoder:
    """One direction's encoder: 20 ms of 16 kHz PCM in, 160 octets out."""

    __slots__ = ("_ctx", "_pts")

    def __init__(self) -> None:
        self._ctx = _context("w")
        self._pts = 0

    def encode(self, pcm: bytes) -> bytes:
        if len(pcm) != SAMPLES_PER_FRAME * 2:
            raise CodecError(
                f"G722 frame must be {SAMPLES_PER_FRAME} samples ({SAMPLES_PER_FRAME * 2} bytes),"
                f" got {len(pcm)} bytes"
            )
        import av

        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        self._pts += SAMPLES_PER_FRAME
        return b"".join(bytes(p) for p in self._ctx.encode(frame))


class G722Decoder:
    """One direction's decoder: any number of octets in, twice as many 16 kHz samples out."""

    __slots__ = ("_ctx",)

    def __init__(self) -> None:
        self._ctx = _context("r")

    def decode(self, payload: bytes) -> bytes:
        if not payload:
            raise CodecError("empty G722 payload")  # an empty packet would put FFmpeg's decoder in drain
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise CodecError(f"G722 payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        import av

        try:
            frames = self._ctx.decode(av.Packet(payload))
        except av.FFmpegError as exc:  # not seen in practice: every octet string decodes
            raise CodecError(f"G722 payload rejected: {exc}") from None
        return b"".join(f.to_ndarray().astype("<i2", copy=False).tobytes() for f in frames)

    def decode_loss(self) -> bytes:
        """One 20 ms frame for a lost packet: silence (FFmpeg has no G.722 concealment)."""
        return bytes(SAMPLES_PER_FRAME * 2)


@dataclass(frozen=True, slots=True)
class G722Codec:
    """G.722 at 64 kbit/s, 20 ms frames."""

    name: str = "G722"
    payload_type: int | None = PAYLOAD_TYPE
    clock_rate: int = CLOCK_RATE
    channels: int = 1
    sample_rate: int = SAMPLE_RATE
    ptime_ms: int = PTIME_MS
    fmtp: str | None = None

    @property
    def samples_per_frame(self) -> int:
        return SAMPLES_PER_FRAME

    @property
    def timestamp_step(self) -> int:
        """RTP timestamp units per frame: 160 at the 8000 Hz clock."""
        return self.clock_rate * self.ptime_ms // 1000

    def encoder(self, sample_rate: int | None = None, remote_fmtp: str | None = None) -> G722Encoder:
        if sample_rate not in (None, SAMPLE_RATE):
            raise CodecError(f"the G722 encoder takes {SAMPLE_RATE} Hz PCM, not {sample_rate} Hz")
        return G722Encoder()

    def decoder(self) -> G722Decoder:
        return G722Decoder()


G722 = G722Codec()
