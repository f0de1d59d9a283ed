"""The core's timer heap: earliest deadline per typed key, lazy removal of stale entries."""

from edge.uas.timers import CallDue, CoreTimers, OkRetransmit, TimerHeap, TransactionsDue


def test_earliest_deadline_per_key_and_cancel() -> None:
    heap: CoreTimers = TimerHeap()
    heap.schedule(OkRetransmit("a"), 5.0)
    heap.schedule(OkRetransmit("a"), 7.0)  # later: ignored, 5.0 stays
    heap.schedule(OkRetransmit("a"), 2.0)  # earlier: supersedes
    heap.schedule(TransactionsDue("udp"), 3.0)
    heap.schedule(CallDue("c"), None)
    assert heap.next_deadline == 2.0 and len(heap) == 2
    heap.cancel(TransactionsDue("udp"))
    assert heap.pop_due(4.0) == [OkRetransmit("a")]
    assert heap.next_deadline is None and heap.pop_due(100.0) == []


def test_keys_of_different_kinds_for_the_same_id_are_distinct() -> None:
    heap: CoreTimers = TimerHeap()
    heap.schedule(OkRetransmit("x"), 1.0)
    heap.schedule(CallDue("x"), 2.0)
    heap.cancel(CallDue("x"))
    assert heap.pop_due(10.0) == [OkRetransmit("x")]
