"""Opus (RFC 6716) as an RTP payload format (RFC 7587), mono voice in 20 ms frames.

RTP (RFC 7587 §4, §7)::

    dynamic payload type         a=rtpmap:<pt> opus/48000/2      (always 48000 and 2, whatever is sent)
    RTP clock rate 48000 Hz      timestamp step per 20 ms: 960, whatever rate the audio was coded at
    a=fmtp:<pt> <param>=<value>[;<param>=<value>]*
        maxplaybackrate, sprop-maxcapturerate   highest audio rate the receiver renders / sender captures
        maxaveragebitrate                       cap on the sender's average bit rate (bit/s)
        stereo, sprop-stereo                    0 (default): mono preferred
        useinbandfec, usedtx, cbr               0 or 1; minptime, maxptime, ptime (ms)

Each RTP payload is exactly one Opus packet (RFC 6716 §3)::

    TOC octet = config (5 bits) | s (1 bit: stereo) | c (2 bits: frame count code)
    c = 0: one frame; 1: two equal frames; 2: two frames, first length coded; 3: octet 1 holds the
    frame count M (low 6 bits, 1..48) and padding/VBR flags.  A packet is at most 120 ms of audio.

Encoding and decoding go through libopus as FFmpeg's ``libopus`` codec in PyAV's wheels. The encoder
takes 8, 12, 16, 24 or 48 kHz PCM directly (libopus codes narrowband/wideband from it without a separate
resampler); FFmpeg's decoder always produces 48 kHz. Defaults follow RFC 7587 §3.1.1's bit rates for
speech (narrowband 12, wideband 20, fullband 32 kbit/s) with the ``voip`` application, VBR, and
complexity 5 (measured: 1.4 times the frames/s of complexity 10 at the same size on the speech fixture).

Loss: a one-octet packet (TOC only, code 0) is a zero-length frame, which libopus conceals (RFC 6716
§4.4); ``decode_loss`` feeds one built from the last packet's TOC, so the concealment is as long as that
packet's frame and continues its signal. In-band FEC (decoding a lost frame from the next packet's
LBRR data) is not reachable through FFmpeg's decoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from edge.media.codecs.errors import CodecError

CLOCK_RATE: Final = 48000
DECODE_RATE: Final = 48000  # FFmpeg's libopus wrapper always decodes at 48 kHz
ENCODER_RATES: Final = (8000, 12000, 16000, 24000, 48000)
PTIME_MS: Final = 20
RTPMAP_CHANNELS: Final = 2  # RFC 7587 §7: "the number of channels MUST be 2"
MAX_PACKET_SAMPLES: Final = CLOCK_RATE * 120 // 1000  # RFC 6716 §3.2.5: at most 120 ms per packet
MAX_PAYLOAD_BYTES: Final = 1275 * 3  # RFC 6716 §3.4 [R2]-[R5]: the largest legal packet is smaller
# RFC 7587 §3.1.1: "8 to 12 kb/s for NB speech, 16 to 20 kb/s for WB speech, 28 to 40 kb/s for FB speech".
SPEECH_BITRATES: Final = {8000: 12_000, 12000: 16_000, 16000: 20_000, 24000: 24_000, 48000: 32_000}
DEFAULT_COMPLEXITY: Final = 5

# Frame duration of each TOC config, in 48 kHz samples (RFC 6716 §3.1, Table 2).
_SILK = (480, 960, 1920, 2880)  # 10, 20, 40, 60 ms
_HYBRID = (480, 960)  # 10, 20 ms
_CELT = (120, 240, 480, 960)  # 2.5, 5, 10, 20 ms
CONFIG_FRAME_SAMPLES: Final = (*(_SILK * 3), *(_HYBRID * 2), *(_CELT * 4))


def packet_samples(payload: bytes) -> int:
    """Audio duration of one Opus packet in 48 kHz samples (the RTP timestamp units), from its TOC."""
    if not payload:
        raise CodecError("empty Opus packet")
    toc = payload[0]
    code = toc & 0x03
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    else:
        if len(payload) < 2:
            raise CodecError("Opus code 3 packet without a frame count octet")
        frames = payload[1] & 0x3F
        if frames == 0:
            raise CodecError("Opus code 3 packet with a frame count of 0")
    samples = frames * CONFIG_FRAME_SAMPLES[toc >> 3]
    if samples > MAX_PACKET_SAMPLES:
        raise CodecError(f"Opus packet of {samples} samples exceeds 120 ms")
    return samples


@dataclass(frozen=True, slots=True)
class OpusFmtp:
    """The RFC 7587 §7 format parameters we act on (others are kept out; unknown ones are ignored)."""

    maxplaybackrate: int | None = None
    sprop_maxcapturerate: int | None = None
    maxaveragebitrate: int | None = None
    useinbandfec: bool = False
    usedtx: bool = False
    cbr: bool = False
    stereo: bool = False

    @classmethod
    def parse(cls, data: str | None) -> OpusFmtp:
        """``a=fmtp`` parameters (the text after ``<pt> ``), e.g. ``minptime=10;useinbandfec=1``."""
        values: dict[str, str] = {}
        for item in (data or "").split(";"):
            name, eq, value = item.strip().partition("=")
            if not name:
                continue
            if not eq:
                raise CodecError(f"Opus fmtp parameter {name!r} has no value")
            values[name.lower()] = value.strip()

        def number(name: str) -> int | None:
            if name not in values:
                return None
            if not values[name].isdigit():
                raise CodecError(f"Opus fmtp {name}={values[name]!r} is not a number")
            return int(values[name])

        def flag(name: str) -> bool:
            return number(name) == 1

        return cls(
            maxplaybackrate=number("maxplaybackrate"),
            sprop_maxcapturerate=number("sprop-maxcapturerate"),
            maxaveragebitrate=number("maxaveragebitrate"),
            useinbandfec=flag("useinbandfec"),
            usedtx=flag("usedtx"),
            cbr=flag("cbr"),
            stereo=flag("stereo"),
        )

    def __str__(self) -> str:
        parts = []
        for name, value in (
            ("maxplaybackrate", self.maxplaybackrate),
            ("sprop-maxcapturerate", self.sprop_maxcapturerate),
            ("maxaveragebitrate", self.maxaveragebitrate),
        ):
            if value is not None:
                parts.append(f"{name}={value}")
        for name, flag in (
            ("useinbandfec", self.useinbandfec),
            ("usedtx", self.usedtx),
            ("cbr", self.cbr),
            ("stereo", self.stereo),
        ):
            if flag:
                parts.append(f"{name}=1")
        return ";".join(parts)

    def __bytes__(self) -> bytes:
        return str(self).encode()


class OpusEncoder:
    """One direction's encoder: 20 ms of PCM at ``sample_rate`` in, one Opus packet out."""

    __slots__ = ("_ctx", "_pts", "frame_samples", "sample_rate")

    def __init__(self, sample_rate: int, *, bitrate: int, complexity: int, fec: bool, cbr: bool) -> None:
        if sample_rate not in ENCODER_RATES:
            raise CodecError(f"the Opus encoder takes PCM at {ENCODER_RATES} Hz, not {sample_rate} Hz")
        import av  # PyAV: imported on first use, so G.711-only processes never load FFmpeg

        self.sample_rate = sample_rate
        self.frame_samples = sample_rate * PTIME_MS // 1000
        ctx = av.CodecContext.create("libopus", "w")
        ctx.sample_rate = sample_rate
        ctx.format = "s16"
        ctx.layout = "mono"
        ctx.bit_rate = bitrate
        options = {
            "application": "voip",
            "frame_duration": str(PTIME_MS),
            "compression_level": str(complexity),
            "vbr": "off" if cbr else "on",
        }
        if fec:  # LBRR data only goes out when the encoder expects loss
            options |= {"fec": "1", "packet_loss": "10"}
        ctx.options = options
        try:
            ctx.open()
        except av.FFmpegError as exc:
            raise CodecError(f"libopus refused the encoder settings: {exc}") from None
        self._ctx: Any = ctx
        self._pts = 0

    def encode(self, pcm: bytes) -> bytes:
        if len(pcm) != self.frame_samples * 2:
            raise CodecError(
                f"Opus frame must be {self.frame_samples} samples ({self.frame_samples * 2} bytes)"
                f" at {self.sample_rate} Hz, got {len(pcm)} bytes"
            )
        import av

        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = self._pts
        self._pts += self.frame_samples
        return b"".join(bytes(p) for p in self._ctx.encode(frame))


class OpusDecoder:
    """One direction's decoder: one Opus packet in, 48 kHz mono PCM out (stereo packets are downmixed)."""

    __slots__ = ("_ctx", "_last_toc")

    def __init__(self) -> None:
        import av

        ctx = av.CodecContext.create("libopus", "r")
        ctx.sample_rate = DECODE_RATE
        ctx.layout = "mono"
        self._ctx: Any = ctx
        self._last_toc: int | None = None

    def decode(self, payload: bytes) -> bytes:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise CodecError(f"Opus payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        packet_samples(payload)  # a malformed TOC is refused here, before libopus sees it
        pcm = self._decode(payload)
        self._last_toc = payload[0]
        return pcm

    def decode_loss(self) -> bytes:
        """Concealment for one lost packet, as long as the last packet's frame (20 ms before any)."""
        if self._last_toc is None:
            return bytes(DECODE_RATE * PTIME_MS // 1000 * 2)
        return self._decode(bytes([self._last_toc & 0xFC]))  # code 0, zero-length frame: PLC

    def _decode(self, payload: bytes) -> bytes:
        import av

        try:
            frames = self._ctx.decode(av.Packet(payload))
        except av.FFmpegError as exc:
            raise CodecError(f"Opus packet rejected by libopus: {exc}") from None
        return b"".join(f.to_ndarray().astype("<i2", copy=False).tobytes() for f in frames)


@dataclass(frozen=True, slots=True)
class OpusCodec:
    """Opus for mono voice. ``fmtp`` is what we put in our SDP (and send under)."""

    name: str = "opus"
    payload_type: int | None = None  # dynamic: the SDP offer assigns it
    clock_rate: int = CLOCK_RATE
    channels: int = RTPMAP_CHANNELS
    sample_rate: int = DECODE_RATE
    ptime_ms: int = PTIME_MS
    complexity: int = DEFAULT_COMPLEXITY
    fmtp: str | None = "maxplaybackrate=16000;sprop-maxcapturerate=16000"
    encoder_rates: tuple[int, ...] = ENCODER_RATES

    @property
    def samples_per_frame(self) -> int:
        return self.sample_rate * self.ptime_ms // 1000

    @property
    def timestamp_step(self) -> int:
        """RTP timestamp units per frame: 960 at the 48000 Hz clock."""
        return self.clock_rate * self.ptime_ms // 1000

    def encoder(self, sample_rate: int | None = None, remote_fmtp: str | None = None) -> OpusEncoder:
        """An encoder for PCM at ``sample_rate`` (default 48000), honouring the peer's fmtp
        (``maxaveragebitrate`` caps the bit rate, ``useinbandfec=1`` turns FEC on, ``cbr=1``)."""
        rate = sample_rate or DECODE_RATE
        peer = OpusFmtp.parse(remote_fmtp)
        bitrate = SPEECH_BITRATES.get(rate, 32_000)
        if peer.maxaveragebitrate is not None:
            bitrate = max(6_000, min(bitrate, peer.maxaveragebitrate))  # RFC 7587 §7.1: 6000..510000
        return OpusEncoder(
            rate, bitrate=bitrate, complexity=self.complexity, fec=peer.useinbandfec, cbr=peer.cbr
        )

    def decoder(self) -> OpusDecoder:
        return OpusDecoder()


OPUS = OpusCodec()
