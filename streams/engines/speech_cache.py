"""Recently synthesized speech, kept in memory: the same text in the same language is spoken once.

A contact centre's agent says the same things over and over: every call's greeting, the reprompt, the
goodbye, the knowledge base's answers. hibari costs ~40 ms of a core for a 4.6 s greeting (espeak-ng
~4 ms), so a surge of new calls would otherwise queue hundreds of identical syntheses in front of the
next caller's greeting. hibari's audio is a pure function of the text (fixed noise seed), so a cached
copy is exactly what a new synthesis would give.

Bounded by bytes of PCM, least recently used out first; safe to share between threads (one lock, held
only for the dictionary, never during a synthesis: two threads missing on the same text both
synthesize, and the second result replaces the equal first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from streams.engines.tts import Speech, TextToSpeech


class SpeechCache:
    """TextToSpeech that remembers up to `max_bytes` of its engine's recent results."""

    def __init__(self, engine: TextToSpeech, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.engine = engine
        self.name = engine.name
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = self.misses = 0
        self._entries: OrderedDict[tuple[str, str], Speech] = OrderedDict()
        self._lock = threading.Lock()

    def synthesize(self, text: str, language: str) -> Speech:
        key = (text, language)
        with self._lock:
            speech = self._entries.get(key)
            if speech is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return speech
            self.misses += 1
        speech = self.engine.synthesize(text, language)  # errors propagate and are not cached
        if len(speech.pcm) <= self.max_bytes:
            with self._lock:
                old = self._entries.pop(key, None)
                self.size += len(speech.pcm) - (len(old.pcm) if old is not None else 0)
                self._entries[key] = speech
                while self.size > self.max_bytes:
                    _, dropped = self._entries.popitem(last=False)
                    self.size -= len(dropped.pcm)
        return speech

    def __len__(self) -> int:
        return len(self._entries)
