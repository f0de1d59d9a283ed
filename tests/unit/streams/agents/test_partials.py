"""Joining an utterance's chunks for partial transcripts (streams.agents.partials)."""

from __future__ import annotations

import pytest

from schemas import models as m
from streams.agents.partials import MAX_PAUSE_BATCH, PartialAudio, Partials
from streams.dialog.script import CallScript


def chunk(
    s: CallScript, uid: str, index: int, pcm: bytes, rate: int = 8000, *, pause: bool = False
) -> m.UtteranceChunkCaptured:
    fact: m.UtteranceChunkCaptured = s.fact(
        m.UtteranceChunkCaptured, utterance_id=uid, index=index, sample_rate=rate, pcm=pcm, pause=pause
    )
    return fact


class Decoder:
    """Takes from ``Partials`` as the worker's decoder does, on a clock of its own."""

    def __init__(self, p: Partials) -> None:
        self.p, self.now = p, 0.0

    def next(self, took: float = 0.0) -> PartialAudio | None:
        """One audio, decoded in ``took`` seconds (None: nothing may be decoded now)."""
        batch = self.p.take(self.now)
        assert len(batch) <= 1
        if batch:
            self.p.decoded(batch, self.now, self.now + took)
            self.now += took
        return batch[0] if batch else None


def test_the_newest_audio_of_each_utterance_waits_oldest_first() -> None:
    s, p = CallScript(), Partials()
    d = Decoder(p)
    p.add(b"a", chunk(s, "u1", 0, b"11"))
    p.add(b"b", chunk(s, "u2", 0, b"xx"))
    p.add(b"a", chunk(s, "u1", 1, b"22"))  # replaces u1's older audio, and queues behind u2
    first, second = d.next(), d.next()
    assert first is not None and second is not None and d.next() is None
    assert (first.key, first.chunk.utterance_id, first.pcm) == (b"b", "u2", b"xx")
    assert (second.key, second.chunk.index, second.pcm) == (b"a", 1, b"1122")
    p.add(b"a", chunk(s, "u1", 2, b"33"))
    third = d.next()
    assert third is not None and third.pcm == b"112233"  # the whole utterance so far


def test_a_final_ends_the_partials_of_its_utterance() -> None:
    s, p = CallScript(), Partials()
    d = Decoder(p)
    p.add(b"a", chunk(s, "u1", 0, b"11"))
    assert p.current("u1")
    p.final("u1")
    assert not p.current("u1") and d.next() is None and len(p) == 0
    p.add(b"a", chunk(s, "u1", 1, b"22"))  # a late chunk (redelivery) starts nothing
    assert d.next() is None and len(p) == 0 and p.ready_in(0.0) is None


def test_a_gap_or_a_mid_utterance_start_gives_no_partial() -> None:
    s, p = CallScript(), Partials()
    d = Decoder(p)
    p.add(b"a", chunk(s, "u1", 1, b"22"))  # joined mid-utterance (restart): no prefix to build on
    assert d.next() is None
    p.add(b"a", chunk(s, "u2", 0, b"11"))
    assert d.next() is not None
    p.add(b"a", chunk(s, "u2", 2, b"33"))  # chunk 1 missing: the join would not be the caller's audio
    assert d.next() is None and len(p) == 0


def test_memory_is_bounded() -> None:
    s, p = CallScript(), Partials(max_utterances=3)
    for i in range(10):
        p.add(b"a", chunk(s, f"u{i}", 0, b"11"))
    assert len(p) == 3
    waiting = []
    d = Decoder(p)
    while (audio := d.next()) is not None:
        waiting.append(audio.chunk.utterance_id)
    assert waiting == ["u7", "u8", "u9"]


def test_pause_chunks_are_decoded_first_and_together() -> None:
    s, p = CallScript(), Partials()
    p.add(b"a", chunk(s, "u1", 0, b"11"))
    p.add(b"b", chunk(s, "u2", 0, b"22", pause=True))
    p.add(b"c", chunk(s, "u3", 0, b"33"))
    p.add(b"d", chunk(s, "u4", 0, b"44", pause=True))
    assert p.ready_in(0.0) == 0.0
    batch = p.take(0.0)  # both pauses, newest behind, and no preview in their batch
    assert [a.chunk.utterance_id for a in batch] == ["u4", "u2"]
    assert [a.chunk.utterance_id for a in p.take(0.0)] == ["u1"]  # then the previews, one at a time


def test_a_pause_batch_is_bounded() -> None:
    s, p = CallScript(), Partials()
    for i in range(MAX_PAUSE_BATCH + 2):
        p.add(b"k", chunk(s, f"u{i}", 0, b"11", pause=True))
    assert len(p.take(0.0)) == MAX_PAUSE_BATCH and len(p.take(0.0)) == 2


def test_previews_take_at_most_their_share_of_the_decoder() -> None:
    s, p = CallScript(), Partials(preview_share=0.5)
    d = Decoder(p)
    for i in range(3):
        p.add(b"k", chunk(s, f"u{i}", 0, b"11"))
    assert d.next(took=0.2) is not None  # a preview that took 200 ms: the next waits 200 ms
    assert p.take(d.now) == [] and p.ready_in(d.now) == pytest.approx(0.2)
    p.add(b"k", chunk(s, "u9", 0, b"99", pause=True))  # a pause does not wait for the previews' turn
    assert p.ready_in(d.now) == 0.0
    pause = p.take(d.now)
    assert [a.chunk.utterance_id for a in pause] == ["u9"]
    p.decoded(pause, d.now, d.now + 0.5)  # a pause's decode does not count against the previews
    d.now += 0.2
    assert d.next() is not None
    assert p.ready_in(d.now) == 0.0  # the last preview took no time: no rest


def test_the_previews_share_is_checked() -> None:
    with pytest.raises(ValueError, match="preview_share"):
        Partials(preview_share=0)


def heard(s: CallScript, audio: PartialAudio) -> m.UtteranceTranscribed:
    fact: m.UtteranceTranscribed = s.fact(
        m.UtteranceTranscribed, utterance_id=audio.chunk.utterance_id, text="opening hours?", is_final=False,
        pause=audio.chunk.pause,
    )  # fmt: skip
    return fact


def test_a_final_that_only_adds_silence_to_its_pause_chunk_has_its_transcript() -> None:
    s, p = CallScript(), Partials()
    speech, tail = b"\1\0" * 8000, b"\0\0" * 320  # 1 s of "speech" at 8 kHz, and 40 ms more
    p.add(b"k", chunk(s, "u1", 0, speech[:6000]))
    p.add(b"k", chunk(s, "u1", 1, speech[6000:], pause=True))
    [audio] = p.take(0.0)
    said = heard(s, audio)
    p.heard(audio, said)
    assert p.final("u1", speech + tail, 8000) is said
    assert p.final("u1", speech + tail, 8000) is None  # once: the utterance is done


@pytest.mark.parametrize(
    ("final", "rate"),
    [
        (
            b"\1\0" * 8000 + b"\0\0" * 1760,
            8000,
        ),  # 220 ms more: a voiced frame and the post-roll after the pause
        (b"\2\0" * 8000 + b"\0\0" * 320, 8000),  # other audio (the pause chunk's is not its prefix)
        (b"\1\0" * 8000 + b"\0\0" * 320, 16000),  # another rate
        (b"\1\0" * 7000, 8000),  # shorter (a trimmed utterance)
    ],
)
def test_a_final_with_more_or_other_audio_is_decoded(final: bytes, rate: int) -> None:
    s, p = CallScript(), Partials()
    p.add(b"k", chunk(s, "u1", 0, b"\1\0" * 8000, pause=True))
    [audio] = p.take(0.0)
    p.heard(audio, heard(s, audio))
    assert p.final("u1", final, rate) is None


def test_only_a_pause_chunks_decode_stands_for_the_final() -> None:
    s, p = CallScript(), Partials()
    p.add(b"k", chunk(s, "u1", 0, b"\1\0" * 8000))  # a preview: the caller was still speaking
    [audio] = p.take(0.0)
    p.heard(audio, heard(s, audio))
    assert p.final("u1", b"\1\0" * 8000, 8000) is None
    p.add(b"k", chunk(s, "u2", 0, b"\1\0" * 8000, pause=True))
    [late] = p.take(0.0)
    p.final("u2", b"", 8000)  # the final came while the pause chunk was being decoded
    p.heard(late, heard(s, late))
    assert p.final("u2", b"\1\0" * 8000, 8000) is None
