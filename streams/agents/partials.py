"""Partial transcripts while the caller speaks: the growing audio of each utterance in progress.

The edge records the audio of an utterance in progress every ~500 ms of new speech, and when the
caller pauses (``UtteranceChunkCaptured``; ``pause``: decoded before the others, its transcript marked
``pause``); the STT worker joins a call's chunks and, when its partial decoder is free, decodes the
newest audio of each utterance into an ``UtteranceTranscribed`` with ``is_final=False``. Partials are
a preview: the turn is the final transcript of the ``UtteranceCaptured``, and an answer the dialog
prepares from a partial is heard only if the final confirms it. So a partial may be skipped (the
decoder was busy: only the newest audio of an utterance is decoded), lost (a worker restarted
mid-utterance: its chunks are not replayed into memory) or dropped (the final came first). What a
partial must never do is delay a final by more than one partial decode (one preview, or one batch
of up to ``MAX_PAUSE_BATCH`` pause chunks), or outlive its utterance.

Two kinds of partial share the decoder, and they are not worth the same (``take``):
- A **pause** chunk's decode may answer the turn: the dialog prepares the answer while the end
  silence runs, so it is only useful if it is done within that silence (~340 ms). Every pause chunk
  waiting is decoded at once, in one batch across calls (Whisper's ``transcribe_many``).
- A **preview** (a chunk every ``partial_audio_ms`` of speech) is for eyes: a browser's live
  transcript. With many callers speaking, previews alone would keep the decoder, and the CPU it
  shares with the broker, the edge and TTS, busy all the time (20 conversations: pause partials came
  140-425 ms after their chunk, a third of them after the final; bench/conversations.py --timeline).
  So previews are decoded one at a time and take at most ``PREVIEW_SHARE`` of the decoder's time:
  after a preview that took t, the next waits (1 - share) / share x t, and pause chunks go meanwhile.

A pause chunk's decode also stands for the final when the final's audio is the same but for the rest
of its trailing silence (``final``, ``same_audio``): an answer prepared at the pause is kept when the
words are the same, so most finals would otherwise be decoded only to say them again.
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
MAX_PAUSE_BATCH: Final = 8
"""Pause chunks decoded together at most (a batch of 8 takes ~620 ms on 2 cores: bench/stt_bench.py
--mode batch --batch 8; more would outlast the end silence anyway)."""
PREVIEW_SHARE: Final = 0.25
"""The decoder's time previews may take at most (see the module's text): with half, 20 conversations
asking at random moments of 10 s had 30 of 40 answers prepared at the pause and p95 1184 ms; with a
quarter 35 of 40 and 1079 ms (bench/conversations.py --levels 20 --rounds 2 --spread-ms 10000)."""
SAME_AS_PAUSE_MS: Final = 100
"""A final whose audio is a pause chunk's audio and at most this much more has the pause chunk's
transcript (``final``). Without more speech the final adds only the rest of the post-roll (the edge
keeps 200 ms of trailing silence, the pause chunk the 160 ms of its pause: 40 ms); a voiced frame after
the pause adds at least itself and the whole post-roll (220 ms)."""


@dataclass(slots=True)
class _Growing:
    next_index: int
    sample_rate: int
    pcm: bytearray


def same_audio(audio: PartialAudio, pcm: bytes, sample_rate: int) -> bool:
    """Whether an utterance's final audio is ``audio`` (a pause chunk's: the utterance up to the
    pause) but for the rest of its trailing silence (``SAME_AS_PAUSE_MS``)."""
    more = len(pcm) - len(audio.pcm)
    return (
        audio.chunk.sample_rate == sample_rate
        and 0 <= more <= SAME_AS_PAUSE_MS * sample_rate // 500
        and pcm.startswith(audio.pcm)
    )


@dataclass(frozen=True, slots=True)
class PartialAudio:
    """What a partial decode hears: the utterance's audio so far, and the chunk that completed it."""

    key: bytes  # the call's key on the log
    chunk: m.UtteranceChunkCaptured
    pcm: bytes
    headers: tuple[tuple[str, bytes], ...] = ()  # the chunk's ``traceparent`` (a pause chunk's span)


class Partials:
    """Chunks joined per utterance; the newest audio of each waiting for the (single) partial decoder."""

    def __init__(self, *, max_utterances: int = MAX_UTTERANCES, preview_share: float = PREVIEW_SHARE) -> None:
        if not 0 < preview_share <= 1:
            raise ValueError(f"preview_share must be in (0, 1], got {preview_share}")
        self._growing: OrderedDict[str, _Growing] = OrderedDict()
        self._waiting: OrderedDict[str, PartialAudio] = OrderedDict()  # pause chunks first
        self._done: OrderedDict[str, None] = OrderedDict()  # finals seen: their partials are stale
        self._max = max_utterances
        self._heard: OrderedDict[str, tuple[PartialAudio, m.UtteranceTranscribed]] = OrderedDict()
        """The last pause chunk's transcript of each utterance in progress, with the audio it heard."""
        self._rest = (1 - preview_share) / preview_share  # the decoder's rest after a preview, per second
        self._preview_at = 0.0  # when the next preview may start

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

    def take(self, now: float) -> list[PartialAudio]:
        """The next decode's audio: every pause chunk waiting (up to ``MAX_PAUSE_BATCH``), else the
        preview waiting longest if previews may use the decoder at ``now`` (``ready_in``), else none."""
        batch: list[PartialAudio] = []
        while self._waiting and len(batch) < MAX_PAUSE_BATCH:
            uid, audio = next(iter(self._waiting.items()))
            if not audio.chunk.pause:
                break
            del self._waiting[uid]
            batch.append(audio)
        if batch or not self._waiting or now < self._preview_at:
            return batch
        _, audio = self._waiting.popitem(last=False)
        return [audio]

    def decoded(self, batch: list[PartialAudio], began: float, now: float) -> None:
        """A decode of ``batch`` ran from ``began`` to ``now``: a preview's time counts against the
        previews' share."""
        if any(not audio.chunk.pause for audio in batch):
            self._preview_at = now + (now - began) * self._rest

    def ready_in(self, now: float) -> float | None:
        """Seconds until ``take`` has something (0: now), or None when nothing waits."""
        if not self._waiting:
            return None
        if next(iter(self._waiting.values())).chunk.pause:
            return 0.0
        return max(0.0, self._preview_at - now)

    def heard(self, audio: PartialAudio, transcript: m.UtteranceTranscribed) -> None:
        """A pause chunk's decode was published: the final may say just this (``final``)."""
        uid = audio.chunk.utterance_id
        if audio.chunk.pause and self.current(uid):
            self._heard.pop(uid, None)
            self._heard[uid] = (audio, transcript)
            while len(self._heard) > self._max:
                self._heard.popitem(last=False)

    def final(
        self, utterance_id: str, pcm: bytes = b"", sample_rate: int = 0
    ) -> m.UtteranceTranscribed | None:
        """The utterance's final audio arrived: no more partials for it, even one being decoded. When
        that audio is what a pause chunk's published decode heard, but for the rest of its trailing
        silence (``SAME_AS_PAUSE_MS``), that decode's transcript: decoding it again would only cost
        the decoder time other callers are waiting for (the answer prepared at the pause is kept when
        the words are the same, so most finals would be decoded just to say them again)."""
        heard = self._heard.pop(utterance_id, None)
        self._forget(utterance_id)
        self._done[utterance_id] = None
        while len(self._done) > 4 * self._max:
            self._done.popitem(last=False)
        if heard is None or not same_audio(heard[0], pcm, sample_rate):
            return None
        return heard[1]

    def current(self, utterance_id: str) -> bool:
        """Whether a partial of this utterance may still be published (its final has not come)."""
        return utterance_id not in self._done

    def _forget(self, uid: str) -> None:
        self._growing.pop(uid, None)
        self._waiting.pop(uid, None)
        self._heard.pop(uid, None)

    def __len__(self) -> int:
        return len(self._growing)
