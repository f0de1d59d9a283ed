"""TimerHeap: earliest deadline per key, lazy removal of superseded and cancelled entries."""

from edge.uas.timers import TimerHeap


def test_earliest_deadline_per_key_and_cancel() -> None:
    heap = TimerHeap()
    heap.schedule(("ok", "a"), 5.0)
    heap.schedule(("ok", "a"), 7.0)  # later: ignored, 5.0 stays
    heap.schedule(("ok", "a"), 2.0)  # earlier: supersedes
    heap.schedule(("st", "b"), 3.0)
    heap.schedule(("call", "c"), None)
    assert heap.next_deadline == 2.0 and len(heap) == 2
    heap.cancel(("st", "b"))
    assert heap.pop_due(4.0) == [("ok", "a")]
    assert heap.next_deadline is None and heap.pop_due(100.0) == []
