"""Call recording: caller on the left channel, agent (what the caller hears) on the right.

The media session appends one pair of 20 ms frames per clock tick (``append``), so both channels stay
sample-aligned whatever the network did: a lost or late caller packet is recorded as the concealment
the jitter buffer produced, a pause in the agent's audio as silence. Frames are interleaved into a
spooled temporary file (memory up to ``SPOOL_BYTES``, then disk), so a long call does not grow the
heap without bound.

``encode(pcm, fmt)`` turns the interleaved 16-bit stereo PCM into a file:

- ``wav``: RIFF/WAVE PCM, 2 channels, 16-bit, at the session rate (8 kHz for G.711);
- ``mp3``: MPEG audio through LAME (``lameenc``), 2 channels, 32 kbit/s.

Encoding and uploading are blocking and run off the media path (``asyncio.to_thread``, see
``MediaSession``).
"""

from __future__ import annotations

import io
import tempfile
import wave
from dataclasses import dataclass
from typing import Literal

import lameenc
import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]
RecordingFormat = Literal["wav", "mp3"]
FORMATS: tuple[str, ...] = ("wav", "mp3")
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
SPOOL_BYTES = 8 * 1024 * 1024
MP3_BITRATE_KBPS = 32


class RecordingError(ValueError):
    """A recording request this layer cannot honour (unknown format)."""


@dataclass(frozen=True, slots=True)
class EncodedRecording:
    data: bytes
    duration_ms: int
    content_type: str


def encode(pcm: bytes, fmt: str, sample_rate: int = 8000, channels: int = 2) -> EncodedRecording:
    """Interleaved int16 little-endian PCM → a WAV or MP3 file's bytes."""
    frames = len(pcm) // (2 * channels)
    duration_ms = frames * 1000 // sample_rate
    if fmt == "wav":
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setnchannels(channels)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
            wav.writeframes(pcm)
        return EncodedRecording(out.getvalue(), duration_ms, CONTENT_TYPES["wav"])
    if fmt == "mp3":
        encoder = lameenc.Encoder()
        encoder.set_bit_rate(MP3_BITRATE_KBPS)
        encoder.set_in_sample_rate(sample_rate)
        encoder.set_channels(channels)
        encoder.set_quality(5)  # 2 best .. 7 fastest
        data = bytes(encoder.encode(pcm)) + bytes(encoder.flush())
        return EncodedRecording(data, duration_ms, CONTENT_TYPES["mp3"])
    raise RecordingError(f"unsupported recording format {fmt!r}; use one of {', '.join(FORMATS)}")


class CallRecorder:
    """Collects one recording's stereo PCM, tick by tick."""

    __slots__ = ("_frame", "_spool", "format", "frames", "output_uri", "recording_id", "sample_rate")

    def __init__(self, recording_id: str, output_uri: str, fmt: str, sample_rate: int = 8000) -> None:
        if fmt not in FORMATS:
            raise RecordingError(f"unsupported recording format {fmt!r}; use one of {', '.join(FORMATS)}")
        self.recording_id = recording_id
        self.output_uri = output_uri
        self.format = fmt
        self.sample_rate = sample_rate
        self.frames = 0  # samples per channel
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # closed by take_pcm or discard
        self._frame = np.empty(0, dtype="<i2")

    def append(self, caller: Int16Array, agent: Int16Array) -> None:
        """One tick's audio: equal-length frames (the caller's decoded audio, the audio sent to them)."""
        n = caller.size
        frame = self._frame
        if frame.size != 2 * n:
            frame = self._frame = np.empty(2 * n, dtype="<i2")
        frame[0::2] = caller
        frame[1::2] = agent
        self._spool.write(frame.tobytes())
        self.frames += n

    def take_pcm(self) -> bytes:
        """The interleaved PCM recorded so far; the recorder is finished after this."""
        self._spool.seek(0)
        data = self._spool.read()
        self._spool.close()
        return data

    def discard(self) -> None:
        self._spool.close()
