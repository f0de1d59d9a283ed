"""How a short utterance is decoded by Whisper: the window it is padded to and the decoding options.

Whisper was trained on 30 s windows, and `WhisperModel.transcribe()` pads every utterance to one: the
encoder then spends most of its time on silence (822 ms p50 after a 2 s question ends, issue 13).
CTranslate2's Whisper encoder takes shorter inputs, so an utterance is padded only to `window_s`
(8 s, or the audio plus 2 s of silence for longer ones — the tail of silence keeps the decoder from
hallucinating past the last word, as the 30 s padding did) and decoded with `generate()`: the same
weights, ~108 ms p50 and a lower WER on phone-band clips (issue 13's measurement, and bench/stt_bench.py).

Pure functions; the engine (streams.engines.whisper) does the I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

SAMPLE_RATE: Final = 16000
FRAMES_PER_S: Final = 100  # Whisper's log-mel hop is 10 ms
MAX_WINDOW_S: Final = 30.0  # the encoder's positional embeddings end here
MIN_WINDOW_S: Final = 8.0
TAIL_S: Final = 2.0
MAX_LENGTH: Final = 448  # Whisper's decoder context, prompt included
TOKENS_PER_S: Final = 15  # ~2.5x the fastest speech (~6 tokens/s): a bound on a hallucinating loop
# transcribe()'s defaults for dropping a window that is probably not speech: the no-speech token's
# probability above this, unless the text's average log-probability is above LOG_PROB_THRESHOLD.
NO_SPEECH_THRESHOLD: Final = 0.6
LOG_PROB_THRESHOLD: Final = -1.0


def window_seconds(audio_s: float, *, min_window_s: float = MIN_WINDOW_S) -> float | None:
    """The window an utterance of `audio_s` seconds is padded to, or None when it does not fit in one
    (longer than 30 s less the tail: the caller decodes it the long way, in 30 s windows)."""
    if audio_s < 0:
        raise ValueError(f"negative duration {audio_s}")
    window = max(min_window_s, audio_s + TAIL_S)
    if window > MAX_WINDOW_S:
        return None
    return window


def by_window(durations_s: Sequence[float]) -> tuple[dict[float, list[int]], list[int]]:
    """Utterances decoded together: indexes of those sharing a window (one batch each, in order of
    first appearance), and those too long for one. Each keeps its own window rather than the widest
    of the batch: padding a 2-s question to 10 s costs words (bench/stt_bench.py)."""
    batches: dict[float, list[int]] = {}
    too_long: list[int] = []
    for i, seconds in enumerate(durations_s):
        window = window_seconds(seconds)
        if window is None:
            too_long.append(i)
        else:
            batches.setdefault(window, []).append(i)
    return batches, too_long


def window_samples(window_s: float) -> int:
    """Samples at 16 kHz in a window: a whole number of mel frames (10 ms)."""
    return math.ceil(window_s * FRAMES_PER_S) * (SAMPLE_RATE // FRAMES_PER_S)


def max_length(window_s: float, prompt_len: int) -> int:
    """The decode length bound (prompt included) for a window: enough for any speech that fits in
    it, short enough that a repetition loop ends in tens of tokens rather than 448."""
    return min(MAX_LENGTH, prompt_len + math.ceil(window_s * TOKENS_PER_S))


@dataclass(frozen=True, slots=True)
class Decoded:
    """One window's result as `generate()` returns it, reduced to what the transcript needs."""

    text: str
    token_count: int
    score: float  # cumulative log-probability / length (generate()'s score with length_penalty 1)
    no_speech_prob: float

    @property
    def avg_logprob(self) -> float:
        # faster-whisper's own formula (the end-of-text token counted), so confidences stay comparable
        return self.score * self.token_count / (self.token_count + 1)

    @property
    def is_speech(self) -> bool:
        return not (self.no_speech_prob > NO_SPEECH_THRESHOLD and self.avg_logprob <= LOG_PROB_THRESHOLD)

    @property
    def confidence(self) -> float | None:
        return math.exp(self.avg_logprob) if self.token_count else None
