"""One deadline heap for many timer owners (sans-IO), used by the transaction layer and the UAS core.

Thousands of transactions, 2xx retransmitters and call timers live at once; scanning them all to
find the next deadline would cost O(n) per message.  Instead each owner is scheduled under a key at
its next deadline.  Only the earliest deadline per key is kept live: a later ``schedule`` for a key
already due sooner is ignored, and when an entry pops the owner is asked for its real deadline
(which may have moved) and re-scheduled.  Stale heap entries are skipped lazily.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class TimerHeap(Generic[K]):
    __slots__ = ("_heap", "_live", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._live: dict[K, float] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def schedule(self, key: K, when: float | None) -> None:
        """Make sure ``key`` is due no later than ``when`` (None: nothing to schedule)."""
        if when is None:
            return
        current = self._live.get(key)
        if current is not None and current <= when:
            return
        self._live[key] = when
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, key))

    def cancel(self, key: K) -> None:
        self._live.pop(key, None)

    @property
    def next_deadline(self) -> float | None:
        heap, live = self._heap, self._live
        while heap:
            when, _, key = heap[0]
            if live.get(key) == when:
                return when
            heapq.heappop(heap)  # stale: superseded or cancelled
        return None

    def pop_due(self, now: float) -> list[K]:
        """Keys whose deadline has come, earliest first; they are no longer scheduled."""
        heap, live = self._heap, self._live
        out: list[K] = []
        while heap and heap[0][0] <= now:
            when, _, key = heapq.heappop(heap)
            if live.get(key) == when:
                del live[key]
                out.append(key)
        return out
