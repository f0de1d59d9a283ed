from __future__ import annotations

import math

import pytest

from streams.engines.whisper_window import (
    MAX_LENGTH,
    Decoded,
    by_window,
    max_length,
    window_samples,
    window_seconds,
)


@pytest.mark.parametrize(
    ("audio_s", "window_s"),
    [(0.0, 8.0), (2.0, 8.0), (6.0, 8.0), (6.5, 8.5), (12.25, 14.25), (28.0, 30.0)],
)
def test_window_is_8_s_or_the_audio_and_a_2_s_tail(audio_s: float, window_s: float) -> None:
    assert window_seconds(audio_s) == window_s


def test_longer_than_a_window_holds_has_no_window() -> None:
    assert window_seconds(28.001) is None
    assert window_seconds(95.0) is None


def test_window_minimum_is_a_parameter() -> None:
    assert window_seconds(1.0, min_window_s=4.0) == 4.0
    assert window_seconds(3.0, min_window_s=4.0) == 5.0


def test_negative_duration_is_an_error() -> None:
    with pytest.raises(ValueError, match="negative duration"):
        window_seconds(-0.1)


def test_window_samples_are_whole_10_ms_mel_frames() -> None:
    assert window_samples(8.0) == 128_000
    assert window_samples(8.0001) == 128_160  # rounded up: never cut the audio's last frame
    assert window_samples(30.0) == 480_000
    assert all(window_samples(s) % 160 == 0 for s in (0.013, 2.5, 7.77, 29.99))


def test_decode_length_grows_with_the_window_and_stops_at_whisper_context() -> None:
    assert max_length(8.0, 4) == 4 + 120
    assert max_length(14.25, 4) == 4 + math.ceil(14.25 * 15)
    assert max_length(30.0, 4) == MAX_LENGTH
    assert max_length(8.0, 4) < max_length(10.0, 4)


def test_average_log_probability_counts_the_end_token() -> None:
    d = Decoded("hello there", token_count=3, score=-0.4, no_speech_prob=0.01)
    assert d.avg_logprob == pytest.approx(-0.4 * 3 / 4)
    assert d.confidence == pytest.approx(math.exp(-0.3))
    assert d.is_speech


def test_no_text_has_no_confidence() -> None:
    assert Decoded("", 0, 0.0, 0.9).confidence is None


@pytest.mark.parametrize(
    ("no_speech_prob", "score", "speech"),
    [
        (0.9, -2.0, False),  # probably silence and an unlikely text: dropped, as transcribe() does
        (0.9, -0.5, True),  # the text is likely enough to keep despite the no-speech token
        (0.6, -2.0, True),  # the threshold itself is not above it
        (0.1, -3.0, True),
    ],
)
def test_no_speech_rule_is_transcribes(no_speech_prob: float, score: float, speech: bool) -> None:
    # token_count large so avg_logprob ≈ score
    assert Decoded("x", 10_000, score, no_speech_prob).is_speech is speech


def test_utterances_share_a_batch_only_on_the_same_window() -> None:
    batches, too_long = by_window([2.0, 7.0, 0.5, 29.0, 6.0, 7.0, 31.0])
    assert batches == {8.0: [0, 2, 4], 9.0: [1, 5]}
    assert list(batches) == [8.0, 9.0]  # in order of first appearance
    assert too_long == [3, 6]
    assert by_window([]) == ({}, [])
