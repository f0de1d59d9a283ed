"""The edge's effect vocabulary: what its sans-IO engines ask their drivers to do.

``Send(data, addr)``: bytes for a peer (``addr`` is the engine's own address type: a SIP
:class:`~edge.uas.call.Peer`, an RTP ``(host, port)``).  ``Emit(fact)``: a call fact for the log,
built by its typed function in :mod:`edge.call_facts`; the driver hands it to the one
:class:`~edge.facts.FactRecorder`, which stamps its envelope.  The media and WebSocket sessions return
both; the SIP core returns ``Send`` and records its facts through the same recorder as it goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.facts import CallFact


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes
    addr: Any


@dataclass(frozen=True, slots=True)
class Emit:
    fact: CallFact
