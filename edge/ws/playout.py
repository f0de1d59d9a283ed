"""Agent audio to a browser, paced in real time (sans-IO).

Why paced and not sent at once: the gateway must know what the listener has actually heard, for
three reasons. ``PlaybackFinished`` has to mean "the caller heard it all" (the dialog starts listening
then, and hangs up after the goodbye); a barge-in or ``StopPlayback`` has to stop the audio the
caller hears, which it can only do for audio not yet sent (plus a ``stopped`` message that makes
the client drop what it buffered); and ``played_ms`` on an interrupted playback is the position of
the playout clock.

Model: one playout clock per session. A prompt starts when the previous one ends (or now, if the
queue was idle); at time ``now`` the listener is at position ``now - start``. Audio is sent in
``chunk_ms`` slices, each as soon as its start is within ``lead_ms`` of that position: enough to
cover network jitter and the browser's scheduling, little enough that a stop leaves little behind.
The prompt finishes when the clock passes its duration. ``due(now)`` returns what to do;
``next_deadline`` says when to call it again.

PCM here is s16le mono at 16 kHz (``edge.ws.protocol.AUDIO_RATE``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from edge.ws.protocol import AUDIO_RATE, SAMPLE_WIDTH
from schemas.playback_ids import in_family

BYTES_PER_MS = AUDIO_RATE * SAMPLE_WIDTH // 1000  # 32
EPSILON_MS = 1e-3  # float slack: a deadline computed from the clock must count as reached at that time


@dataclass(frozen=True, slots=True)
class Started:
    playback_id: str
    duration_ms: int
    source_uri: str | None


@dataclass(frozen=True, slots=True)
class Chunk:
    playback_id: str
    pcm: bytes


@dataclass(frozen=True, slots=True)
class Finished:
    playback_id: str
    duration_ms: int
    played_ms: int
    interrupted: bool
    reason: str  # completed | barge_in | stopped | hangup | error


PlayoutEvent = Started | Chunk | Finished


@dataclass(slots=True)
class _Prompt:
    playback_id: str
    pcm: bytes
    barge_in: bool
    source_uri: str | None
    start: float | None = None  # playout clock time of its first sample
    sent: int = 0  # bytes sent
    announced: bool = False  # Started reported

    @property
    def duration_ms(self) -> int:
        return len(self.pcm) // BYTES_PER_MS


class Playout:
    __slots__ = ("_queue", "chunk_ms", "lead_ms")

    def __init__(self, *, chunk_ms: int = 100, lead_ms: int = 300) -> None:
        if chunk_ms <= 0 or lead_ms < 0:
            raise ValueError("chunk_ms must be positive and lead_ms not negative")
        self.chunk_ms = chunk_ms
        self.lead_ms = lead_ms
        self._queue: deque[_Prompt] = deque()

    @property
    def playing(self) -> bool:
        return bool(self._queue)

    @property
    def current_id(self) -> str | None:
        return self._queue[0].playback_id if self._queue else None

    @property
    def current_barge_in(self) -> bool:
        return bool(self._queue) and self._queue[0].barge_in

    def enqueue(self, playback_id: str, pcm: bytes, *, barge_in: bool, source_uri: str | None = None) -> None:
        """Queue a prompt behind any playing one (odd trailing byte dropped)."""
        self._queue.append(
            _Prompt(playback_id, pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH], barge_in, source_uri)
        )

    def due(self, now: float) -> list[PlayoutEvent]:
        """Everything to do at ``now``: prompts that start, audio to send, prompts that end."""
        out: list[PlayoutEvent] = []
        step = self.chunk_ms * BYTES_PER_MS
        while self._queue:
            prompt = self._queue[0]
            if prompt.start is None:
                prompt.start = now
            if not prompt.announced:
                prompt.announced = True
                out.append(Started(prompt.playback_id, prompt.duration_ms, prompt.source_uri))
            position_ms = (now - prompt.start) * 1000 + EPSILON_MS
            while prompt.sent < len(prompt.pcm) and prompt.sent / BYTES_PER_MS <= position_ms + self.lead_ms:
                end = min(prompt.sent + step, len(prompt.pcm))
                out.append(Chunk(prompt.playback_id, prompt.pcm[prompt.sent : end]))
                prompt.sent = end
            if position_ms < prompt.duration_ms:
                break
            self._queue.popleft()
            out.append(
                Finished(prompt.playback_id, prompt.duration_ms, prompt.duration_ms, False, "completed")
            )
            if self._queue:  # back to back: the next prompt starts where this one ended
                self._queue[0].start = prompt.start + prompt.duration_ms / 1000
        return out

    @property
    def next_deadline(self) -> float | None:
        """When ``due`` has something to do next (None: nothing queued)."""
        if not self._queue:
            return None
        prompt = self._queue[0]
        if prompt.start is None:
            return 0.0  # at once
        end = prompt.start + prompt.duration_ms / 1000
        if prompt.sent < len(prompt.pcm):
            next_send = prompt.start + (prompt.sent / BYTES_PER_MS - self.lead_ms) / 1000
            return min(next_send, end)
        return end

    def stop(self, now: float, reason: str, playback_id: str | None = None) -> list[Finished]:
        """End the current prompt and drop the queued ones (or only ``playback_id`` and its pieces,
        `schemas.playback_ids`, wherever they are)."""
        out: list[Finished] = []
        keep: deque[_Prompt] = deque()
        for i, prompt in enumerate(self._queue):
            if playback_id is not None and not in_family(prompt.playback_id, playback_id):
                keep.append(prompt)
                continue
            played = 0
            if i == 0 and prompt.start is not None:
                played = max(0, min(prompt.duration_ms, round((now - prompt.start) * 1000)))
            out.append(Finished(prompt.playback_id, prompt.duration_ms, played, True, reason))
        self._queue = keep
        return out

    def barge_in(self, now: float) -> list[Finished]:
        """Caller speech: stop if the current prompt allows it (then queued ones go too)."""
        if not self._queue or not self._queue[0].barge_in:
            return []
        return self.stop(now, "barge_in")
