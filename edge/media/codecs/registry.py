"""The codec interface, the table of codecs by SDP ``rtpmap``, and transcoding to the engines' PCM.

``a=rtpmap`` (RFC 4566 §6; encoding names are case-insensitive, channels default to 1)::

    a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]

    PCMU/8000     static PT 0   8 kHz audio, 160 octets per 20 ms        (RFC 3551 §4.5.14)
    PCMA/8000     static PT 8   8 kHz audio, 160 octets per 20 ms        (RFC 3551 §4.5.14)
    G722/8000     static PT 9   16 kHz audio on an 8000 Hz RTP clock     (RFC 3551 §4.5.2)
    opus/48000/2  dynamic PT    mono or stereo, 48000 Hz RTP clock       (RFC 7587 §7)

A codec (``Codec``) is an immutable description plus factories: ``encoder()`` and ``decoder()`` return
stateful objects, one per stream direction (G.722's ADPCM and Opus carry state from frame to frame;
G.711's are stateless). ``encode`` takes exactly one ``ptime`` of mono int16 little-endian PCM at the
codec's rate and returns one RTP payload; ``decode`` takes one payload and returns PCM; ``decode_loss``
returns concealment for one lost packet. Every failure is a ``CodecError``.

``Transcoder`` adapts one negotiated codec to the fixed-rate PCM the call pipeline and the speech
engines use (8 or 16 kHz): exactly one 20 ms frame in and out per clock tick, so the media tick stays
sample-aligned. Its rate conversion is FFmpeg's libswresample (PyAV's ``AudioResampler``), not
``codecs/resample.py``'s libsoxr stream: measured on 20 ms chunks, libsoxr's HQ/MQ/LQ streams release
output in bursts (0 samples for several chunks, then 500-1700 at once, 40-160 ms held back), and its
frame-exact QQ setting has no anti-alias filter, whereas libswresample returns exactly one frame per
frame after a first one 16 samples short (2 ms at 8 kHz), which the transcoder pads once.
``codecs/resample.py`` stays the tool for whole prompts and utterances.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np

from edge.media.codecs.errors import CodecError as CodecError  # re-exported: the layer's error
from edge.media.codecs.g711 import PCMA, PCMU, G711Codec

PTIME_MS: Final = 20
FIRST_DYNAMIC_PT: Final = 96
LAST_DYNAMIC_PT: Final = 127
OPUS_PREFERRED_PT: Final = 111  # what WebRTC stacks use; clear of telephone-event's customary 101
DEFAULT_OFFER: Final = ("PCMU", "PCMA", "G722", "opus")  # G.711 first: the cheapest per call


class Encoder(Protocol):
    def encode(self, pcm: bytes) -> bytes: ...


class Decoder(Protocol):
    def decode(self, payload: bytes) -> bytes: ...

    def decode_loss(self) -> bytes: ...


class Codec(Protocol):
    # Read-only members (properties): the codecs are frozen dataclasses, which a protocol of plain
    # (settable) attributes would not admit.
    @property
    def name(self) -> str: ...  # the rtpmap encoding name

    @property
    def payload_type(self) -> int | None: ...  # static payload type, None for dynamic

    @property
    def clock_rate(self) -> int: ...  # RTP timestamp units per second

    @property
    def channels(self) -> int: ...  # the rtpmap encoding parameter (2 for opus whatever is sent)

    @property
    def sample_rate(self) -> int: ...  # PCM rate of decode() and, by default, of encode()

    @property
    def ptime_ms(self) -> int: ...

    @property
    def fmtp(self) -> str | None: ...  # our a=fmtp parameters, if any

    @property
    def samples_per_frame(self) -> int: ...

    @property
    def timestamp_step(self) -> int: ...

    def encoder(self, sample_rate: int | None = None, remote_fmtp: str | None = None) -> Encoder:
        """An encoder for PCM at ``sample_rate`` (default ``sample_rate``); ``remote_fmtp`` is the
        peer's a=fmtp for this payload type (Opus honours its bit rate cap, FEC and CBR)."""
        ...

    def decoder(self) -> Decoder: ...


# ---- G.711 as a Codec (the tables live in g711.py) ------------------------------------------------------


class G711Encoder:
    __slots__ = ("_law",)

    def __init__(self, law: G711Codec) -> None:
        self._law = law

    def encode(self, pcm: bytes) -> bytes:
        if len(pcm) % 2:
            raise CodecError(f"{self._law.name} PCM of odd length {len(pcm)}")
        return self._law.encode(pcm)


class G711Decoder:
    __slots__ = ("_law",)

    def __init__(self, law: G711Codec) -> None:
        self._law = law

    def decode(self, payload: bytes) -> bytes:
        return self._law.decode(payload).astype("<i2", copy=False).tobytes()

    def decode_loss(self) -> bytes:
        """One 20 ms frame of silence (what the media session has always played for a loss)."""
        return bytes(self._law.clock_rate * PTIME_MS // 1000 * 2)


@dataclass(frozen=True, slots=True)
class G711PayloadCodec:
    law: G711Codec
    ptime_ms: int = PTIME_MS
    channels: int = 1
    fmtp: str | None = None

    @property
    def name(self) -> str:
        return self.law.name

    @property
    def payload_type(self) -> int | None:
        return self.law.payload_type

    @property
    def clock_rate(self) -> int:
        return self.law.clock_rate

    @property
    def sample_rate(self) -> int:
        return self.law.clock_rate

    @property
    def samples_per_frame(self) -> int:
        return self.law.clock_rate * self.ptime_ms // 1000

    @property
    def timestamp_step(self) -> int:
        return self.samples_per_frame

    def encoder(self, sample_rate: int | None = None, remote_fmtp: str | None = None) -> G711Encoder:
        if sample_rate not in (None, self.law.clock_rate):
            raise CodecError(f"the {self.name} encoder takes 8000 Hz PCM, not {sample_rate} Hz")
        return G711Encoder(self.law)

    def decoder(self) -> G711Decoder:
        return G711Decoder(self.law)


PCMU_CODEC = G711PayloadCodec(PCMU)
PCMA_CODEC = G711PayloadCodec(PCMA)


# ---- rtpmap --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RtpMap:
    """One ``a=rtpmap`` value: ``<pt> <encoding>/<clock rate>[/<channels>]``."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1

    @classmethod
    def parse(cls, data: str | bytes) -> RtpMap:
        text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
        pt, sep, spec = text.strip().partition(" ")
        if not sep or not pt.isdigit() or int(pt) > LAST_DYNAMIC_PT:
            raise CodecError(f"rtpmap {text!r}: payload type must be 0..127")
        encoding, clock_rate, channels = parse_encoding(spec)
        return cls(int(pt), encoding, clock_rate, channels)

    @property
    def spec(self) -> str:
        """``<encoding>/<clock rate>[/<channels>]``, channels written only when not 1."""
        tail = f"/{self.channels}" if self.channels != 1 else ""
        return f"{self.encoding}/{self.clock_rate}{tail}"

    def __str__(self) -> str:
        return f"{self.payload_type} {self.spec}"

    def __bytes__(self) -> bytes:
        return str(self).encode("ascii")


def parse_encoding(spec: str) -> tuple[str, int, int]:
    """``opus/48000/2`` → ``("opus", 48000, 2)``; ``PCMU/8000`` → ``("PCMU", 8000, 1)``."""
    parts = spec.strip().split("/")
    if len(parts) not in (2, 3) or not parts[0] or not all(p.isdigit() for p in parts[1:]):
        raise CodecError(f"rtpmap encoding {spec!r} is not <name>/<clock rate>[/<channels>]")
    channels = int(parts[2]) if len(parts) == 3 else 1
    if int(parts[1]) == 0 or channels == 0:
        raise CodecError(f"rtpmap encoding {spec!r} has a zero clock rate or channel count")
    return parts[0], int(parts[1]), channels


class Offered(Protocol):
    """What an SDP parser knows of one offered format (``edge.sdp.Codec`` has exactly these, read-only)."""

    @property
    def payload_type(self) -> int: ...

    @property
    def encoding(self) -> str: ...

    @property
    def clock_rate(self) -> int: ...

    @property
    def channels(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Binding:
    """A codec bound to the payload type it travels under in this session."""

    codec: Codec
    payload_type: int
    remote_fmtp: str | None = None

    @property
    def rtpmap(self) -> RtpMap:
        return RtpMap(self.payload_type, self.codec.name, self.codec.clock_rate, self.codec.channels)


class CodecRegistry:
    """Codecs by rtpmap key ``(lower-case name, clock rate, channels)`` and by static payload type."""

    def __init__(self, codecs: Iterable[Codec]) -> None:
        self._by_key: dict[tuple[str, int, int], Codec] = {}
        self._by_pt: dict[int, Codec] = {}
        for codec in codecs:
            self._by_key[(codec.name.lower(), codec.clock_rate, codec.channels)] = codec
            if codec.payload_type is not None:
                self._by_pt[codec.payload_type] = codec

    def __iter__(self) -> Iterator[Codec]:
        return iter(self._by_key.values())

    def get(self, encoding: str, clock_rate: int, channels: int = 1) -> Codec | None:
        codec = self._by_key.get((encoding.lower(), clock_rate, channels))
        if codec is None and encoding.lower() == "opus" and clock_rate == 48000:
            codec = self._by_key.get(("opus", 48000, 2))  # RFC 7587 §7: channels MUST be 2; be lenient
        return codec

    def by_rtpmap(self, spec: str) -> Codec:
        """``"opus/48000/2"`` → the Opus codec; raises CodecError when unknown."""
        encoding, clock_rate, channels = parse_encoding(spec)
        codec = self.get(encoding, clock_rate, channels)
        if codec is None:
            raise CodecError(f"no codec for rtpmap {spec!r}")
        return codec

    def by_name(self, name: str) -> Codec:
        """By encoding name alone (``PCMU``, ``g722``, ``OPUS``), as commands name codecs."""
        for (key_name, _, _), codec in self._by_key.items():
            if key_name == name.lower():
                return codec
        raise CodecError(f"unsupported codec {name!r}")

    def by_payload_type(self, payload_type: int) -> Codec | None:
        """A static payload type offered without an rtpmap line (RFC 3551 §6)."""
        return self._by_pt.get(payload_type)

    def choose(self, offered: Sequence[Offered], fmtps: dict[int, str] | None = None) -> Binding | None:
        """The answerer's pick (RFC 3264 §6.1): the first offered format we support, under the
        offer's payload type; ``fmtps`` maps payload types to the offer's fmtp parameters."""
        for o in offered:
            codec = self.get(o.encoding, o.clock_rate, o.channels)
            if codec is not None:
                return Binding(codec, o.payload_type, (fmtps or {}).get(o.payload_type))
        return None

    def offer(self, names: Sequence[str] = DEFAULT_OFFER, taken: Iterable[int] = (101,)) -> list[Binding]:
        """Bindings for an offer, in preference order: static payload types as they are, dynamic ones
        at 111 for Opus if free, else the lowest free number in 96..127 not in ``taken``."""
        used = set(taken)
        out: list[Binding] = []
        for name in names:
            codec = self.by_name(name)
            pt = codec.payload_type
            if pt is None:
                free = [OPUS_PREFERRED_PT] if name.lower() == "opus" else []
                free += range(FIRST_DYNAMIC_PT, LAST_DYNAMIC_PT + 1)
                pt = next((p for p in free if p not in used), None)
                if pt is None:
                    raise CodecError("no dynamic payload type left for the offer")
            used.add(pt)
            out.append(Binding(codec, pt))
        return out


def default_registry() -> CodecRegistry:
    """PCMU, PCMA, G.722 and Opus."""
    from edge.media.codecs.g722 import G722
    from edge.media.codecs.opus import OPUS

    return CodecRegistry([PCMU_CODEC, PCMA_CODEC, G722, OPUS])


# ---- transcoding to the engines' PCM ------------------------------------------------------------------


class FrameResampler:
    """Streaming rate conversion (libswresample) that returns, after every chunk, exactly as many
    samples as the input so far is worth at the output rate (``total_in * out_rate // in_rate``):
    one 20 ms frame per 20 ms frame, with a constant delay."""

    __slots__ = ("_emitted", "_pending", "_received", "_resampler", "in_rate", "out_rate")

    def __init__(self, in_rate: int, out_rate: int) -> None:
        import av

        self.in_rate = in_rate
        self.out_rate = out_rate
        self._resampler: Any = av.AudioResampler(format="s16", layout="mono", rate=out_rate)
        self._pending = np.zeros(0, dtype=np.int16)
        self._received = 0
        self._emitted = 0

    def process(self, pcm: np.ndarray) -> np.ndarray:
        import av

        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.in_rate
        frame.pts = self._received
        self._received += pcm.size
        due = self._received * self.out_rate // self.in_rate - self._emitted
        parts = [self._pending, *(f.to_ndarray()[0] for f in self._resampler.resample(frame))]
        out = np.concatenate(parts)
        if out.size < due:  # the start: the filter delay, padded once, constant after
            out = np.concatenate([np.zeros(due - out.size, dtype=np.int16), out])
        self._pending = out[due:]
        self._emitted += due
        return out[:due]


class Transcoder:
    """One call's codec on one side, 20 ms frames of ``pcm_rate`` PCM (8 or 16 kHz) on the other.

    ``decode(payload)`` / ``conceal()`` give caller audio at ``pcm_rate``, one packet's worth (a packet
    of another ptime gives proportionally more or less); ``encode(frame)`` takes one 20 ms frame at
    ``pcm_rate`` and returns one payload. The encoder takes ``pcm_rate`` directly when the codec can
    (Opus at 8/16 kHz, G.711 at 8 kHz, G.722 at 16 kHz); otherwise a ``FrameResampler`` converts.
    """

    __slots__ = ("_decoder", "_down", "_encoder", "_up", "binding", "codec", "pcm_rate")

    def __init__(self, binding: Binding | Codec, pcm_rate: int, *, remote_fmtp: str | None = None) -> None:
        if not isinstance(binding, Binding):
            pt = binding.payload_type
            binding = Binding(binding, OPUS_PREFERRED_PT if pt is None else pt, remote_fmtp)
        self.binding = binding
        self.codec = codec = binding.codec
        self.pcm_rate = pcm_rate
        rates = getattr(codec, "encoder_rates", (codec.sample_rate,))
        encode_rate = pcm_rate if pcm_rate in rates else codec.sample_rate
        self._encoder = codec.encoder(encode_rate, binding.remote_fmtp)
        self._decoder = codec.decoder()
        self._up = FrameResampler(pcm_rate, encode_rate) if encode_rate != pcm_rate else None
        self._down = FrameResampler(codec.sample_rate, pcm_rate) if codec.sample_rate != pcm_rate else None

    @property
    def frame_samples(self) -> int:
        return self.pcm_rate * PTIME_MS // 1000

    def encode(self, pcm: np.ndarray) -> bytes:
        """One 20 ms int16 frame at ``pcm_rate`` → one RTP payload."""
        if pcm.dtype != np.int16 or pcm.size != self.frame_samples:
            raise CodecError(
                f"transcoder frame must be {self.frame_samples} int16 samples, got {pcm.size} {pcm.dtype}"
            )
        if self._up is not None:
            pcm = self._up.process(pcm)
        return self._encoder.encode(pcm.astype("<i2", copy=False).tobytes())

    def decode(self, payload: bytes) -> np.ndarray:
        """One RTP payload → int16 PCM at ``pcm_rate``."""
        return self._convert(self._decoder.decode(payload))

    def conceal(self) -> np.ndarray:
        """One lost packet → concealment at ``pcm_rate`` (libopus PLC, silence for G.711/G.722)."""
        return self._convert(self._decoder.decode_loss())

    def _convert(self, pcm_bytes: bytes) -> np.ndarray:
        pcm = np.frombuffer(pcm_bytes, dtype="<i2")
        if self._down is None or pcm.size == 0:
            return pcm
        return self._down.process(pcm)
