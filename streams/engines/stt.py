"""Speech-to-text: the plug-in seam and its result.

Input is mono 16-bit little-endian PCM (the `pcm` of `UtteranceCaptured`, 8 or 16 kHz); engines
resample to what their model needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str
    confidence: float | None = None


class SpeechToText(Protocol):
    name: str

    def transcribe(self, pcm: bytes, sample_rate: int, language: str) -> Transcript: ...
