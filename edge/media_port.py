"""The seam between SIP signalling and the media engine (RTP/SRTP sessions).

The SIP core never imports the media engine: it allocates RTP ports from the engine's one
:class:`~edge.media.ports.PortPool` and asks, through effects, for sessions to be opened, updated
(re-INVITE, hold) and closed.  The asyncio driver (:mod:`edge.transport`) carries those effects out
against any object that satisfies :class:`MediaPort` — the real engine in ``edge.media.engine``
or, when that is not available, :class:`NullMediaPort`, which only binds the RTP port, counts
what arrives (so the media timeout works) and sends nothing.  What either hands back for an open
session is a :class:`MediaHandle`: all the SIP side may do with a call's media.

A session is opened with one :class:`MediaOptions` (port, peer, negotiated codec, SRTP keys, the
peer's trust); the SIP core's ``OpenMedia`` effect carries it, the gRPC MediaService builds one.

Closing a session stops RTP but does not give the port back: the SIP core releases it (and records
``MediaPortReleased``) once the call has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from edge.media.ports import PortPool
from edge.media.rtp.source_policy import TRUSTED, MediaTrust


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """How to open one call's media session: what the offer/answer negotiated, and where."""

    local_port: int  # RTP; RTCP is local_port + 1
    remote_addr: tuple[str, int] | None  # None: not known yet (the peer's first packet may tell)
    codec: str  # a codec registry name: PCMU, PCMA, G722, OPUS
    payload_type: int
    dtmf_payload_type: int | None  # the negotiated telephone-event payload type, if any
    ptime_ms: int = 20
    crypto_local: str | None = None  # SDES a=crypto (ours, theirs): both or neither
    crypto_remote: str | None = None
    remote_fmtp: str | None = None  # the peer's a=fmtp for the codec (Opus bit-rate cap, FEC)
    trust: MediaTrust = TRUSTED  # what the SIP side knows of the peer: the session's source policy input


class MediaHandle(Protocol):
    """An open call's media, as the SIP side holds it."""

    @property
    def last_rx_monotonic(self) -> float:
        """``time.monotonic()`` of the last RTP packet accepted (the media timeout reads it)."""
        ...

    def update_remote(self, addr: tuple[str, int] | None, direction: str) -> None: ...

    def prove(self) -> None: ...

    async def close(self) -> None: ...


class MediaPort(Protocol):
    """What the SIP side needs of a media engine: its port pool, and sessions opened on those ports."""

    pool: PortPool

    async def open_session(
        self, call_id: str, options: MediaOptions, *, on_failed: Callable[[str], None] | None = None
    ) -> MediaHandle: ...


class _CountingRtp(asyncio.DatagramProtocol):
    def __init__(self, session: NullMediaHandle) -> None:
        self._session = session

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._session.last_rx_monotonic = time.monotonic()
        self._session.packets_received += 1


class NullMediaHandle:
    """Binds the RTP port and notes when packets arrive; plays and records nothing."""

    def __init__(self, call_id: str, local_port: int, remote: tuple[str, int] | None) -> None:
        self.call_id = call_id
        self.local_port = local_port
        self.remote = remote
        self.direction = "sendrecv"
        self.last_rx_monotonic = time.monotonic()
        self.packets_received = 0
        self.transport: asyncio.DatagramTransport | None = None

    def update_remote(self, addr: tuple[str, int] | None, direction: str) -> None:
        self.remote, self.direction = addr, direction

    def prove(self) -> None:
        """Nothing is ever sent from here: there is nothing to unlock."""

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class NullMediaPort:
    """A stand-in media engine: one UDP socket per session on the allocated port, nothing more."""

    def __init__(self, pool: PortPool, host: str = "127.0.0.1") -> None:
        self.pool = pool
        self.host = host

    async def open_session(
        self, call_id: str, options: MediaOptions, *, on_failed: Callable[[str], None] | None = None
    ) -> NullMediaHandle:
        session = NullMediaHandle(call_id, options.local_port, options.remote_addr)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(OSError):  # a busy port only costs this call its media
            session.transport, _ = await loop.create_datagram_endpoint(
                lambda: _CountingRtp(session), local_addr=(self.host, options.local_port)
            )
        return session

    def execute(self, command: Any) -> None:
        """Media commands (PlayAudio, …) have nothing to act on here."""
