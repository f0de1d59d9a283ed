"""No stale work: the speech workers skip facts of calls that have ended.

After a surge the call topic holds work for calls that are long over — an utterance nobody waits to
be transcribed, a reply (the greeting included) nobody will hear.  Doing it anyway kept a worker
minutes behind while new callers heard silence (issue 11).  So the dialog agent keeps, for every call
it saw end, a small *ended marker* in its table instead of dropping the state (:data:`ENDED_PREFIX`,
``{"ended": <unix time>}``), and the STT, dialog-engine and TTS agents look the call up there before
they work: a marker means the call is over, exactly — the dialog agent wrote it on the call's own
``CallEnded``, in the call's partition order.  A call whose end the dialog agent has not reached yet
is worked on as before, so nothing live is ever skipped.

Markers are purged after ``keep_s`` (``streams_max_call_age_s``): older work for the call has been
read by then.  Skipped work is counted per agent (:data:`SKIPPED`, and the worker's heartbeat's
``skipped``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

from prometheus_client import Counter

ENDED_PREFIX: Final = b'{"ended":'
SKIPPED = Counter("sentiric_streams_skipped_total", "Work skipped because the call had ended", ["agent"])


def ended_marker(now: float) -> bytes:
    return json.dumps({"ended": round(now, 3)}).encode()


def is_ended(stored: bytes | None) -> bool:
    """True when the dialog table's value for a call says that call has ended."""
    return stored is not None and stored.startswith(ENDED_PREFIX)


def ended_at(stored: bytes) -> float:
    return float(json.loads(stored)["ended"])


def expired(entries: Iterable[tuple[Any, bytes]], now: float, keep_s: float) -> list[Any]:
    """Keys of ended markers older than ``keep_s``."""
    return [key for key, raw in entries if is_ended(raw) and now - ended_at(raw) > keep_s]


class SkipCounter:
    """Skips by agent, for the heartbeat (the Prometheus counter is process-wide)."""

    def __init__(self) -> None:
        self.total = 0

    def skip(self, agent: str) -> None:
        self.total += 1
        SKIPPED.labels(agent).inc()
