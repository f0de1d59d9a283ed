"""The edge's effect vocabulary: what its sans-IO engines ask their drivers to do.

``Send(data, addr)``: bytes for a peer (``addr`` is the engine's own address type: a SIP
:class:`~edge.uas.call.Peer`, an RTP ``(host, port)``).  ``Emit(fact)``: a fact for the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes
    addr: Any


@dataclass(frozen=True, slots=True)
class Emit:
    fact: Any
