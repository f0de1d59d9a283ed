"""The speech workers' pure functions, with fake engines at the protocol seams."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

from schemas import models as m
from sentiric.eventlog.topics import MAX_MESSAGE_BYTES
from streams.agents import speech
from streams.agents.partials import PartialAudio
from streams.dialog.completeness import normalized
from streams.dialog.script import CallScript, RecordedCall
from streams.engines.dialog import Reply, Turn
from streams.engines.knowledge import load_knowledge
from streams.engines.stt import Transcript
from streams.engines.tts import Speech


class FakeSTT:
    name = "fake-stt"

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, str]] = []

    def transcribe(self, pcm: bytes, sample_rate: int, language: str) -> Transcript:
        self.calls.append((len(pcm), sample_rate, language))
        return Transcript("what are your opening hours", language, 0.9)


class FakeEngine:
    name = "fake-engine"

    def reply(self, text: str, history: Sequence[Turn], knowledge: Sequence[m.KnowledgeEntry]) -> Reply:
        return Reply(f"{text}? ({len(history)} turns)", intent="echo", end_conversation=text == "bye")


class FakeTTS:
    name = "fake-tts"

    def synthesize(self, text: str, language: str) -> Speech:
        tone = (np.sin(np.arange(22050) / 22050 * 2 * np.pi * 440) * 8000).astype("<i2")
        return Speech(tone.tobytes(), 22050)


def test_transcribe_records_engine_latency_and_a_reproducible_id() -> None:
    s = CallScript()
    captured = s.fact(m.UtteranceCaptured, utterance_id="u1", sample_rate=8000, pcm=b"\0\0" * 800)
    stt = FakeSTT()
    a = speech.transcribe(captured, stt, "en-US")
    b = speech.transcribe(captured, stt, "en-US")
    assert stt.calls == [(1600, 8000, "en-US")] * 2
    assert (a.utterance_id, a.text, a.engine, a.source, a.seq) == (
        "u1", "what are your opening hours", "fake-stt", "stt", captured.seq,
    )  # fmt: skip
    assert a.latency_ms >= 0 and a.confidence == 0.9
    assert a.event_id == b.event_id  # a redelivered utterance gives the same fact


def test_provided_text_skips_the_engine() -> None:
    captured = CallScript().fact(m.UtteranceCaptured, utterance_id="u1", text="hello there")
    stt = FakeSTT()
    out = speech.transcribe(captured, stt, "en-US")
    assert stt.calls == [] and out.text == "hello there" and out.engine == "provided"


def test_reply_links_the_utterance_and_carries_the_intent() -> None:
    heard = CallScript().transcribed("u3", "bye")
    out = speech.reply(heard, FakeEngine(), [Turn("agent", "hi")], [])
    assert (out.reply_id, out.utterance_id, out.text) == ("u3:reply", "u3", "bye? (1 turns)")
    assert out.end_conversation and out.intent == "echo" and out.engine == "fake-engine"
    assert out.source == speech.ENGINE_SOURCE


def test_only_final_non_empty_transcripts_want_a_reply() -> None:
    s = CallScript()
    assert speech.wants_reply(s.transcribed("u1", "hi"))
    assert not speech.wants_reply(s.transcribed("u2", "  "))
    assert not speech.wants_reply(s.fact(m.UtteranceTranscribed, text="hi", is_final=False))


class EngineMirror:
    """The dialog engine agent's choice, as `streams.app` makes it: which transcripts it answers."""

    def __init__(self) -> None:
        self.holding = False
        self.answered: list[str] = []

    def see(self, fact: object) -> None:
        if not isinstance(fact, m.UtteranceTranscribed):
            return
        holding = self.holding
        self.holding = speech.holding_after(fact, holding=holding)
        if speech.wants_reply(fact, holding=holding):
            self.answered.append(fact.text)


def test_unfinished_transcripts_are_left_to_the_dialog_which_records_the_whole_turn() -> None:
    """The engine and the reducer agree on the log: each caller turn is answered once, whole."""
    call = RecordedCall()
    call.feed(*call.script.setup(), call.script.established())
    call.play()
    s = call.script
    call.feed(s.transcribed("u1", "My order number is"), s.transcribed("u2", "  "))
    call.feed(s.transcribed("u3", "4 5 6."))  # joined by the dialog
    uid = call.state.pending_utterance
    assert uid is not None
    call.feed(s.replied(uid, "Order 456 ships today."))
    call.play()
    call.feed(s.transcribed("u4", "What are your opening hours?"))  # answered as it is
    call.feed(s.replied("u4", "Nine to five."))
    call.play()
    call.feed(s.transcribed("u5", "I would like to"))
    hold = call.state.timer
    assert hold is not None
    call.feed(s.timer(str(hold.name), hold.armed_seq))  # nothing more came: answered as it is
    engine = EngineMirror()
    for fact in call.log:
        engine.see(fact)
    assert engine.answered == ["My order number is 4 5 6.", "What are your opening hours?", "I would like to"]


def test_synthesize_resamples_to_16k() -> None:
    said = CallScript().replied("u1", "We are open.")
    out = speech.synthesize(said, FakeTTS(), "en-US")
    assert out.sample_rate == 16000
    assert abs(len(out.pcm) // 2 - 16000) < 10
    assert out.reply_id == "u1:reply" and out.engine == "fake-tts" and out.source == "tts"


def test_a_reply_too_long_for_the_log_is_cut() -> None:
    class Endless:
        name = "endless"

        def synthesize(self, text: str, language: str) -> Speech:
            return Speech(np.zeros(16000 * 200, dtype="<i2").tobytes(), 16000)  # 200 s

    out = speech.synthesize(CallScript().replied("u1", "..."), Endless(), "en-US")  # type: ignore[arg-type]
    assert len(out.pcm) == speech.MAX_SPEECH_BYTES < MAX_MESSAGE_BYTES // 2 + 1


def test_history_is_bounded_and_survives_bad_bytes() -> None:
    raw = None
    for i in range(20):
        raw = speech.remember(raw, Turn("caller", f"q{i}"), Turn("agent", f"a{i}"))
    turns = speech.load_history(raw)
    assert len(turns) == speech.HISTORY_TURNS
    assert turns[-1] == Turn("agent", "a19")
    assert speech.load_history(b"{bad") == []


def test_a_partial_transcript_is_not_final_and_derives_from_its_chunk() -> None:
    s = CallScript()
    chunk = s.fact(m.UtteranceChunkCaptured, utterance_id="u1", index=2, sample_rate=8000, pcm=b"\0\0" * 800)
    stt = FakeSTT()
    audio = PartialAudio(b"k", chunk, b"\1\0" * 2400)
    [a] = speech.transcribe_partials([(audio, "en-US")], stt)
    assert stt.calls == [(4800, 8000, "en-US")]  # the utterance so far, not the chunk alone
    assert (a.utterance_id, a.is_final, a.seq, a.pause) == ("u1", False, chunk.seq, False)
    assert a.text == "what are your opening hours"
    assert a.event_id == speech.transcribe_partials([(audio, "en-US")], stt)[0].event_id
    assert not speech.wants_reply(a)  # a preview: nobody answers it


def test_the_calls_language_reaches_stt_engine_and_tts() -> None:
    s = CallScript()
    typed = s.fact(m.UtteranceCaptured, utterance_id="u1", text="calisma saatleriniz nedir")
    assert speech.transcribe(typed, FakeSTT(), "auto").language == "tr"  # typed: the text heuristic
    assert speech.transcribe(typed, FakeSTT(), "en-US").language == "en-US"  # configured: kept
    spoken = s.fact(m.UtteranceCaptured, utterance_id="u2", sample_rate=8000, pcm=b"\0\0" * 80)
    stt = FakeSTT()
    speech.transcribe(spoken, stt, "tr-TR")
    assert stt.calls[0][2] == "tr-TR"

    seen: list[Sequence[m.KnowledgeEntry]] = []

    class Engine(FakeEngine):
        def reply(self, text: str, history: Sequence[Turn], knowledge: Sequence[m.KnowledgeEntry]) -> Reply:
            seen.append(knowledge)
            return super().reply(text, history, knowledge)

    kb = load_knowledge()
    heard = s.fact(m.UtteranceTranscribed, utterance_id="u1", text="saat", language="tr")
    out = speech.reply(heard, Engine(), [], kb)
    assert out.language == "tr" and {e.language for e in seen[0]} == {"tr-TR"}

    languages: list[str] = []

    class TTS(FakeTTS):
        def synthesize(self, text: str, language: str) -> Speech:
            languages.append(language)
            return super().synthesize(text, language)

    speech.synthesize(dataclasses.replace(out, language="tr-TR"), TTS(), "en-US")
    speech.synthesize(dataclasses.replace(out, language=None), TTS(), "en-US")  # older facts: the default
    assert languages == ["tr-TR", "en-US"]


def test_call_language_from_the_stored_dialog() -> None:
    from streams.agents.dialog import Stored
    from streams.dialog.machine import new_state
    from streams.skip import ended_marker

    state = dataclasses.replace(new_state("c1"), language="tr-TR")
    assert speech.call_language(bytes(Stored(state)), "en-US") == "tr-TR"
    assert speech.call_language(None, "en-US") == "en-US"
    assert speech.call_language(b"not json", "en-US") == "en-US"
    assert speech.call_language(ended_marker(0.0), "en-US") == "en-US"


def test_times_are_synthesized_as_words_in_the_replys_language() -> None:
    texts: list[str] = []

    class TTS(FakeTTS):
        def synthesize(self, text: str, language: str) -> Speech:
            texts.append(text)
            return super().synthesize(text, language)

    reply = CallScript().replied("u1", "Saat 18:00'e kadar açığız.")
    out = speech.synthesize(dataclasses.replace(reply, language="tr-TR"), TTS(), "en-US")
    assert texts == ["Saat on sekiz'e kadar açığız."] and out.text == reply.text  # the log keeps the text


def test_a_language_without_a_voice_is_spoken_in_the_default_voice() -> None:
    from streams.engines.errors import EngineError

    class OnlyEnglish(FakeTTS):
        def synthesize(self, text: str, language: str) -> Speech:
            if not language.startswith("en"):
                raise EngineError(f"no voice {language!r}")
            return super().synthesize(text, language)

    reply = dataclasses.replace(CallScript().replied("u1", "Hello"), language="xx-XX")
    assert speech.synthesize(reply, OnlyEnglish(), "en-US").pcm  # heard, not silence
    with pytest.raises(EngineError):  # the default has no voice either: the error stays
        speech.synthesize(reply, OnlyEnglish(), "xx")


class BatchSTT(FakeSTT):
    """An engine that decodes several utterances at once (as Whisper does)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def transcribe_many(self, utterances: Sequence[tuple[bytes, int, str]]) -> list[Transcript]:
        self.batches.append([language for _, _, language in utterances])
        return [Transcript(f"heard {len(pcm)} bytes", language, 0.5) for pcm, _, language in utterances]


def test_a_batch_decodes_the_spoken_utterances_together_and_passes_typed_ones_through() -> None:
    a, b = CallScript("call-a"), CallScript("call-b")
    work = [
        (a.fact(m.UtteranceCaptured, utterance_id="a1", sample_rate=8000, pcm=b"\0\0" * 10), "en-US"),
        (b.fact(m.UtteranceCaptured, utterance_id="b1", sample_rate=8000, pcm=b"", text="typed"), "en-US"),
        (b.fact(m.UtteranceCaptured, utterance_id="b2", sample_rate=8000, pcm=b"\0\0" * 30), "tr-TR"),
    ]
    stt = BatchSTT()
    out = speech.transcribe_batch(work, stt)
    assert stt.batches == [["en-US", "tr-TR"]] and stt.calls == []  # one decode for both spoken ones
    assert [(t.call_id, t.utterance_id, t.text, t.language) for t in out] == [
        ("call-a", "a1", "heard 20 bytes", "en-US"),
        ("call-b", "b1", "typed", "en-US"),
        ("call-b", "b2", "heard 60 bytes", "tr-TR"),
    ]
    assert out[0].latency_ms == out[2].latency_ms and out[1].engine == "provided"
    # the same facts as one at a time would give: a redelivered utterance is still the same fact
    assert out[0].event_id == speech.transcribe(work[0][0], FakeSTT(), "en-US").event_id


def test_an_engine_without_batches_or_a_lone_utterance_goes_one_by_one() -> None:
    s = CallScript()
    one = [(s.fact(m.UtteranceCaptured, utterance_id="u1", sample_rate=8000, pcm=b"\0\0"), "en-US")]
    stt = BatchSTT()
    assert [t.text for t in speech.transcribe_batch(one, stt)] == ["what are your opening hours"]
    assert stt.batches == [] and len(stt.calls) == 1
    plain = FakeSTT()
    two = [*one, (s.fact(m.UtteranceCaptured, utterance_id="u2", sample_rate=8000, pcm=b"\0\0"), "en-US")]
    assert len(speech.transcribe_batch(two, plain)) == 2 and len(plain.calls) == 2


def test_pause_chunks_of_several_calls_are_decoded_in_one_batch() -> None:
    a, b = CallScript("call-a"), CallScript("call-b")
    chunks = [
        a.fact(m.UtteranceChunkCaptured, utterance_id="a1", index=0, sample_rate=8000, pcm=b"", pause=True),
        b.fact(m.UtteranceChunkCaptured, utterance_id="b1", index=1, sample_rate=8000, pcm=b"", pause=True),
    ]
    work = [
        (PartialAudio(b"a", chunks[0], b"\0\0" * 10), "en-US"),
        (PartialAudio(b"b", chunks[1], b"\0\0" * 30), "tr-TR"),
    ]
    stt = BatchSTT()
    out = speech.transcribe_partials(work, stt)
    assert stt.batches == [["en-US", "tr-TR"]] and stt.calls == []
    assert [(t.call_id, t.utterance_id, t.text, t.is_final, t.pause) for t in out] == [
        ("call-a", "a1", "heard 20 bytes", False, True),
        ("call-b", "b1", "heard 60 bytes", False, True),
    ]
    assert out[0].latency_ms == out[1].latency_ms
    # the same facts as one at a time: a redelivered chunk's partial is still the same fact
    assert out[1].event_id == speech.transcribe_partials(work[1:], FakeSTT())[0].event_id


def test_a_final_heard_at_the_pause_is_the_utterances_own_fact() -> None:
    s = CallScript()
    captured = s.fact(m.UtteranceCaptured, utterance_id="u1", sample_rate=8000, pcm=b"\1\0" * 800)
    chunk = s.fact(m.UtteranceChunkCaptured, utterance_id="u1", index=0, sample_rate=8000, pcm=b"\1\0" * 780,
                   pause=True)  # fmt: skip
    [paused] = speech.transcribe_partials([(PartialAudio(b"k", chunk, chunk.pcm), "en-US")], FakeSTT())
    final = speech.transcribed_at_pause(captured, paused)
    decoded = speech.transcribe(captured, FakeSTT(), "en-US")
    assert (final.text, final.language, final.engine) == (decoded.text, decoded.language, decoded.engine)
    assert (final.event_id, final.seq, final.is_final, final.pause) == (
        decoded.event_id,
        decoded.seq,
        True,
        False,
    )
    assert final.latency_ms == paused.latency_ms and speech.wants_reply(final)


def test_an_early_answer_dropped_unheard_leaves_the_history() -> None:
    raw = speech.remember(None, Turn("caller", "Hello."), Turn("agent", "Hi, how can I help?"))
    raw = speech.remember(raw, Turn("caller", "What are your opening hours?"), Turn("agent", "9 to 5."))
    kept = speech.forget_answer(raw, normalized("what are your opening hours"))
    assert kept is not None and speech.load_history(kept) == [
        Turn("caller", "Hello."),
        Turn("agent", "Hi, how can I help?"),
    ]
    assert speech.forget_answer(raw, normalized("where is your shop")) is None  # another exchange: kept
    assert speech.forget_answer(None, normalized("hello")) is None


def test_the_engine_does_not_answer_again_a_final_the_dialog_answered_early() -> None:
    """The engine's mirror of the early answer: the final transcript with the early turn's words is
    the same turn (the dialog keeps its answer); other words, a partial saying more, or the edge
    dropping the prepared answer (the caller spoke on) mean the final is to be answered."""
    s = CallScript()
    early = s.fact(m.UtteranceTranscribed, utterance_id="c:early:1", text="Opening hours?", engine="partial",
                   source="dialog", is_final=True)  # fmt: skip
    words = speech.early_words_after(early, None)
    assert words == "opening hours"
    same = s.transcribed("u1", "opening hours.")
    assert speech.answered_early(same, words) and speech.early_words_after(same, words) is None
    assert not speech.answered_early(s.transcribed("u1", "Opening hours on Sunday?"), words)
    assert not speech.answered_early(same, None)
    more = s.fact(m.UtteranceTranscribed, utterance_id="u1", text="opening hours on", is_final=False)
    assert speech.early_words_after(more, words) is None
    again = s.fact(m.UtteranceTranscribed, utterance_id="u1", text="Opening hours", is_final=False)
    assert speech.early_words_after(again, words) == words
    dropped = s.fact(
        m.PlaybackFinished, playback_id="c:early:1:reply", interrupted=True, reason="caller_resumed"
    )
    assert speech.early_words_after(dropped, words) is None
    played = s.fact(m.PlaybackFinished, playback_id="c:early:1:reply", reason="completed")
    assert speech.early_words_after(played, words) == words
