"""Joining an utterance's chunks for partial transcripts (streams.agents.partials)."""

from __future__ import annotations

from schemas import models as m
from streams.agents.partials import Partials
from streams.dialog.script import CallScript


def chunk(s: CallScript, uid: str, index: int, pcm: bytes, rate: int = 8000) -> m.UtteranceChunkCaptured:
    fact: m.UtteranceChunkCaptured = s.fact(
        m.UtteranceChunkCaptured, utterance_id=uid, index=index, sample_rate=rate, pcm=pcm
    )
    return fact


def test_the_newest_audio_of_each_utterance_waits_oldest_first() -> None:
    s, p = CallScript(), Partials()
    p.add(b"a", chunk(s, "u1", 0, b"11"))
    p.add(b"b", chunk(s, "u2", 0, b"xx"))
    p.add(b"a", chunk(s, "u1", 1, b"22"))  # replaces u1's older audio, and queues behind u2
    first, second = p.next(), p.next()
    assert first is not None and second is not None and p.next() is None
    assert (first.key, first.chunk.utterance_id, first.pcm) == (b"b", "u2", b"xx")
    assert (second.key, second.chunk.index, second.pcm) == (b"a", 1, b"1122")
    p.add(b"a", chunk(s, "u1", 2, b"33"))
    third = p.next()
    assert third is not None and third.pcm == b"112233"  # the whole utterance so far


def test_a_final_ends_the_partials_of_its_utterance() -> None:
    s, p = CallScript(), Partials()
    p.add(b"a", chunk(s, "u1", 0, b"11"))
    assert p.current("u1")
    p.final("u1")
    assert not p.current("u1") and p.next() is None and len(p) == 0
    p.add(b"a", chunk(s, "u1", 1, b"22"))  # a late chunk (redelivery) starts nothing
    assert p.next() is None and len(p) == 0


def test_a_gap_or_a_mid_utterance_start_gives_no_partial() -> None:
    s, p = CallScript(), Partials()
    p.add(b"a", chunk(s, "u1", 1, b"22"))  # joined mid-utterance (restart): no prefix to build on
    assert p.next() is None
    p.add(b"a", chunk(s, "u2", 0, b"11"))
    assert p.next() is not None
    p.add(b"a", chunk(s, "u2", 2, b"33"))  # chunk 1 missing: the join would not be the caller's audio
    assert p.next() is None and len(p) == 0


def test_memory_is_bounded() -> None:
    s, p = CallScript(), Partials(max_utterances=3)
    for i in range(10):
        p.add(b"a", chunk(s, f"u{i}", 0, b"11"))
    assert len(p) == 3
    waiting = []
    while (audio := p.next()) is not None:
        waiting.append(audio.chunk.utterance_id)
    assert waiting == ["u7", "u8", "u9"]
