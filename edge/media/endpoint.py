"""One call's media on its UDP port pair: the asyncio shell around the sans-IO ``MediaSession``.

``RtpEndpoint`` binds the RTP (even) and RTCP (+1) sockets, hands every datagram to the session with
its arrival time (``time.monotonic()``, the event loop's clock), joins the shared 20 ms clock, and
carries out what the session returns: packets to ``sendto``, facts to the ``FactSink`` (the one
recorder), recordings to store (:mod:`edge.media.recording_upload`). The media logic is all in
:mod:`edge.media.session`.

Errors: a ``sendto`` that raises (an address the kernel refuses, a closed socket) fails the endpoint
at once — its sockets are closed there and then (the port pair is unbound), it leaves the clock, the
``on_failed`` callback tells the SIP side (which hangs up and releases the port), and ``close()`` then
finishes the rest (facts after a failed send are still recorded). ``close()`` itself always closes
both sockets, whatever fails before, and the port stays allocated: the SIP side releases it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Counter

from edge.effects import Emit, Send
from edge.media.recording_upload import store_recording
from edge.media.session import Addr, Effect, Failed, MediaSession, SendRtcp, StoreRecording

if TYPE_CHECKING:
    from edge.facts import FactSink
    from edge.media.clock import MediaClock
    from edge.media.recording import CallRecorder
    from edge.media.storage import RecordingStore
    from edge.media.taps import AudioInjector, AudioTap

log = structlog.get_logger(__name__)

SESSION_ERRORS = Counter(
    "sentiric_media_session_errors_total",
    "Media sessions failed (sockets closed at once), by stage",
    ["stage"],
)
_SEND_ERRORS = (OSError, ValueError, TypeError)  # what asyncio's sendto raises for a bad address


class _Datagrams(asyncio.DatagramProtocol):
    """Datagrams of one socket → the endpoint (RTP or RTCP)."""

    def __init__(self, endpoint: RtpEndpoint, rtcp: bool) -> None:
        self.endpoint = endpoint
        # the endpoint's handler itself, bound per instance: no extra Python frame per datagram
        self.datagram_received = endpoint.receive_rtcp if rtcp else endpoint.receive_rtp  # type: ignore[method-assign]  # per-instance bind

    def datagram_received(self, data: bytes, addr: Any) -> None:  # replaced in __init__
        self.endpoint.receive_rtp(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable and friends
        log.debug("RTP socket error", call_id=self.endpoint.call_id, error=str(exc))


class RtpEndpoint:
    """The sockets, clock membership, fact sink and recording store of one ``MediaSession``."""

    def __init__(
        self,
        session: MediaSession,
        *,
        facts: FactSink,
        clock: MediaClock,
        store: RecordingStore,
        on_closed: Callable[[RtpEndpoint], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
    ) -> None:
        """``on_failed(call_id)`` is called once if the endpoint fails; ``on_closed(endpoint)`` when
        ``close()`` has finished (recordings stored)."""
        self.session = session
        self.call_id = session.call_id
        self._facts = facts
        self._clock = clock
        self._store = store
        self._on_closed = on_closed
        self._on_failed = on_failed
        self.failed = False
        self._closing: asyncio.Task[None] | None = None
        self._close_started = False
        self.rtp_transport: asyncio.DatagramTransport | None = None
        self.rtcp_transport: asyncio.DatagramTransport | None = None
        self._receive_rtp = session.receive_rtp
        self._send_tick = session.send_tick
        self._receive_tick = session.receive_tick
        self._settle_tick = session.settle_tick

    # --- what the SIP side, the engine and the gRPC service use ---

    @property
    def local_port(self) -> int:
        return self.session.local_port

    @property
    def last_rx_monotonic(self) -> float:
        """``time.monotonic()`` of the last accepted RTP packet (or of the set-up): the media timeout."""
        return self.session.last_rx_at

    @property
    def closed(self) -> bool:
        return self.session.closed

    @property
    def taps(self) -> list[AudioTap]:
        return self.session.taps

    @property
    def injectors(self) -> list[AudioInjector]:
        return self.session.injectors

    @property
    def recorders(self) -> dict[str, CallRecorder]:
        return self.session.recorders

    @property
    def packets_sent(self) -> int:
        return self.session.packets_sent

    @property
    def packets_received(self) -> int:
        return self.session.packets_received

    @property
    def dropped(self) -> dict[str, int]:
        return self.session.dropped

    @property
    def srtp(self) -> Any:
        return self.session.srtp

    @property
    def remote_rtp(self) -> Addr | None:
        return self.session.remote_rtp

    @property
    def remote_rtcp(self) -> Addr | None:
        return self.session.remote_rtcp

    def update_remote(self, addr: Addr | None, direction: str) -> None:
        self.session.update_remote(addr, direction)

    def stop_listening(self) -> None:
        self.session.stop_listening()

    def prove(self) -> None:
        self.session.prove()

    # --- sockets ---

    async def bind(self, host: str, loop: asyncio.AbstractEventLoop) -> None:
        """Open the RTP (even) and RTCP (+1) sockets; on any failure neither stays bound."""
        port = self.session.local_port
        rtp, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self, rtcp=False), local_addr=(host, port)
        )
        try:
            rtcp, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self, rtcp=True), local_addr=(host, port + 1)
            )
        except BaseException:  # OSError, or a cancellation while binding
            rtp.close()
            raise
        self.rtp_transport = rtp
        self.rtcp_transport = rtcp

    def close_transports(self) -> None:
        for transport in (self.rtp_transport, self.rtcp_transport):
            if transport is not None:
                try:
                    transport.close()
                except Exception:
                    log.exception("closing a media socket failed", call_id=self.call_id)
        self.rtp_transport = self.rtcp_transport = None

    # --- datagrams in, ticks, commands ---

    def receive_rtp(self, data: bytes, addr: Addr) -> None:
        effects = self._receive_rtp(data, addr, time.monotonic())
        if effects:
            self._carry(effects)

    def receive_rtcp(self, data: bytes, addr: Addr) -> None:
        effects = self.session.receive_rtcp(data, addr, time.monotonic())
        if effects:
            self._carry(effects)

    def send_tick(self, now: float) -> None:
        effects = self._send_tick(now)
        if effects:
            self._carry(effects)

    def receive_tick(self, now: float) -> None:
        effects = self._receive_tick(now)
        if effects:
            self._carry(effects)

    def settle_tick(self, now: float) -> None:
        effects = self._settle_tick(now)
        if effects:
            self._carry(effects)

    def clock_phases(
        self,
    ) -> tuple[Callable[[float], Any], Callable[[float], Any], Callable[[float], Any], Callable[[Any], None]]:
        """For the shared clock: the session's phases themselves, and ``_carry`` for their effects."""
        return self._send_tick, self._receive_tick, self._settle_tick, self._carry

    def tick(self, now: float) -> None:
        """All three phases (a caller that is not the shared clock, e.g. a test or a bench); a VAD
        window queued in a batch is scored by the settle phase's decision if the batch has not run."""
        self.send_tick(now)
        self.receive_tick(now)
        self.settle_tick(now)

    def play(
        self,
        pcm: Any,
        playback_id: str,
        *,
        barge_in: bool,
        source_uri: str | None,
        after_utterance: str | None = None,
    ) -> None:
        """Queue a prompt; if nothing was playing, its first packet leaves now as the next tick's.
        ``after_utterance``: an answer prepared at the caller's pause (``MediaSession.play``)."""
        next_tick = None if self.failed else self._clock.next_deadline
        self._carry(
            self.session.play(
                pcm,
                playback_id,
                barge_in=barge_in,
                source_uri=source_uri,
                next_tick=next_tick,
                after_utterance=after_utterance,
            )
        )

    def stop_playback(self, playback_id: str | None = None, reason: str = "stopped") -> None:
        self._carry(self.session.stop_playback(playback_id, reason))

    def send_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        self.session.send_dtmf(digits, duration_ms, time.monotonic())

    def start_recording(self, recording_id: str, output_uri: str, fmt: str) -> None:
        self.session.start_recording(recording_id, output_uri, fmt)

    async def stop_recording(self, recording_id: str) -> None:
        stored = self.session.stop_recording(recording_id)
        await store_recording(self.call_id, stored.recorder, self._store, self._facts)

    def send_rtcp(self, bye: bool = False) -> None:
        """An RTCP report now (raises what ``sendto`` raises)."""
        for effect in self.session.send_rtcp(time.monotonic(), bye=bye):
            if type(effect) is SendRtcp and self.rtcp_transport is not None:
                self.rtcp_transport.sendto(effect.data, effect.addr)

    # --- effects ---

    def _carry(self, effects: Sequence[Effect]) -> None:
        """Carry out the session's effects in order. After a failed send, the packets that follow are
        dropped (the sockets are gone) and the facts still recorded."""
        for effect in effects:
            if type(effect) is Send:
                transport = self.rtp_transport
                if transport is not None:
                    try:
                        transport.sendto(effect.data, effect.addr)
                    except _SEND_ERRORS as exc:
                        self._fail("send", exc)
            elif type(effect) is Emit:
                self._facts.record(effect.fact)
            elif type(effect) is SendRtcp:
                transport = self.rtcp_transport
                if transport is not None:
                    try:
                        transport.sendto(effect.data, effect.addr)
                    except _SEND_ERRORS as exc:
                        self._fail("rtcp", exc)
            elif type(effect) is Failed:
                self._fail(effect.stage, effect.error)
            else:  # StoreRecording comes only from close() and stop_recording(), which await it
                raise AssertionError(f"unexpected media effect {effect!r}")

    def _fail(self, stage: str, exc: BaseException) -> None:
        """A broken endpoint: unbind its port pair now, leave the clock, tell the SIP side, then close."""
        if self.failed or self.session.closed:
            return
        self.failed = True
        SESSION_ERRORS.labels(stage).inc()
        log.warning("media session failed; closing it", call_id=self.call_id, stage=stage, error=str(exc))
        self._clock.discard(self)
        self.close_transports()
        if self._on_failed is not None:
            try:
                self._on_failed(self.call_id)
            except Exception:
                log.exception("media failure callback raised", call_id=self.call_id)
        try:
            self._closing = asyncio.get_running_loop().create_task(self.close())
        except RuntimeError:  # no running loop (a unit test ticking by hand): the owner closes it
            pass

    # --- hang-up ---

    async def close(self) -> None:
        """Stop RTP, close utterance/playback/DTMF, send RTCP BYE, report quality, store recordings.

        Both sockets are closed whatever fails on the way. The port stays allocated: the SIP side
        releases it to the pool.
        """
        if self._close_started:
            return
        self._close_started = True
        self._clock.discard(self)
        stores: list[StoreRecording] = []
        try:
            try:
                effects = self.session.close(time.monotonic())
            except Exception:
                log.exception("closing the media session failed", call_id=self.call_id)
                effects = self.session.pending()
            stores = [e for e in effects if isinstance(e, StoreRecording)]
            for effect in effects:
                if type(effect) is SendRtcp:  # the BYE: best effort
                    transport = self.rtcp_transport
                    if transport is not None:
                        try:
                            transport.sendto(effect.data, effect.addr)
                        except _SEND_ERRORS:
                            log.debug("RTCP BYE not sent", call_id=self.call_id)
                elif type(effect) is not StoreRecording:
                    self._carry((effect,))
        except Exception:
            log.exception("closing the media session failed; its sockets are closed", call_id=self.call_id)
        finally:
            self.close_transports()
            try:
                await asyncio.gather(
                    *(store_recording(self.call_id, s.recorder, self._store, self._facts) for s in stores)
                )
            finally:
                if self._on_closed is not None:
                    self._on_closed(self)
