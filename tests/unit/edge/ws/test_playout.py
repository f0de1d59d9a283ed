"""Real-time pacing of agent audio: chunks ahead of the listener, start/finish, stop and barge-in."""

from __future__ import annotations

import pytest

from edge.ws.playout import BYTES_PER_MS, Chunk, Finished, Playout, Started


def pcm(ms: int, value: int = 1) -> bytes:
    return bytes([value, 0]) * (ms * BYTES_PER_MS // 2)


def chunks(events: list[object]) -> bytes:
    return b"".join(e.pcm for e in events if isinstance(e, Chunk))


def test_a_prompt_is_sent_lead_ahead_then_finishes_at_its_duration() -> None:
    po = Playout(chunk_ms=100, lead_ms=300)
    audio = pcm(1000)
    po.enqueue("p1", audio, barge_in=True)
    assert po.next_deadline == 0.0
    first = po.due(10.0)
    assert first[0] == Started("p1", 1000, None)
    assert chunks(first) == audio[: 400 * BYTES_PER_MS]  # chunks starting at 0, 100, 200 and 300 ms
    assert [len(e.pcm) for e in first if isinstance(e, Chunk)] == [3200, 3200, 3200, 3200]
    assert po.next_deadline == pytest.approx(10.1)  # the 400 ms chunk when the listener is at 100 ms
    sent = chunks(first)
    t = 10.0
    while True:
        deadline = po.next_deadline
        assert deadline is not None and deadline >= t - 1e-9
        t = deadline
        events = po.due(t)
        sent += chunks(events)
        if any(isinstance(e, Finished) for e in events):
            break
    assert sent == audio
    assert t == pytest.approx(11.0)
    assert events[-1] == Finished("p1", 1000, 1000, False, "completed")
    assert not po.playing and po.next_deadline is None


def test_back_to_back_prompts_share_one_clock() -> None:
    po = Playout(chunk_ms=100, lead_ms=0)
    po.enqueue("a", pcm(200), barge_in=True)
    po.enqueue("b", pcm(200, 2), barge_in=False)
    assert chunks(po.due(0.0)) == pcm(100)
    events = po.due(0.25)  # a ended at 0.2; b started then and is 50 ms in
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Chunk", "Finished", "Started", "Chunk"]  # a's 100 ms chunk, then b's first
    assert events[2] == Started("b", 200, None)
    assert po.next_deadline == pytest.approx(0.3)  # b's second chunk, 100 ms into b


def test_stop_reports_the_playout_position_and_drops_the_queue() -> None:
    po = Playout()
    po.enqueue("a", pcm(1000), barge_in=True)
    po.enqueue("b", pcm(500), barge_in=True)
    po.due(5.0)
    stopped = po.stop(5.42, "stopped")
    assert stopped == [Finished("a", 1000, 420, True, "stopped"), Finished("b", 500, 0, True, "stopped")]
    assert not po.playing


def test_stop_one_queued_playback_by_id() -> None:
    po = Playout()
    po.enqueue("a", pcm(1000), barge_in=True)
    po.enqueue("b", pcm(500), barge_in=True)
    po.due(0.0)
    assert po.stop(0.1, "stopped", "b") == [Finished("b", 500, 0, True, "stopped")]
    assert po.current_id == "a"
    assert po.stop(0.1, "stopped", "zzz") == []


def test_barge_in_only_when_the_prompt_allows_it() -> None:
    po = Playout()
    po.enqueue("goodbye", pcm(800), barge_in=False)
    po.due(0.0)
    assert po.barge_in(0.2) == []
    assert po.playing
    po.stop(0.3, "hangup")
    po.enqueue("reply", pcm(800), barge_in=True)
    po.due(1.0)
    assert po.barge_in(1.5) == [Finished("reply", 800, 500, True, "barge_in")]
    assert po.barge_in(1.6) == []


def test_odd_bytes_and_bad_settings() -> None:
    po = Playout()
    po.enqueue("odd", b"\x01\x00\x02", barge_in=True)
    assert chunks(po.due(0.0)) == b"\x01\x00"
    with pytest.raises(ValueError, match="chunk_ms must be positive"):
        Playout(chunk_ms=0)


def test_stop_by_reply_id_stops_every_piece_of_a_streamed_reply() -> None:
    po = Playout()
    po.enqueue("r1#0", pcm(500), barge_in=True)
    po.enqueue("r1#1", pcm(500), barge_in=True)
    po.enqueue("other", pcm(500), barge_in=True)
    po.enqueue("r1#2", pcm(500), barge_in=True)
    po.due(0.0)
    stopped = po.stop(0.1, "stopped", "r1")
    assert [f.playback_id for f in stopped] == ["r1#0", "r1#1", "r1#2"]
    assert po.current_id == "other"
    assert po.stop(0.1, "stopped", "r") == []  # a prefix is no family
