"""How an outgoing call attempt ended, from the final response or the timer that ended it.

``answered`` (2xx), ``busy`` (486 Busy Here, 600 Busy Everywhere), ``no_answer`` (our ring
timeout fired and we cancelled: the 487 that follows is ours, not the callee's), ``failed``
(anything else: 4xx-6xx, timer B = no response at all, transport error, refused before sending).
Early media (a 183 with SDP) is not a disposition but noted beside it.
"""

from __future__ import annotations

from enum import Enum


class Disposition(Enum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELLED = "cancelled"  # we hung up (operator, shutdown) before the callee answered


BUSY_STATUSES = frozenset({486, 600})


def disposition_for(status: int) -> Disposition:
    """The disposition of a final response to the INVITE (not counting our own CANCEL)."""
    if 200 <= status < 300:
        return Disposition.ANSWERED
    if status in BUSY_STATUSES:
        return Disposition.BUSY
    if status in (408, 480):  # no answer from the callee as reported by the far side
        return Disposition.NO_ANSWER
    return Disposition.FAILED
