"""Partial transcripts while the caller speaks: the growing audio of each utterance in progress.

The edge records the audio of an utterance in progress every ~500 ms of new speech, and when the
caller pauses (``UtteranceChunkCaptured``; ``pause``: decoded before the others, its transcript marked
``pause``); the STT worker joins a call's chunks and, when its partial decoder is free, decodes the
newest audio of each utterance into an ``UtteranceTranscribed`` with ``is_final=False``. Partials are
a preview: the turn is the final transcript of the ``UtteranceCaptured``, and an answer the dialog
prepares from a partial is heard only if the final confirms it. So a partial may be skipped (the
decoder was busy: only the newest audio of an utterance is decoded), lost (a worker restarted
mid-utterance: its chunks are not replayed into memory) or dropped (the final came first). What a
partial must never do is delay a final by more than one partial decode, or outlive its utterance.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from schemas import models as m

MAX_UTTERANCES: Final = 64
"""Utterances in progress held at once (a worker's share of simultaneous speakers, with margin);
the oldest is forgotten first — an utterance whose final never came (its speech was discarded)."""
MAX_PARTIAL_S: Final = 15.0
"""Audio of one utterance held for partials: the edge's longest utterance."""


@dataclass(slots=True)
class _Growing:
    next_index: int
    sample_rate: int
    pcm: bytearray


@dataclass(frozen=True, slots=True)
class PartialAudio:
    """What a partial decode hears: the utterance's audio so far, and the chunk that completed it."""

    key: bytes  # the call's key on the log
    chunk: m.UtteranceChunkCaptured
    pcm: bytes
    headers: tuple[tuple[str, bytes], ...] = ()  # the chunk's ``traceparent`` (a pause chunk's span)


class Partials:
    """Chunks joined per utterance; the newest audio of each waiting for the (single) partial decoder."""

    def __init__(self, *, max_utterances: int = MAX_UTTERANCES) -> None:
        self._growing: OrderedDict[str, _Growing] = OrderedDict()
        self._waiting: OrderedDict[str, PartialAudio] = OrderedDict()
        self._done: OrderedDict[str, None] = OrderedDict()  # finals seen: their partials are stale
        self._max = max_utterances

    def add(
        self, key: bytes, chunk: m.UtteranceChunkCaptured, headers: tuple[tuple[str, bytes], ...] = ()
    ) -> None:
        """Join a chunk; its utterance's audio so far waits for a decode (replacing older audio)."""
        uid = chunk.utterance_id
        if uid in self._done:
            return
        growing = self._growing.get(uid)
        if growing is None:
            if chunk.index != 0:  # joined in mid-utterance (a restart, a rebalance): no prefix to build on
                return
            growing = self._growing[uid] = _Growing(0, chunk.sample_rate, bytearray())
            while len(self._growing) > self._max:
                old, _ = self._growing.popitem(last=False)
                self._waiting.pop(old, None)
        if chunk.index != growing.next_index or chunk.sample_rate != growing.sample_rate:
            self._forget(uid)  # a chunk missing or repeated: the join would not be the caller's audio
            return
        if len(growing.pcm) + len(chunk.pcm) > MAX_PARTIAL_S * chunk.sample_rate * 2:
            return
        growing.next_index += 1
        growing.pcm += chunk.pcm
        self._waiting.pop(uid, None)
        self._waiting[uid] = PartialAudio(key, chunk, bytes(growing.pcm), headers)
        if chunk.pause:  # the caller paused: this decode may answer the turn, so it goes first
            self._waiting.move_to_end(uid, last=False)

    def next(self) -> PartialAudio | None:
        """The audio waiting longest for a partial decode, if any."""
        if not self._waiting:
            return None
        _, audio = self._waiting.popitem(last=False)
        return audio

    def final(self, utterance_id: str) -> None:
        """The utterance's final audio arrived: no more partials for it, even one being decoded."""
        self._forget(utterance_id)
        self._done[utterance_id] = None
        while len(self._done) > 4 * self._max:
            self._done.popitem(last=False)

    def current(self, utterance_id: str) -> bool:
        """Whether a partial of this utterance may still be published (its final has not come)."""
        return utterance_id not in self._done

    def _forget(self, uid: str) -> None:
        self._growing.pop(uid, None)
        self._waiting.pop(uid, None)

    def __len__(self) -> int:
        return len(self._growing)
