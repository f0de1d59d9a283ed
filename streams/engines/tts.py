"""Text-to-speech: the plug-in seam and its result (mono 16-bit little-endian PCM)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Speech:
    pcm: bytes
    sample_rate: int
    engine: str = ""
    """The engine that spoke, when a router (streams.engines.voices) picked it; empty: the TTS's name."""


class TextToSpeech(Protocol):
    name: str

    def synthesize(self, text: str, language: str) -> Speech: ...
