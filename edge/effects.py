"""The edge's effect vocabulary: what a sans-IO protocol engine asks its IO shell to do.

An engine (the media session, the SIP core) takes bytes and time and returns effects; the shell around
it (asyncio sockets, the fact recorder) carries them out in order. Engines add their own effect types
beside these two where a shell needs more (e.g. which socket a packet leaves on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Fact:
    """A fact before its envelope: the model and its own fields (the shell stamps call id, per-call
    sequence number, node, trace id and time when it records it)."""

    model: type[Any]
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Send:
    """Bytes for a peer: ``data`` to ``addr`` (a ``(host, port)`` for UDP) on the engine's socket."""

    data: bytes
    addr: Any


@dataclass(frozen=True, slots=True)
class Emit:
    """A fact to record (``FactSink.emit(call_id, fact.model, **fact.fields)``)."""

    fact: Fact
