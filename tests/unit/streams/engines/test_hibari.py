"""hibari, the natural English voice: resampling to the platform's rates, one model per process,
reproducible and thread-safe synthesis, and voices that would need a download refused."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from streams.engines import hibari
from streams.engines.errors import EngineError
from streams.engines.hibari import (
    MODEL_RATE,
    SENTENCE_GAP_S,
    HibariTTS,
    join_sentences,
    loaded_voices,
    to_pcm16,
    trim,
)

HOURS = (
    "We are open Monday to Friday from nine in the morning to six in the evening, "
    "and on Saturday from ten to two. We are closed on Sundays."
)


def _tone(freq: float, seconds: float = 1.0, rate: int = MODEL_RATE) -> npt.NDArray[np.float32]:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _samples(pcm: bytes) -> npt.NDArray[np.float64]:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def _rms(x: npt.NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(x**2)))


def _peak_hz(x: npt.NDArray[np.float64], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum))])


@pytest.mark.parametrize("rate", [8000, 16000])
def test_a_tone_keeps_its_pitch_level_and_length(rate: int) -> None:
    out = _samples(to_pcm16(_tone(1000.0), MODEL_RATE, rate))
    assert abs(len(out) - rate) <= 2
    assert abs(_peak_hz(out, rate) - 1000.0) < 2.0
    middle = out[rate // 10 : -rate // 10]  # away from the filter's edges
    assert _rms(middle) == pytest.approx(0.5 * 32767 / np.sqrt(2), rel=0.01)


def test_what_8_khz_cannot_carry_is_filtered_not_folded() -> None:
    # 5 kHz is above 8 kHz's Nyquist frequency: dropping samples would fold it to 3 kHz at full level.
    out = _samples(to_pcm16(_tone(5000.0), MODEL_RATE, 8000))
    assert _rms(out[800:-800]) < 0.5 * 32767 * 1e-3  # at least 60 dB down
    naive = _tone(5000.0)[::3] * 32767.0
    assert abs(_peak_hz(naive.astype(np.float64), 8000) - 3000.0) < 2.0  # what a decimator would give


def test_full_scale_is_clipped_not_wrapped() -> None:
    loud = np.array([1.5, -1.5, 1.0, -1.0, 0.0], dtype=np.float32)
    assert list(_samples(to_pcm16(loud, 16000, 16000))) == [32767, -32767, 32767, -32767, 0]


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^sample rates must be positive, got 0 and 8000$"):
        to_pcm16(_tone(100.0), 0, 8000)


def _padded(lead_s: float, voiced_s: float, tail_s: float, rate: int = 1000) -> npt.NDArray[np.float32]:
    voiced = np.full(round(voiced_s * rate), 0.1, np.float32)
    return np.concatenate(
        [np.zeros(round(lead_s * rate), np.float32), voiced, np.zeros(round(tail_s * rate), np.float32)]
    )


def test_trim_keeps_a_short_margin_around_the_sound() -> None:
    out = trim(_padded(0.3, 1.0, 0.45), 1000, lead_s=0.03, tail_s=0.08)
    assert out.size == 30 + 1000 + 80
    assert (out[:30] == 0).all() and out[30] == np.float32(0.1) and out[1029] == np.float32(0.1)


def test_trim_keeps_what_is_there_when_the_margin_is_not() -> None:
    assert trim(_padded(0.01, 0.5, 0.0), 1000, lead_s=0.03, tail_s=0.08).size == 10 + 500
    assert trim(np.zeros(100, np.float32), 1000).size == 0


def test_sentences_are_joined_by_one_short_gap() -> None:
    out = join_sentences([_padded(0.3, 1.0, 0.45), np.zeros(50, np.float32), _padded(0.3, 0.5, 0.45)], 1000)
    assert out.size == (30 + 1000 + 80) + round(SENTENCE_GAP_S * 1000) + (30 + 500 + 80)
    assert join_sentences([np.zeros(10, np.float32)], 1000).size == 0


@pytest.fixture(scope="module")
def tts() -> HibariTTS:
    return HibariTTS()


def test_speaks_a_knowledge_answer_at_16_khz(tts: HibariTTS) -> None:
    speech = tts.synthesize(HOURS, "en-US")
    assert (speech.sample_rate, speech.engine) == (16000, "hibari")
    x = _samples(speech.pcm)
    assert 6.0 < len(x) / 16000 < 12.0  # ~29 words at a natural pace
    audible = np.flatnonzero(np.abs(x) > 32767 * 10 ** (-50 / 20))
    assert audible[0] < 0.08 * 16000  # speech from the start, not after hibari's 300 ms of padding
    assert len(x) - audible[-1] < 0.15 * 16000
    assert _rms(x) > 600  # about -35 dBFS or louder
    # Speech energy sits mostly between 100 Hz and 4 kHz, the phone band.
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / 16000)
    assert power[(freqs > 100) & (freqs < 4000)].sum() > 0.8 * power.sum()


def test_8_khz_output_for_a_telephone_line() -> None:
    speech = HibariTTS(sample_rate=8000).synthesize("We are closed on Sundays.", "en-US")
    wide = HibariTTS().synthesize("We are closed on Sundays.", "en-US")
    assert speech.sample_rate == 8000
    assert abs(len(speech.pcm) * 2 - len(wide.pcm)) <= 8  # the same audio at half the rate


def test_the_same_text_gives_the_same_audio(tts: HibariTTS) -> None:
    a = tts.synthesize("You can find us at 12 Harbour Street.", "en-US")
    b = tts.synthesize("You can find us at 12 Harbour Street.", "en-US")
    assert a.pcm == b.pcm  # a redelivered reply yields the very same fact


def test_the_model_is_loaded_once_per_process(tts: HibariTTS) -> None:
    other = HibariTTS(sample_rate=8000)
    assert other._model is tts._model
    assert loaded_voices() == {"heart"}


def test_threads_synthesize_at_once_and_get_what_one_thread_gets(tts: HibariTTS) -> None:
    texts = [
        HOURS,
        "You can find us at 12 Harbour Street.",
        "A puncture repair is fifteen euros.",
        "Goodbye!",
    ]
    serial = [tts.synthesize(t, "en-US").pcm for t in texts] * 2
    results: dict[int, bytes] = {}
    start = threading.Barrier(len(serial))

    def run(i: int) -> None:
        start.wait()
        results[i] = tts.synthesize(texts[i % len(texts)], "en-US").pcm

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(serial))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(serial))] == serial


def test_empty_text_is_an_error(tts: HibariTTS) -> None:
    with pytest.raises(EngineError, match=r"^nothing to synthesize: empty text$"):
        tts.synthesize("  \n", "en-US")


def test_unknown_voice_is_an_error() -> None:
    with pytest.raises(EngineError, match=r"^hibari has no voice 'robot' \(known: heart, "):
        HibariTTS("robot")


def test_a_voice_that_is_not_installed_is_refused_not_downloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIBARI_HOME", str(tmp_path))
    with pytest.raises(
        EngineError, match=r"^hibari voice 'emma' is not installed: copy bf_emma\.int8\.onnx into "
    ):
        HibariTTS("emma")
    assert list(tmp_path.iterdir()) == []
    assert "emma" not in hibari.loaded_voices()
