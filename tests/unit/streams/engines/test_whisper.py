from __future__ import annotations

import hashlib
import re
import wave
from pathlib import Path

import pytest

from streams.engines.errors import EngineError
from streams.engines.stt import Transcript
from streams.engines.whisper import MODEL_SHA256, MODEL_SIZE, WhisperSTT, ensure_model, pcm_to_float

SPEECH = Path(__file__).parents[3] / "fixtures" / "speech"


def _wav(name: str) -> tuple[bytes, int]:
    with wave.open(str(SPEECH / name)) as w:
        return w.readframes(w.getnframes()), w.getframerate()


@pytest.fixture(scope="module")
def stt(tmp_path_factory: pytest.TempPathFactory) -> WhisperSTT:
    return WhisperSTT(tmp_path_factory.mktemp("cache"))


def test_model_is_assembled_verified_and_reused(stt: WhisperSTT) -> None:
    model = stt.model_dir / "model.bin"
    assert model.stat().st_size == MODEL_SIZE
    assert (stt.model_dir / "model.bin.sha256").read_text().strip() == MODEL_SHA256
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    assert digest == MODEL_SHA256
    mtime = model.stat().st_mtime_ns
    assert ensure_model(stt.model_dir.parent) == stt.model_dir
    assert model.stat().st_mtime_ns == mtime  # not rebuilt


def test_transcribes_phone_line_speech(stt: WhisperSTT) -> None:
    pcm, rate = _wav("opening_hours_16k.wav")
    t = stt.transcribe(pcm, rate, "en-US")
    words = t.text.lower()
    assert "opening" in words and "hours" in words
    assert t.language == "en-US"
    assert t.confidence is not None and 0 < t.confidence <= 1


def test_transcribes_8khz_input(stt: WhisperSTT) -> None:
    import numpy as np
    import soxr

    pcm, _ = _wav("goodbye_16k.wav")
    narrow = soxr.resample(np.frombuffer(pcm, "<i2"), 16000, 8000).astype("<i2").tobytes()
    assert "goodbye" in stt.transcribe(narrow, 8000, "en-US").text.lower()


def test_silence_and_nothing(stt: WhisperSTT) -> None:
    assert stt.transcribe(b"", 16000, "en-US").text == ""


def test_odd_pcm_is_an_error() -> None:
    with pytest.raises(EngineError, match=r"^PCM of odd length 3$"):
        pcm_to_float(b"\0\0\0", 16000)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def test_short_window_matches_the_30_s_transcription(stt: WhisperSTT) -> None:
    # The short window is an optimisation, not a different recognizer: same words as transcribe().
    # Punctuation may differ (CTranslate2 4.8: "Thank you, goodbye." against "Thank you. Goodbye.").
    from streams.engines.whisper import pcm_to_float

    for name in ("opening_hours_16k.wav", "goodbye_16k.wav"):
        pcm, rate = _wav(name)
        fast = stt.transcribe(pcm, rate, "en-US")
        with stt._lock:
            padded = stt._transcribe_long(pcm_to_float(pcm, rate), "en-US")
        assert words(fast.text) == words(padded.text) and fast.text


def test_utterance_longer_than_a_window_is_transcribed_whole(stt: WhisperSTT) -> None:
    # 29.5 s: 28 s of silence between a question and a goodbye; no short window holds it
    q, rate = _wav("opening_hours_16k.wav")
    bye, _ = _wav("goodbye_16k.wav")
    gap = b"\0\0" * (int(29.5 * rate) - (len(q) + len(bye)) // 2)
    words = stt.transcribe(q + gap + bye, rate, "en-US").text.lower()
    assert "opening hours" in words and "goodbye" in words


def test_silence_is_no_transcript(stt: WhisperSTT) -> None:
    t = stt.transcribe(b"\0\0" * 16000, 16000, "en-US")
    assert t.text == "" and t.confidence is None


def test_other_language_prompt(stt: WhisperSTT) -> None:
    # The language still forces Whisper's language token: English audio heard as German is not the
    # English transcript (the prompt is not ignored)
    pcm, rate = _wav("opening_hours_16k.wav")
    assert stt.transcribe(pcm, rate, "de-DE").text != stt.transcribe(pcm, rate, "en-US").text


def test_many_utterances_at_once_are_each_transcribed_in_order(stt: WhisperSTT) -> None:
    q, rate = _wav("opening_hours_16k.wav")
    where, _ = _wav("where_are_you_16k.wav")
    bye, _ = _wav("goodbye_16k.wav")
    narrow = b"".join(  # the same question at 8 kHz: another call's rate in the same batch
        int(s).to_bytes(2, "little", signed=True) for s in memoryview(q).cast("h")[::2]
    )
    long_one = q + b"\0\0" * (29 * rate) + bye  # no short window holds it: decoded on its own
    many = stt.transcribe_many(
        [(q, rate, "en-US"), (b"", rate, "en-US"), (long_one, rate, "en-GB"), (where, rate, "en-US"),
         (narrow, 8000, "en-US"), (bye, rate, "en-US")]
    )  # fmt: skip
    assert [t.language for t in many] == ["en-US", "en-US", "en-GB", "en-US", "en-US", "en-US"]
    _same(many[0], stt.transcribe(q, rate, "en-US"))
    assert many[1].text == ""
    assert "opening hours" in many[2].text.lower() and "goodbye" in many[2].text.lower()
    _same(many[3], stt.transcribe(where, rate, "en-US"))
    assert "opening hours" in many[4].text.lower()
    _same(many[5], stt.transcribe(bye, rate, "en-US"))
    assert stt.transcribe_many([]) == []


def _same(batched: Transcript, alone: Transcript) -> None:
    # A batch pads to its widest window and shares the decoder's steps: the same words, the same
    # confidence up to int8 arithmetic in a different batch shape
    assert batched.text == alone.text and batched.text
    assert batched.confidence == pytest.approx(alone.confidence, rel=0.05)


def test_a_longer_utterance_does_not_widen_the_others_window(stt: WhisperSTT) -> None:
    # 7 s (a 9 s window) next to a 2 s question (8 s): each decoded on its own window, as alone
    q, rate = _wav("opening_hours_16k.wav")
    bye, _ = _wav("goodbye_16k.wav")
    longer = q + b"\0\0" * (7 * rate - (len(q) + len(bye)) // 2) + bye
    many = stt.transcribe_many([(longer, rate, "en-US"), (q, rate, "en-US")])
    _same(many[0], stt.transcribe(longer, rate, "en-US"))
    _same(many[1], stt.transcribe(q, rate, "en-US"))


def test_auto_detects_the_language_among_those_the_agent_speaks(stt: WhisperSTT) -> None:
    from streams.engines.espeak import EspeakTTS

    english, rate = _wav("opening_hours_16k.wav")
    turkish = EspeakTTS().synthesize("Çalışma saatleriniz nedir?", "tr")
    heard = stt.transcribe_many([(english, rate, "auto"), (turkish.pcm, turkish.sample_rate, "auto")])
    assert [t.language for t in heard] == ["en", "tr"]
    assert "opening hours" in heard[0].text.lower()
    assert stt.transcribe(b"\0\0" * 16000, 16000, "auto").language == "auto"  # nothing heard: undecided
    # Past a window the first window's language is taken, as for the short ones.
    long = english + b"\0\0" * (31 * rate)
    assert stt.transcribe(long, rate, "auto").language == "en"


def test_a_language_whisper_does_not_know_is_detected_instead_of_failing(stt: WhisperSTT) -> None:
    pcm, rate = _wav("opening_hours_16k.wav")
    heard = stt.transcribe(pcm, rate, "xx-XX")
    assert heard.language == "en" and "opening hours" in heard.text.lower()
