"""The edge's media engine: the port pool, the shared 20 ms clock and every call's media.

Each call's media is a sans-IO :class:`~edge.media.session.MediaSession` inside its asyncio shell, an
:class:`~edge.media.endpoint.RtpEndpoint` (the sockets, the clock, the fact sink); ``open_session``
returns the endpoint.

The SIP side (and the gRPC MediaService) code against this surface::

    engine = MediaEngine(settings, facts)          # facts: edge.facts.FactSink
    await engine.start()
    port = engine.pool.allocate(time.monotonic())  # PortsExhausted → answer 503
    options = MediaOptions(local_port=port, remote_addr=("10.0.0.7", 4000), codec="PCMU",
                           payload_type=0, dtmf_payload_type=101)  # edge.media_port: what SDP agreed
    session = await engine.open_session(call_id, options)
    session.update_remote(addr, "sendrecv")        # re-INVITE / hold (direction is ours)
    session.last_rx_monotonic                      # time.monotonic() of the last accepted RTP packet
    session.session                                # the sans-IO MediaSession inside
    await engine.execute(command)                  # PlayAudio, StopPlayback, StartRecording, StopRecording,
                                                   # SendDtmf — by command.call_id
    await session.close()                          # RTP stops, final quality, recordings stored
    engine.pool.release(port, time.monotonic())    # the SIP side gives the port back (quarantined)
    await engine.stop()

Commands are idempotent: one already executed (same ``event_id``, e.g. a gRPC command that the edge
then also consumes from its command topic, or a redelivery after a rebalance) is ignored. A command for
a call this engine has no session for is logged and ignored (the call ended, or another node owns it);
a command that cannot be carried out raises ``MediaCommandError``. A PlayAudio whose audio cannot be
loaded also gets a ``PlaybackFinished(reason="error")`` so the dialog does not wait for it.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import numpy as np
import structlog
from prometheus_client import Gauge

from edge import call_facts as cf
from edge.media.clock import MediaClock
from edge.media.codecs.g711 import CODECS_BY_NAME
from edge.media.codecs.registry import Binding, CodecError, G711PayloadCodec, Transcoder, default_registry
from edge.media.codecs.resample import TELEPHONY_RATE, resample
from edge.media.endpoint import RtpEndpoint
from edge.media.playback import PromptCache, PromptError
from edge.media.ports import edge_port_pool
from edge.media.recording import RecordingError
from edge.media.recording_root import allowed_output_uri
from edge.media.session import MediaSession
from edge.media.srtp import CryptoAttribute, SrtpContext, SrtpError
from edge.media.storage import RecordingStore, S3Store, StorageError, UriStore
from edge.media.vad.endpointer import EndpointerConfig
from edge.media.vad.silero import SileroBatch
from edge.media_port import MediaOptions
from schemas.models import (
    PlayAudio,
    SendDtmf,
    StartRecording,
    StopPlayback,
    StopRecording,
)

if TYPE_CHECKING:
    from edge.facts import FactSink
    from sentiric.settings import Settings

__all__ = ["MediaCommandError", "MediaEngine", "RtpEndpoint"]

log = structlog.get_logger(__name__)

ACTIVE_SESSIONS = Gauge("sentiric_media_active_sessions", "Media sessions open on this edge")
EXECUTED_HISTORY = 4096


def pause_ms(settings: Settings) -> int:
    """The endpointer's pause (``vad_pause_ms``): off without partials, and always shorter than the
    end silence (a pause chunk is news only while the utterance may still go on)."""
    if not settings.partial_audio_ms:
        return 0
    pause = min(settings.vad_pause_ms, settings.vad_end_silence_ms - 20)
    return pause if pause >= 20 else 0


class MediaCommandError(ValueError):
    """A media command that cannot be carried out (bad audio, unknown recording, unsupported codec …)."""


def prompt_path(uri: str) -> Path:
    """A prompt URI (``file:///abs/path.wav`` or a plain path) → the local path."""
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        return Path(unquote(parts.path) if parts.scheme else uri)
    raise MediaCommandError(f"unsupported audio URI scheme {parts.scheme!r}: {uri}")


class MediaEngine:
    def __init__(
        self,
        settings: Settings,
        facts: FactSink,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        store: RecordingStore | None = None,
        prompts: PromptCache | None = None,
    ) -> None:
        self.settings = settings
        self.facts = facts
        self._codecs = default_registry()
        self._loop = loop
        self.pool = edge_port_pool(settings)
        self.clock = MediaClock(loop=loop)
        # Every session's Silero windows of a tick are scored in one inference, between the clock's
        # receive and settle phases (~3x less CPU than one run per window from a few dozen calls up).
        self.vad_batch = SileroBatch()
        self.clock.add_batch(self.vad_batch.run)
        self.prompts = prompts or PromptCache()
        self._prompt_lock = asyncio.Lock()
        self.store: RecordingStore = store or UriStore(s3=S3Store(settings.s3_endpoint_url))
        self.vad = EndpointerConfig(
            sample_rate=TELEPHONY_RATE,
            aggressiveness=settings.vad_aggressiveness,
            end_silence_ms=settings.vad_end_silence_ms,
            min_utterance_ms=settings.vad_min_utterance_ms,
            max_utterance_ms=settings.vad_max_utterance_ms,
            model=settings.vad_model,
            threshold=settings.vad_threshold,
            chunk_ms=settings.partial_audio_ms,
            pause_ms=pause_ms(settings),
        )
        self.jitter_delay_s = settings.jitter_buffer_ms / 1000
        self.jitter_max_delay_s = settings.jitter_buffer_max_ms / 1000
        self._sessions: dict[str, RtpEndpoint] = {}
        self._executed: OrderedDict[Any, None] = OrderedDict()

    # --- life cycle ---

    async def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        # Everything imported and built so far lives as long as the process: move it out of the cyclic
        # GC's reach, so a full collection walks only call-time objects (measured: 200 ms stalls at
        # 100 calls without this, see bench/media_load.py).
        gc.freeze()
        self.clock.start()

    async def stop(self) -> None:
        await asyncio.gather(*(s.close() for s in list(self._sessions.values())))
        self.clock.stop()

    # --- sessions ---

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    def session(self, call_id: str) -> RtpEndpoint | None:
        return self._sessions.get(call_id)

    async def open_session(
        self, call_id: str, options: MediaOptions, *, on_failed: Callable[[str], None] | None = None
    ) -> RtpEndpoint:
        """Bind ``options.local_port`` (RTP) and the port above it (RTCP); start ticking the call's media.

        ``options.codec`` is a registry name (PCMU, PCMA, G722, opus). G.711 runs on its tables directly
        (the hot path); a wideband codec gets a ``Transcoder`` to the call's 8 kHz PCM.
        ``options.trust`` feeds the session's source policy (the SIP side's knowledge of the peer; the
        default sends where told); ``on_failed(call_id)`` hears of a session that failed after opening.
        If anything fails after the sockets are bound, they are closed before the error propagates: no
        port pair leaks."""
        if call_id in self._sessions:
            raise MediaCommandError(f"call {call_id} already has a media session")
        crypto_local, crypto_remote = options.crypto_local, options.crypto_remote
        try:
            chosen = self._codecs.by_name(options.codec)
        except CodecError as exc:
            raise MediaCommandError(str(exc)) from None
        transcoder = None
        if isinstance(chosen, G711PayloadCodec):
            g711: Any = CODECS_BY_NAME[chosen.name]
        else:
            try:
                binding = Binding(chosen, options.payload_type, options.remote_fmtp)
                transcoder = Transcoder(binding, pcm_rate=8000)
            except CodecError as exc:
                raise MediaCommandError(str(exc)) from None
            g711 = chosen
        if (crypto_local is None) != (crypto_remote is None):
            raise MediaCommandError("SRTP needs both the local and the remote crypto attribute")
        srtp = None
        if crypto_local is not None and crypto_remote is not None:
            try:
                srtp = SrtpContext(CryptoAttribute.parse(crypto_local), CryptoAttribute.parse(crypto_remote))
            except SrtpError as exc:
                raise MediaCommandError(str(exc)) from None
        now = time.monotonic()
        media = MediaSession(
            call_id,
            local_port=options.local_port,
            remote_addr=options.remote_addr,
            codec=g711,
            transcoder=transcoder,
            payload_type=options.payload_type,
            dtmf_payload_type=options.dtmf_payload_type,
            ptime_ms=options.ptime_ms if options.ptime_ms > 0 else 20,
            now=now,
            wall_offset=time.time() - now,  # RTCP's NTP time, on the session's monotonic clock
            srtp=srtp,
            jitter_delay_s=self.jitter_delay_s,
            jitter_max_delay_s=self.jitter_max_delay_s,
            vad=self.vad,
            vad_batch=self.vad_batch,
            quality_interval_s=self.settings.media_quality_interval_s,
            cname=f"{self.settings.node_id}@sentiric",
            trust=options.trust,
        )
        session = RtpEndpoint(
            media,
            facts=self.facts,
            clock=self.clock,
            store=self.store,
            on_closed=self._closed,
            on_failed=on_failed,
        )
        loop = self._loop or asyncio.get_running_loop()
        await session.bind(self.settings.rtp_host, loop)
        try:
            self._sessions[call_id] = session
            self.clock.add(session)
            ACTIVE_SESSIONS.set(len(self._sessions))
        except BaseException:
            self._sessions.pop(call_id, None)
            self.clock.discard(session)
            session.close_transports()
            raise
        return session

    def _closed(self, session: RtpEndpoint) -> None:
        if self._sessions.get(session.call_id) is session:
            del self._sessions[session.call_id]
            ACTIVE_SESSIONS.set(len(self._sessions))

    # --- commands ---

    def _first_time(self, command: Any) -> bool:
        event_id = getattr(command, "event_id", None)
        if event_id is None:
            return True
        if event_id in self._executed:
            return False
        self._executed[event_id] = None
        if len(self._executed) > EXECUTED_HISTORY:
            self._executed.popitem(last=False)
        return True

    async def execute(self, command: Any) -> None:
        if not self._first_time(command):
            log.debug("command already executed", event_id=str(getattr(command, "event_id", None)))
            return
        session = self._sessions.get(command.call_id)
        if session is None:
            log.warning(
                "command for a call with no media session here",
                command=type(command).__name__,
                call_id=command.call_id,
            )
            return
        if isinstance(command, PlayAudio):
            await self._play(session, command)
        elif isinstance(command, StopPlayback):
            session.stop_playback(command.playback_id, reason="stopped")
        elif isinstance(command, StartRecording):
            try:
                allowed_output_uri(self.settings, command.output_uri)  # only under the recordings root
                session.start_recording(command.recording_id, command.output_uri, command.format)
            except (StorageError, RecordingError, ValueError) as exc:
                raise MediaCommandError(str(exc)) from None
        elif isinstance(command, StopRecording):
            try:
                await session.stop_recording(command.recording_id)
            except KeyError as exc:
                raise MediaCommandError(str(exc.args[0])) from None
        elif isinstance(command, SendDtmf):
            try:
                session.send_dtmf(command.digits, command.duration_ms)
            except ValueError as exc:
                raise MediaCommandError(str(exc)) from None
        else:
            raise MediaCommandError(f"not a media command: {type(command).__name__}")

    async def load_prompt(self, uri: str) -> np.ndarray:
        """A prompt file as 8 kHz int16, through the LRU cache (decoded off the loop on a miss)."""
        path = prompt_path(uri)
        async with self._prompt_lock:  # the cache is not thread-safe; one decode at a time
            try:
                return await asyncio.to_thread(self.prompts.get, path)
            except (OSError, PromptError) as exc:
                raise MediaCommandError(f"cannot load prompt {uri}: {exc}") from None

    async def _play(self, session: RtpEndpoint, command: PlayAudio) -> None:
        try:
            if command.audio_uri:
                pcm = await self.load_prompt(command.audio_uri)
            elif command.pcm is not None:
                if command.sample_rate <= 0 or len(command.pcm) % 2:
                    raise MediaCommandError("PlayAudio PCM must be 16-bit samples at a positive rate")
                pcm = np.frombuffer(command.pcm, dtype="<i2").astype(np.int16)
                if command.sample_rate != TELEPHONY_RATE:
                    pcm = await asyncio.to_thread(resample, pcm, command.sample_rate, TELEPHONY_RATE)
            else:
                raise MediaCommandError("PlayAudio carries neither an audio URI nor PCM")
        except MediaCommandError:
            self.facts.record(
                cf.playback_finished(
                    session.call_id,
                    playback_id=command.playback_id,
                    interrupted=True,
                    played_ms=0,
                    duration_ms=0,
                    reason="error",
                )
            )
            raise
        if not session.closed:
            session.play(
                pcm,
                command.playback_id,
                barge_in=command.barge_in,
                source_uri=command.audio_uri,
                after_utterance=command.after_utterance,
            )

    def release_port(self, port: int) -> None:
        """Give a port back to the pool (quarantined); for callers outside SIP (gRPC ReleasePort)."""
        self.pool.release(port, time.monotonic())
