"""VAD endpointing on real (espeak-ng, through G.711) speech: Silero VAD by default, webrtcvad too.

A neural VAD does not call a synthetic harmonic buzz speech (Silero scores it below 0.5 throughout),
so these tests are built from the speech fixtures, silence and white noise.
"""

from __future__ import annotations

import itertools
import wave
from pathlib import Path

import numpy as np
import pytest

from edge.media.vad.classifier import VadModel
from edge.media.vad.endpointer import (
    Endpointer,
    EndpointerConfig,
    EndpointerEvent,
    SpeechDiscarded,
    SpeechResumed,
    SpeechStarted,
    UtteranceEnded,
    UtteranceGrew,
)
from edge.media.vad.silero import SileroBatch

FIXTURES = Path(__file__).parents[4] / "fixtures"
MODELS: list[VadModel] = ["silero", "webrtcvad"]


def load_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


# espeak-ng "what are your opening hours", 8 kHz, 1.86 s: audible (above -50 dBFS) in its first 1460 ms.
SPEECH = load_wav(FIXTURES / "media" / "opening_hours_8k.wav")
AUDIBLE_MS = 1460


def silence(ms: int, rate: int = 8000) -> np.ndarray:
    return np.zeros(rate * ms // 1000, dtype=np.int16)


def noise(ms: int, dbfs: float, seed: int = 7) -> np.ndarray:
    rms = 32768 * 10 ** (dbfs / 20)
    return np.random.default_rng(seed).normal(0, rms, 8 * ms)


def noisy(clean: np.ndarray, dbfs: float) -> np.ndarray:
    return np.clip(clean + noise(clean.size // 8, dbfs), -32768, 32767).astype(np.int16)


def run(endpointer: Endpointer, pcm: np.ndarray) -> list[tuple[int, EndpointerEvent]]:
    step = endpointer.config.sample_rate // 50
    events = []
    for i in range(0, pcm.size - step + 1, step):
        now_ms = i * 1000 // endpointer.config.sample_rate
        events += [(now_ms, e) for e in endpointer.feed(pcm[i : i + step], now_ms)]
    return events


def kinds(events: list[tuple[int, EndpointerEvent]]) -> list[type]:
    return [type(e) for _, e in events]


@pytest.mark.parametrize("model", MODELS)
def test_silence_gives_no_events(model: VadModel) -> None:
    assert run(Endpointer(EndpointerConfig(model=model)), silence(3000)) == []


@pytest.mark.parametrize("model", MODELS)
def test_one_utterance_with_pre_and_post_roll(model: VadModel) -> None:
    pcm = np.concatenate([silence(500), SPEECH, silence(1000)])
    events = run(Endpointer(EndpointerConfig(model=model)), pcm)
    assert kinds(events) == [SpeechStarted, UtteranceEnded]
    emitted_at, started = events[0]
    assert isinstance(started, SpeechStarted)
    # Onset within two Silero windows of the sound, announced (barge-in) 60 ms of speech later.
    assert 500 <= started.at_ms <= 564 and emitted_at == started.at_ms + 40
    emitted_at, ended = events[1]
    assert isinstance(ended, UtteranceEnded)
    assert ended.reason == "silence" and ended.start_ms == started.at_ms - 200  # 200 ms pre-roll
    # The VAD's own hangover after the last word does not count: the energy gate ends the speech
    # where the sound does, 200 ms of post-roll follow, and 700 ms of silence end the utterance.
    assert ended.end_ms == 500 + AUDIBLE_MS + 200
    assert emitted_at == 500 + AUDIBLE_MS + 700 - 20  # the frame completing 700 ms of silence
    assert np.array_equal(ended.samples, pcm[ended.start_ms * 8 : ended.end_ms * 8])


def test_unvoiced_tail_is_speech() -> None:
    """A final hiss (an "s") after the voice keeps the utterance open though the VAD may call it noise."""
    hiss = noise(160, -30).astype(np.int16)
    speech = SPEECH[: AUDIBLE_MS * 8]
    events = run(Endpointer(), np.concatenate([silence(500), speech, hiss, silence(1200)]))
    emitted_at, ended = events[-1]
    assert isinstance(ended, UtteranceEnded)
    end = 500 + AUDIBLE_MS + 160
    assert ended.end_ms == end + 200 and emitted_at == end + 700 - 20


def test_a_pause_mid_sentence_is_one_utterance() -> None:
    """Two phrases 400 ms apart (shorter than end_silence_ms) are one utterance, not two."""
    second = load_wav(FIXTURES / "speech" / "where_are_you_16k.wav")[::2]  # ≤ 4 kHz content: plain decimation
    pcm = np.concatenate([silence(500), SPEECH[: AUDIBLE_MS * 8], silence(400), second, silence(1500)])
    events = run(Endpointer(), pcm)
    assert kinds(events) == [SpeechStarted, UtteranceEnded]
    ended = events[1][1]
    assert isinstance(ended, UtteranceEnded) and ended.duration_ms > AUDIBLE_MS + 400 + 500


def test_end_on_a_noisy_line_at_15_db_snr() -> None:
    """Speech at -14 dBFS in white noise 15 dB below it (-29 dBFS): Silero calls the noise noise, so
    the floor is learnt while idle and the end is where the voice stops. (webrtcvad calls every frame
    of noise this loud speech, so its utterance would open at once and run to max_utterance_ms.)"""
    loud = SPEECH[: AUDIBLE_MS * 8] * 2.0  # +6 dB
    pcm = noisy(np.concatenate([silence(1500), loud, silence(1500)]), -29)
    events = [e for _, e in run(Endpointer(), pcm)]
    assert kinds([(0, e) for e in events]) == [SpeechStarted, UtteranceEnded]
    started, ended = events
    assert isinstance(started, SpeechStarted) and 1500 <= started.at_ms <= 1564
    assert isinstance(ended, UtteranceEnded) and ended.reason == "silence"
    # The last ~100 ms of the fixture (the fading "s") are within 6 dB of this noise: not audible.
    assert -120 <= ended.end_ms - (1500 + AUDIBLE_MS + 200) <= 60


def test_noise_alone_is_not_speech() -> None:
    """Ten seconds of white noise at -29 dBFS (the 15 dB SNR line above, with nobody talking)."""
    assert run(Endpointer(), noisy(silence(10_000), -29)) == []


@pytest.mark.parametrize("aggressiveness", [0, 1, 2, 3])
def test_webrtcvad_end_on_a_quiet_noisy_line(aggressiveness: int) -> None:
    """webrtcvad on -50 dBFS noise (29 dB below the speech): the end is where the voice stops (webrtcvad's own
    decision comes later), and a noise burst at the very start of the line (before any floor is known)
    is discarded, not sent as an utterance."""
    pcm = noisy(np.concatenate([silence(1500), SPEECH[: AUDIBLE_MS * 8], silence(1500)]), -50)
    config = EndpointerConfig(model="webrtcvad", aggressiveness=aggressiveness)
    events = [e for _, e in run(Endpointer(config), pcm)]
    ended = [e for e in events if isinstance(e, UtteranceEnded)]
    assert len(ended) == 1 and ended[0].reason == "silence"
    assert abs(ended[0].end_ms - (1500 + AUDIBLE_MS + 200)) <= 60
    assert all(isinstance(e, SpeechStarted | SpeechDiscarded) for e in events if e is not ended[0])


def test_speech_shorter_than_the_minimum_is_discarded() -> None:
    config = EndpointerConfig(min_utterance_ms=AUDIBLE_MS + 300)
    events = run(Endpointer(config), np.concatenate([silence(400), SPEECH, silence(1000)]))
    assert kinds(events) == [SpeechStarted, SpeechDiscarded]
    discarded = events[1][1]
    assert isinstance(discarded, SpeechDiscarded)
    assert 400 <= discarded.start_ms <= 464 and abs(discarded.end_ms - (400 + AUDIBLE_MS)) <= 60


def test_max_length_cuts_and_restarts() -> None:
    config = EndpointerConfig(max_utterance_ms=1000, end_silence_ms=300)
    events = run(Endpointer(config), np.concatenate([silence(500), SPEECH, silence(1000)]))
    got = [(type(e).__name__, getattr(e, "reason", None)) for _, e in events]
    assert got == [
        ("SpeechStarted", None),
        ("UtteranceEnded", "max_length"),
        ("SpeechStarted", None),
        ("UtteranceEnded", "silence"),
    ]
    first, second = events[1][1], events[3][1]
    assert isinstance(first, UtteranceEnded) and isinstance(second, UtteranceEnded)
    assert first.duration_ms == 1000
    assert second.start_ms == first.end_ms  # continues where the cut was, nothing lost or repeated


@pytest.mark.parametrize("model", MODELS)
def test_wideband_16k(model: VadModel) -> None:
    speech = load_wav(FIXTURES / "speech" / "opening_hours_16k.wav")
    config = EndpointerConfig(sample_rate=16000, model=model)
    events = run(Endpointer(config), np.concatenate([silence(300, 16000), speech, silence(900, 16000)]))
    assert kinds(events) == [SpeechStarted, UtteranceEnded]
    ended = events[-1][1]
    assert isinstance(ended, UtteranceEnded) and ended.sample_rate == 16000
    assert ended.samples.size == (ended.end_ms - ended.start_ms) * 16


def test_flush_closes_utterance_at_stream_end() -> None:
    endpointer = Endpointer()
    ((_, started),) = run(endpointer, np.concatenate([silence(200), SPEECH[: 1000 * 8]]))
    assert isinstance(started, SpeechStarted) and endpointer.in_speech
    (ended,) = endpointer.flush(1200)
    assert isinstance(ended, UtteranceEnded) and ended.reason == "stream_end"
    assert (ended.start_ms, ended.end_ms) == (started.at_ms - 200, 1200)
    assert not endpointer.in_speech and endpointer.flush(1220) == []


def test_reset_forgets_a_half_heard_onset() -> None:
    """After a gap (reset), the frames before it do not count towards the next onset."""
    frames = np.concatenate([silence(200), SPEECH[: 1000 * 8]]).reshape(-1, 160)
    endpointer = Endpointer()
    onset = next(i for i, f in enumerate(frames) if endpointer.feed(f, i * 20))
    fresh = Endpointer()
    for i, frame in enumerate(frames[:onset]):
        assert fresh.feed(frame, i * 20) == []
    fresh.reset()  # the frame that completed the onset above now starts from nothing
    later = [i for i in range(onset, len(frames)) if fresh.feed(frames[i], i * 20)]
    assert later and later[0] >= onset + 2  # start_ms (3 frames) of speech again, after the reset


@pytest.mark.parametrize("model", MODELS)
def test_real_speech_is_one_utterance(model: VadModel) -> None:
    pcm = np.concatenate([silence(600), SPEECH, silence(1500)])
    events = [e for _, e in run(Endpointer(EndpointerConfig(model=model)), pcm)]
    assert [type(e) for e in events] == [SpeechStarted, UtteranceEnded]
    started, ended = events
    assert isinstance(started, SpeechStarted) and isinstance(ended, UtteranceEnded)
    assert 600 <= started.at_ms <= 700
    assert ended.reason == "silence"
    assert 1500 <= ended.duration_ms <= 2500
    # the utterance holds (nearly) all of the speech energy
    speech_energy = float(np.sum(SPEECH.astype(np.float64) ** 2))
    assert float(np.sum(ended.samples.astype(np.float64) ** 2)) > 0.98 * speech_energy


def test_real_speech_resampled_to_16k() -> None:
    from edge.media.codecs.resample import upsample_8k_to_16k

    pcm = upsample_8k_to_16k(np.concatenate([silence(600), SPEECH, silence(1500)]))
    events = [e for _, e in run(Endpointer(EndpointerConfig(sample_rate=16000)), pcm)]
    assert [type(e) for e in events] == [SpeechStarted, UtteranceEnded]


def test_input_validation() -> None:
    endpointer = Endpointer()
    with pytest.raises(ValueError, match=r"VAD frame must be 20 ms \(320 bytes at 8000 Hz\), got 318 bytes"):
        endpointer.feed(b"\x00" * 318, 0)
    with pytest.raises(TypeError, match="PCM frame must be int16, got float64"):
        endpointer.feed(np.zeros(160), 0)
    with pytest.raises(ValueError, match="VAD sample rate must be 8000 or 16000, got 44100"):
        EndpointerConfig(sample_rate=44100)
    with pytest.raises(ValueError, match=r"VAD aggressiveness must be 0\.\.3, got 4"):
        EndpointerConfig(aggressiveness=4)
    with pytest.raises(ValueError, match="end_silence_ms must be at least 20 ms"):
        EndpointerConfig(end_silence_ms=0)
    with pytest.raises(ValueError, match="VAD model must be one of silero, webrtcvad, got 'rnnoise'"):
        EndpointerConfig(model="rnnoise")
    with pytest.raises(ValueError, match=r"VAD threshold must be in \(0\.15, 1\), got 0\.1"):
        EndpointerConfig(threshold=0.1)


@pytest.mark.parametrize("model", MODELS)
def test_push_and_settle_in_lock_step_over_a_batch_equal_feed(model: VadModel) -> None:
    """Many endpointers sharing one Silero batch, each tick: push every stream's frame, run the batch
    once, settle every stream (the media clock's receive, batch and settle phases). Every stream's
    events are those of its own endpointer fed alone, at the same frames."""
    clips = [
        np.concatenate([silence(300 + 70 * k), SPEECH, silence(900)])
        if k % 3
        else noisy(np.concatenate([silence(200), SPEECH[:14_400], silence(800)]), -45 + k)
        for k in range(6)
    ]
    batch = SileroBatch()
    together = [Endpointer(EndpointerConfig(model=model), batch=batch) for _ in clips]
    alone = [Endpointer(EndpointerConfig(model=model)) for _ in clips]
    got: list[list[tuple[int, EndpointerEvent]]] = [[] for _ in clips]
    ticks = max(c.size for c in clips) // 160
    for t in range(ticks):
        for k, clip in enumerate(clips):
            if (t + 1) * 160 <= clip.size:
                together[k].push(clip[t * 160 : (t + 1) * 160], t * 20)
        batch.run()
        for k, endpointer in enumerate(together):
            got[k] += [(t * 20, e) for e in endpointer.settle()]
    for k, clip in enumerate(clips):
        assert got[k] == run(alone[k], clip)
        assert SpeechStarted in kinds(got[k]) and UtteranceEnded in kinds(got[k])
    if model == "silero":
        assert batch.runs < batch.windows / 4


def test_a_frame_pushed_twice_or_flushed_unsettled_loses_no_event() -> None:
    """``push`` without ``settle`` settles the previous frame (its events come with the next settle);
    ``flush`` settles a pushed frame before closing."""
    pcm = np.concatenate([silence(300), SPEECH, silence(900)])
    batch = SileroBatch()
    endpointer, reference = Endpointer(batch=batch), Endpointer()
    events = []
    for i in range(0, pcm.size - 159, 160):
        endpointer.push(pcm[i : i + 160], i // 8)
        if i % 480 == 0:  # settle only every third frame
            events += endpointer.settle()
    events += endpointer.flush(pcm.size // 8)
    expected = [e for _, e in run(reference, pcm)] + reference.flush(pcm.size // 8)
    assert events == expected and UtteranceEnded in [type(e) for e in events]


def test_the_speech_onset_does_not_lift_the_noise_floor_and_cut_the_last_syllables() -> None:
    """Whatever the silence before the speech, its end is where the sound ends. The frames just before
    an onset are speech Silero has not called yet; sampled into the noise floor (every 4th idle frame),
    one lifted it to a few dB below the speech, and the fading end was taken for silence: 200 or 220 ms
    of silence before this fixture cut 80-120 ms from its end (the "is" of a neural voice's "my order
    number is" went entirely)."""
    for lead in range(100, 420, 20):
        pcm = np.concatenate([silence(lead), SPEECH, silence(1500)]).astype(np.int16)
        ended = [e for _, e in run(Endpointer(), pcm) if isinstance(e, UtteranceEnded)]
        assert len(ended) == 1, lead
        assert -40 <= ended[0].end_ms - 200 - (lead + AUDIBLE_MS) <= 20, (lead, ended[0].end_ms)


def _chunks(events: list[tuple[int, EndpointerEvent]]) -> list[UtteranceGrew]:
    return [e for _, e in events if isinstance(e, UtteranceGrew)]


@pytest.mark.parametrize("model", MODELS)
def test_chunks_of_an_utterance_in_progress_join_into_a_prefix_of_it(model: VadModel) -> None:
    """Partials: the audio so far, at least every chunk_ms of speech, never past the final's audio."""
    second = load_wav(FIXTURES / "speech" / "where_are_you_16k.wav")[::2]
    pcm = np.concatenate([silence(500), SPEECH[: AUDIBLE_MS * 8], silence(400), second, silence(1500)])
    events = run(Endpointer(EndpointerConfig(model=model, chunk_ms=500)), pcm)
    assert kinds(events)[0] is SpeechStarted and kinds(events)[-1] is UtteranceEnded
    chunks, ended = _chunks(events), events[-1][1]
    assert isinstance(ended, UtteranceEnded)
    assert len(chunks) >= 3 and [c.index for c in chunks] == list(range(len(chunks)))
    joined = b"".join(c.pcm for c in chunks)
    assert ended.pcm.startswith(joined) and len(joined) < len(ended.pcm)
    assert chunks[0].start_ms == ended.start_ms
    for before, after in itertools.pairwise(chunks):
        assert after.start_ms == before.end_ms  # contiguous: nothing lost or repeated
    for chunk in chunks:
        assert len(chunk.pcm) == (chunk.end_ms - chunk.start_ms) * 8 * 2
        assert chunk.end_ms - chunk.start_ms >= 500
    # the chunk events come while the caller speaks, each at the moment its audio ends
    assert all(at + 20 == c.end_ms for at, c in events if isinstance(c, UtteranceGrew))


def test_no_chunks_unless_asked_for() -> None:
    pcm = np.concatenate([silence(600), SPEECH, silence(1500)])
    assert kinds(run(Endpointer(), pcm)) == [SpeechStarted, UtteranceEnded]


def test_chunks_restart_with_each_utterance() -> None:
    pcm = np.concatenate([silence(500), SPEECH, silence(1000), SPEECH, silence(1000)])
    events = run(Endpointer(EndpointerConfig(chunk_ms=300)), pcm)
    ends = [i for i, (_, e) in enumerate(events) if isinstance(e, UtteranceEnded)]
    assert len(ends) == 2
    second = _chunks(events[ends[0] + 1 :])
    assert second and second[0].index == 0


def test_a_loud_neural_voice_whose_onset_silero_flags_late_is_heard_whole() -> None:
    """hibari's "I want to talk to a person." through G.711 (1.34 s, from -25 dBFS at its first
    frame): Silero flags it 240 ms in. When the noise floor followed those unflagged frames, it rose
    to -25 dBFS, the whole question read as silence and was discarded (SpeechDiscarded twice)."""
    person = load_wav(FIXTURES / "media" / "talk_to_a_person_8k.wav")
    events = run(Endpointer(), np.concatenate([silence(200), person, silence(1500)]))
    assert kinds(events) == [SpeechStarted, UtteranceEnded]
    ended = events[1][1]
    assert isinstance(ended, UtteranceEnded) and ended.reason == "silence"
    assert ended.start_ms <= 200 and ended.end_ms >= 200 + len(person) // 8  # every word, post-roll


# --- pauses: answers prepared while the caller may still go on ---------------------------------------


def test_a_pause_sends_a_pause_chunk_and_speech_after_it_resumes() -> None:
    """Two phrases 400 ms apart: a pause chunk 150 ms into the pause, SpeechResumed when the second
    phrase starts, another pause chunk 150 ms after it ends, then the utterance (700 ms end silence)."""
    second = load_wav(FIXTURES / "speech" / "where_are_you_16k.wav")[::2]
    first_end = 500 + AUDIBLE_MS
    pcm = np.concatenate([silence(500), SPEECH[: AUDIBLE_MS * 8], silence(400), second, silence(1500)])
    events = run(Endpointer(EndpointerConfig(chunk_ms=500, pause_ms=150)), pcm)
    assert kinds(events)[0] is SpeechStarted and kinds(events)[-1] is UtteranceEnded
    assert kinds(events).count(SpeechStarted) == 1 and kinds(events).count(UtteranceEnded) == 1
    marks = [(at, e) for at, e in events if isinstance(e, SpeechResumed) or getattr(e, "pause", False)]
    # pause, resumed, pause, resumed, ...: strictly alternating, ending on the pause that ends the turn
    assert [isinstance(e, SpeechResumed) for _, e in marks] == [i % 2 == 1 for i in range(len(marks))]
    assert isinstance(marks[-1][1], UtteranceGrew)
    at_gap = [(at, e) for at, e in marks if first_end < at + 20 <= first_end + 400 + 120]
    assert [type(e) for _, e in at_gap] == [UtteranceGrew, SpeechResumed]
    (pause_at, pause), (_, resumed) = at_gap
    assert isinstance(pause, UtteranceGrew) and isinstance(resumed, SpeechResumed)
    assert first_end + 150 <= pause_at + 20 <= first_end + 150 + 60  # 150 ms after the last audible frame
    assert pause.end_ms == pause_at + 20  # the audio up to now, silence included
    assert first_end + 400 <= resumed.at_ms <= first_end + 400 + 120
    ended = events[-1][1]
    assert isinstance(ended, UtteranceEnded)
    last_pause_at = marks[-1][0]
    assert ended.end_ms - 200 + 160 == last_pause_at + 20  # 150 ms, counted in whole 20 ms frames: 160
    joined = b"".join(c.pcm for c in _chunks(events))
    assert ended.pcm.startswith(joined)  # a pause chunk keeps the chunks a prefix of the utterance


def test_no_pause_chunks_without_pause_ms_or_without_chunks() -> None:
    pcm = np.concatenate([silence(500), SPEECH, silence(1500)])
    for config in (EndpointerConfig(chunk_ms=500), EndpointerConfig(pause_ms=150)):
        events = run(Endpointer(config), pcm)
        assert not any(getattr(e, "pause", False) or isinstance(e, SpeechResumed) for _, e in events)


def test_pause_ms_must_end_before_the_utterance_and_inside_its_post_roll() -> None:
    with pytest.raises(ValueError, match="pause_ms"):
        EndpointerConfig(chunk_ms=500, pause_ms=250)  # longer than the 200 ms post-roll
    with pytest.raises(ValueError, match="pause_ms"):
        EndpointerConfig(chunk_ms=500, pause_ms=100, end_silence_ms=100)
    assert EndpointerConfig(chunk_ms=500, pause_ms=150, end_silence_ms=200).pause_ms == 150
