"""One call's media: RTP/RTCP (optionally SRTP) on a port pair, ticked by the shared 20 ms clock.

Receive path (``receive_rtp``, per datagram): SRTP unprotect → header parse → source check → telephone
events to the ``DtmfReceiver``, audio to the RFC 3550 statistics and the ``JitterBuffer``. Anything that
fails on the way is dropped and counted in ``sentiric_media_rtp_dropped_total{reason}``; the socket never
dies.

Where media goes and whose media is taken is decided by the session's
:class:`~edge.media.rtp.source_policy.SourcePolicy` alone (the edge's anti-reflection rule, documented
there): RTP and RTCP go only to the IP the call's signalling came from (or a trunk's ranges), a caller
that has not proven itself (ACK) gets nothing but what its own RTP earns byte for byte, and a latched
source is taken over only under that module's re-latch rule. While the session may not send for want
of a destination or of proof, prompts wait (they start when the first frame can leave, so
``PlaybackStarted`` and ``played_ms`` tell what the caller could hear); on hold they keep advancing.

Errors: a ``sendto`` that raises (an address the kernel refuses, a closed socket) fails the session at
once — its sockets are closed there and then (the port pair is unbound), it leaves the clock, the
``on_failed`` callback tells the SIP side (which hangs up and releases the port), and ``close()`` then
finishes the rest. ``close()`` itself always closes both sockets, whatever fails before.

Every clock tick (``tick(now)``, ``now`` on the 20 ms grid) runs in two phases; the shared clock runs
the send phase of every session first, then their receive phases, so outgoing packets leave on the
grid whatever the receive work costs:

- ``send_tick``: step 3 below (the agent frame: encode and send);
- ``receive_tick``: steps 1, 2, 4 and 5 (caller audio, VAD, recorders and taps, RTCP and quality).

A prompt stopped by barge-in therefore stops one tick (20 ms) after the speech onset was detected.
A prompt queued while nothing plays does not wait for the next tick: its first packet is sent at once,
as that tick's packet (its RTP timestamp and the sender report's clock are the tick's), and the tick
then sends nothing. That packet reaches the caller up to 20 ms early, which any jitter buffer absorbs,
and the reply starts 10 ms sooner on average.

1. play out what the jitter buffer has due, decode it into the caller FIFO and take exactly one
   160-sample caller frame — concealment for lost packets, so everything downstream stays
   sample-aligned. G.711 decodes through its tables (the hot path); G.722 and Opus through the
   session's ``Transcoder`` (8 kHz PCM, codec-specific concealment, undecodable payloads concealed and
   counted as ``codec`` drops);
2. feed the caller frame to the VAD endpointer (``SpeechStarted`` → barge-in; ``UtteranceCaptured`` with
   the PCM), close stale DTMF events;
3. build the agent frame — the current prompt mixed with injected audio, or silence — encode it and send
   it through the session's one ``RtpSender`` (sequence numbers and timestamps continuous across
   prompts), unless an RFC 4733 event is being sent, which takes the slot;
4. hand both frames to the recorders and the live taps;
5. send RTCP (SR or RR + SDES CNAME) about every 5 s and emit ``MediaQualityReported`` periodically.

Hot path (hundreds of sessions x 50 packets/s each way): an incoming audio packet of the common shape
(V=2, no padding, extension or CSRC) is read with one ``struct`` unpack into a slotted ``RxAudio``
instead of a full ``RtpPacket``; outgoing media packets are one ``struct`` pack of the header plus
the payload (the ``RtpSender``'s counters advanced in place); G.711 silence is one precomputed
payload; the VAD runs only on ticks where the caller's audio arrived (or an utterance is open).

The call's PCM (prompts, recordings, VAD, taps) is always 8 kHz (``pcm_rate``), whatever the RTP clock
(48000 for Opus): the RTP clock is used only for timestamps, receiver statistics and RFC 4733 durations.

``MediaQualityReported`` with nothing received carries ``mos=0.0`` and ``r_factor=0.0``: the schema
requires both, and 0 means "no media measured" (a real E-model estimate is never below 1.0 MOS);
periodic reports are skipped until the first packet arrives, the final report is always sent.

Direction (``update_remote``) is ours, as negotiated in SDP: we send when it is ``sendrecv`` or
``sendonly``. Prompts keep advancing while we may not send (hold), so ``played_ms`` means time offered.
Only 20 ms frames are sent whatever ``ptime`` was offered (ptime is a preference, RFC 4566 §6); received
packets of any constant ptime are re-framed to 20 ms.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import struct
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from prometheus_client import Counter

from edge.media.codecs.g711 import PCMU, G711Codec
from edge.media.codecs.registry import CodecError, Transcoder
from edge.media.playback import PromptPlayer
from edge.media.quality.emodel import r_factor
from edge.media.quality.stats import ReceiverStats, round_trip_time
from edge.media.recording import CONTENT_TYPES, CallRecorder, encode
from edge.media.rtp.dtmf import DtmfDigit, DtmfParseError, DtmfReceiver, ScheduledPacket, dtmf_packets
from edge.media.rtp.jitter_buffer import Frame, JitterBuffer
from edge.media.rtp.packet import RtpPacket, RtpParseError
from edge.media.rtp.rtcp import (
    Bye,
    ReceiverReport,
    RtcpParseError,
    SenderReport,
    SourceDescription,
    ntp_from_unix,
    parse_compound,
    serialize_compound,
)
from edge.media.rtp.sender import RtpSender
from edge.media.rtp.source_policy import TRUSTED, MediaTrust, SourcePolicy
from edge.media.srtp import SrtpContext, SrtpError
from edge.media.taps import FRAME_SAMPLES, AudioInjector, AudioTap, mix
from edge.media.vad.endpointer import (
    Endpointer,
    EndpointerConfig,
    SpeechDiscarded,
    UtteranceEnded,
)
from edge.media.vad.endpointer import SpeechStarted as VadSpeechStarted
from schemas.models import (
    DtmfReceived,
    MediaQualityReported,
    PlaybackFinished,
    PlaybackStarted,
    RecordingFinished,
    SpeechStarted,
    UtteranceCaptured,
)

if TYPE_CHECKING:
    from edge.facts import FactSink
    from edge.media.clock import MediaClock
    from edge.media.storage import RecordingStore

log = logging.getLogger(__name__)

Int16Array = npt.NDArray[np.int16]
Addr = tuple[str, int]

RTCP_INTERVAL_S = 5.0
MAX_CALLER_BACKLOG = 10 * FRAME_SAMPLES  # decoded caller audio held beyond one tick (a burst)
JITTER_PLAYOUT_DELAY_S = 0.020  # the start; Settings.jitter_buffer_ms sets it per edge
JITTER_MAX_DELAY_S = 0.200  # late packets grow it up to this (Settings.jitter_buffer_max_ms)
SENDING_DIRECTIONS = ("sendrecv", "sendonly")
ZERO_FRAME: Int16Array = np.zeros(FRAME_SAMPLES, dtype=np.int16)
ZERO_FRAME.flags.writeable = False

DROPPED = Counter(
    "sentiric_media_rtp_dropped_total", "Received RTP/RTCP datagrams dropped, by reason", ["reason"]
)
_DROP = {
    reason: DROPPED.labels(reason)
    for reason in (
        "srtp",
        "malformed",
        "unexpected_source",
        "payload_type",
        "dtmf_malformed",
        "rtcp_srtp",
        "rtcp_malformed",
        "closed",
        "codec",
    )
}
RTP_HEADER = struct.Struct("!BBHII")  # V/P/X/CC, M/PT, sequence number, timestamp, SSRC (RFC 3550 §5.1)
PLAIN_V2 = 0x80  # V=2, no padding, no extension, no CSRC: the common, fast-path header


class RxAudio:
    """What the jitter buffer and the decoder need of a received audio packet (the fast path)."""

    __slots__ = ("payload", "sequence_number", "timestamp")

    def __init__(self, sequence_number: int, timestamp: int, payload: bytes) -> None:
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.payload = payload


SESSION_ERRORS = Counter(
    "sentiric_media_session_errors_total",
    "Media sessions failed (sockets closed at once), by stage",
    ["stage"],
)
PACKETS = Counter("sentiric_media_rtp_packets_total", "RTP packets by direction", ["direction"])
_SENT = PACKETS.labels("sent")
_RECEIVED = PACKETS.labels("received")


class RtpProtocol(asyncio.DatagramProtocol):
    """Thin adapter: datagrams in → the session; the transport is the session's to send on."""

    def __init__(self, session: MediaSession, rtcp: bool) -> None:
        self.session = session
        self.rtcp = rtcp
        # the session's handler itself, bound per instance: no extra Python frame per datagram
        self.datagram_received = session.receive_rtcp if rtcp else session.receive_rtp  # type: ignore[method-assign]  # on purpose, see above

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.rtcp:
            self.session.receive_rtcp(data, addr)
        else:
            self.session.receive_rtp(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable and friends
        log.debug("RTP socket error on %s: %s", self.session.call_id, exc)


class MediaSession:
    def __init__(
        self,
        call_id: str,
        *,
        local_port: int,
        remote_addr: Addr | None,
        codec: G711Codec | Any,
        payload_type: int,
        dtmf_payload_type: int | None,
        ptime_ms: int,
        facts: FactSink,
        clock: MediaClock,
        store: RecordingStore,
        srtp: SrtpContext | None = None,
        vad: EndpointerConfig | None = None,
        quality_interval_s: float = 5.0,
        cname: str = "sentiric",
        on_closed: Any = None,
        transcoder: Transcoder | None = None,
        jitter_delay_s: float = JITTER_PLAYOUT_DELAY_S,
        jitter_max_delay_s: float = JITTER_MAX_DELAY_S,
        trust: MediaTrust = TRUSTED,
        on_failed: Callable[[str], None] | None = None,
    ) -> None:
        """``codec`` is a ``G711Codec`` (tables, no transcoder) or, with ``transcoder``, the registry
        codec that transcoder wraps (G.722, Opus). ``trust`` is what the SIP side knows of the peer (the
        source policy's input); ``on_failed(call_id)`` is called once if the session fails."""
        self.call_id = call_id
        self.local_port = local_port
        self.codec = codec
        self.payload_type = payload_type
        self.dtmf_payload_type = dtmf_payload_type
        self.ptime_ms = ptime_ms
        self.srtp = srtp
        self._facts = facts
        self._clock = clock
        self._store = store
        self._cname = cname
        self._on_closed = on_closed
        self._on_failed = on_failed
        self.direction = "sendrecv"
        self.policy = SourcePolicy(trust, remote_addr, srtp=srtp is not None)
        self.failed = False
        self._closing: asyncio.Task[None] | None = None
        self.rtp_transport: asyncio.DatagramTransport | None = None
        self.rtcp_transport: asyncio.DatagramTransport | None = None
        self.last_rx_monotonic = time.monotonic()  # the SIP side's media timeout starts at setup

        self.transcoder = transcoder
        self.pcm_rate = transcoder.pcm_rate if transcoder is not None else codec.clock_rate
        # with a transcoder, ``codec`` is the registry Codec it wraps (G711Codec | Any cannot say which)
        step = codec.timestamp_step if transcoder is not None else codec.clock_rate * 20 // 1000  # type: ignore[union-attr]  # see above
        self.sender = RtpSender(payload_type, clock_rate=codec.clock_rate, samples_per_frame=step)
        self.player = PromptPlayer(self.sender, codec if transcoder is None else PCMU)
        # G.711 silence is one precomputed payload; G.722/Opus encoders are stateful: encoded per tick
        self._silence = codec.silence() if transcoder is None else b""
        self._agent: Int16Array = ZERO_FRAME  # this tick's agent frame, from send_tick to receive_tick
        self._ahead: Int16Array | None = None  # the next tick's frame, already sent (_send_ahead)
        self._jitter = JitterBuffer(
            ptime=ptime_ms / 1000,
            playout_delay=jitter_delay_s,
            max_delay=max(jitter_delay_s, jitter_max_delay_s),
        )
        self._rx_stats: ReceiverStats | None = None
        self._dtmf_rx = DtmfReceiver()
        self._dtmf_tx: deque[ScheduledPacket] = deque()
        self._endpointer = Endpointer(vad or EndpointerConfig())
        self._stream_ms = 0  # caller audio fed to the VAD
        self._utterance_id: str | None = None
        self._caller: deque[Int16Array] = deque()
        self._caller_samples = 0
        self._rx_started = False

        self._playbacks: OrderedDict[str, tuple[int, str | None]] = OrderedDict()  # id → (ms, uri)
        self._started_playback: str | None = None
        self.recorders: dict[str, CallRecorder] = {}
        self.taps: list[AudioTap] = []
        self.injectors: list[AudioInjector] = []

        self.packets_sent = 0
        self.packets_received = 0
        self._counted_sent = self._counted_received = 0
        self.dropped: dict[str, int] = {}
        self.rtt_s: float | None = None
        self._quality_interval = quality_interval_s
        self._next_rtcp: float | None = None
        self._next_quality: float | None = None
        self.closed = False

    # --- set-up and signalling ---

    async def bind(self, host: str, loop: asyncio.AbstractEventLoop) -> None:
        """Open the RTP (even) and RTCP (+1) sockets; on any failure neither stays bound."""
        rtp, _ = await loop.create_datagram_endpoint(
            lambda: RtpProtocol(self, rtcp=False), local_addr=(host, self.local_port)
        )
        try:
            rtcp, _ = await loop.create_datagram_endpoint(
                lambda: RtpProtocol(self, rtcp=True), local_addr=(host, self.local_port + 1)
            )
        except BaseException:  # OSError, or a cancellation while binding
            rtp.close()
            raise
        self.rtp_transport = rtp
        self.rtcp_transport = rtcp

    def update_remote(self, addr: Addr | None, direction: str) -> None:
        """Re-INVITE or hold: a new SDP address and our direction; the source is learnt again."""
        self.direction = direction
        self.policy.update_sdp(addr)

    def prove(self) -> None:
        """The caller ACKed our 200 OK: media may flow to it at full rate (see the source policy)."""
        self.policy.prove()

    @property
    def remote_rtp(self) -> Addr | None:
        """Where RTP goes now (None: nowhere yet), as the source policy decided."""
        return self.policy.dest

    @property
    def remote_rtcp(self) -> Addr | None:
        return self.policy.rtcp_dest

    @property
    def sending(self) -> bool:
        return self.direction in SENDING_DIRECTIONS and self.policy.dest is not None

    @property
    def _held_back(self) -> bool:
        """We would send but may not yet (no destination, or no proof): prompts wait."""
        policy = self.policy
        return self.direction in SENDING_DIRECTIONS and (policy.dest is None or not policy.proven)

    def _drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        _DROP[reason].inc()

    # --- receive path ---

    def receive_rtp(self, data: bytes, addr: Addr) -> None:
        if self.closed:
            self._drop("closed")
            return
        now = time.monotonic()
        size = len(data)
        if self.srtp is not None:
            try:
                data = self.srtp.unprotect(data)
            except SrtpError:
                self._drop("srtp")
                return
        if len(data) > 12 and data[0] == PLAIN_V2 and data[1] & 0x7F == self.payload_type:
            _, _, seq, ts, ssrc = RTP_HEADER.unpack_from(data)
            if not self.policy.accept(addr, now, size, authenticated=self.srtp is not None):
                self._drop("unexpected_source")
                return
            self._receive_audio(seq, ts, ssrc, data[12:], now)
            return
        try:
            packet = RtpPacket.parse(data)
        except RtpParseError:
            self._drop("malformed")
            return
        if not self.policy.accept(addr, now, size, authenticated=self.srtp is not None):
            self._drop("unexpected_source")
            return
        self.last_rx_monotonic = now
        pt = packet.payload_type
        if pt == self.payload_type:
            self._receive_audio(packet.sequence_number, packet.timestamp, packet.ssrc, packet.payload, now)
        elif pt == self.dtmf_payload_type:
            try:
                digits = self._dtmf_rx.receive(packet, now)
            except DtmfParseError:
                self._drop("dtmf_malformed")
                return
            self._emit_digits(digits)
        else:
            self._drop("payload_type")

    def _receive_audio(self, seq: int, ts: int, ssrc: int, payload: bytes, now: float) -> None:
        self.last_rx_monotonic = now
        self.packets_received += 1
        stats = self._rx_stats
        if stats is None or stats.ssrc != ssrc:
            stats = self._rx_stats = ReceiverStats(ssrc, seq, clock_rate=self.codec.clock_rate, probation=0)
        stats.on_packet(seq, ts, now)
        self._jitter.push(RxAudio(seq, ts, payload), now)  # type: ignore[arg-type]  # RxAudio has what the buffer reads of an RtpPacket

    def receive_rtcp(self, data: bytes, addr: Addr) -> None:
        if self.closed:
            return
        size = len(data)
        if self.srtp is not None:
            try:
                data = self.srtp.unprotect_rtcp(data)
            except SrtpError:
                self._drop("rtcp_srtp")
                return
        try:
            packets = parse_compound(data)
        except RtcpParseError:
            self._drop("rtcp_malformed")
            return
        now = time.monotonic()
        if not self.policy.accept_rtcp(addr, now, size, authenticated=self.srtp is not None):
            self._drop("unexpected_source")
            return
        arrival_ntp = ntp_from_unix(time.time())
        for packet in packets:
            if isinstance(packet, SenderReport):
                if self._rx_stats is not None and packet.ssrc == self._rx_stats.ssrc:
                    self._rx_stats.on_sender_report(packet.ntp_timestamp, now)
                blocks = packet.reports
            elif isinstance(packet, ReceiverReport):
                blocks = packet.reports
            else:
                continue
            for block in blocks:
                if block.ssrc == self.sender.ssrc:
                    rtt = round_trip_time(block, arrival_ntp)
                    if rtt is not None:
                        self.rtt_s = rtt

    def _emit_digits(self, digits: list[DtmfDigit]) -> None:
        for digit in digits:
            if digit.digit is None:
                continue
            duration_ms = digit.duration * 1000 // self.codec.clock_rate
            self._facts.emit(
                self.call_id, DtmfReceived, digit=digit.digit, duration_ms=duration_ms, method="rfc4733"
            )

    # --- the tick ---

    def tick(self, now: float) -> None:
        """One whole tick: the send phase, then the receive phase (the clock calls them apart)."""
        self.send_tick(now)
        self.receive_tick(now)

    def send_tick(self, now: float) -> None:
        ahead = self._ahead
        if ahead is not None:  # this tick's packet went out when the prompt was queued
            self._agent, self._ahead = ahead, None
            return
        self._agent = self._speak(now)

    def _send_ahead(self) -> None:
        if self._ahead is not None or self._dtmf_tx or self.injectors or not self.sending or self.closed:
            return
        if not self.policy.proven:
            return
        at = self._clock.next_deadline
        if at is not None:
            self._ahead = self._speak(at)

    def receive_tick(self, now: float) -> None:
        caller = self._caller_frame(now)
        if caller is None:
            caller = ZERO_FRAME
            self._stream_ms += 20
        elif caller is not ZERO_FRAME or self._endpointer.in_speech:
            self._listen(caller)
        else:  # a gap or a G.711 loss (no audio arrived) and no utterance open: no VAD work
            self._endpointer.reset()
            self._stream_ms += 20
        if self._dtmf_rx.next_deadline() is not None:
            self._emit_digits(self._dtmf_rx.poll(time.monotonic()))
        agent = self._agent
        if self.recorders:
            for recorder in self.recorders.values():
                recorder.append(caller, agent)
        if self.taps:
            for tap in self.taps:
                tap.push(caller, agent)
        if self._next_rtcp is None:
            self._next_rtcp = now + random.uniform(0.5, 1.5) * RTCP_INTERVAL_S / 2
            self._next_quality = now + self._quality_interval
        elif now >= self._next_rtcp:
            self._next_rtcp = now + random.uniform(0.5, 1.5) * RTCP_INTERVAL_S  # RFC 3550 §6.3.1
            try:
                self.send_rtcp()
            except (OSError, ValueError, TypeError) as exc:
                self._fail("rtcp", exc)
                return
        if self._next_quality is not None and now >= self._next_quality:
            self._next_quality = now + self._quality_interval
            if self._rx_stats is not None:  # no periodic report before anything was received
                self._report_quality(final=False)
            self._flush_counters()

    def _flush_counters(self) -> None:
        """Packet counters reach Prometheus in batches: a locked inc() per packet costs 20% of a tick."""
        _SENT.inc(self.packets_sent - self._counted_sent)
        _RECEIVED.inc(self.packets_received - self._counted_received)
        self._counted_sent, self._counted_received = self.packets_sent, self.packets_received

    def _caller_frame(self, now: float) -> Int16Array | None:
        """Exactly one 20 ms caller frame from the jitter buffer, or None before the caller's first packet."""
        jitter = self._jitter
        caller = self._caller
        item = jitter.pop(now)
        if item is None and not self._rx_started:
            return None
        if item is not None and self.transcoder is None and type(item) is Frame and not caller:
            pcm = self.codec.decode(item.packet.payload)  # the common case: one G.711 packet due
            item = jitter.pop(now)
            self._rx_started = True
            if item is None and pcm.size == FRAME_SAMPLES:  # and nothing held: it is the frame
                return pcm
            caller.append(pcm)
            self._caller_samples += pcm.size
        while item is not None:
            if self.transcoder is not None:
                pcm = self._transcode_in(item)
            elif type(item) is Frame:
                pcm = self.codec.decode(item.packet.payload)
            else:  # lost: conceal with silence for one packet time
                samples = self.pcm_rate * self.ptime_ms // 1000
                pcm = ZERO_FRAME if samples == FRAME_SAMPLES else np.zeros(samples, dtype=np.int16)
            caller.append(pcm)
            self._caller_samples += pcm.size
            self._rx_started = True
            item = jitter.pop(now)
        while self._caller_samples > MAX_CALLER_BACKLOG:  # a resync burst: keep the freshest audio
            self._caller_samples -= caller.popleft().size
        if self._caller_samples < FRAME_SAMPLES:
            return ZERO_FRAME  # not yet due (ptime > 20 ms) or a playout gap
        first = caller[0]
        if first.size == FRAME_SAMPLES:
            self._caller_samples -= FRAME_SAMPLES
            return caller.popleft()
        joined = np.concatenate(list(caller))
        caller.clear()
        frame, rest = joined[:FRAME_SAMPLES], joined[FRAME_SAMPLES:]
        if rest.size:
            caller.append(rest)
        self._caller_samples = rest.size
        return frame

    def _transcode_in(self, item: Any) -> Int16Array:
        """A wideband packet (or its loss) → 8 kHz PCM; an undecodable payload is concealed, counted."""
        transcoder = self.transcoder
        assert transcoder is not None
        if type(item) is Frame:
            try:
                return transcoder.decode(item.packet.payload)
            except CodecError:
                self._drop("codec")
        return transcoder.conceal()

    def _listen(self, caller: Int16Array) -> None:
        events = self._endpointer.feed(caller, self._stream_ms)
        self._stream_ms += 20
        for event in events:
            if isinstance(event, VadSpeechStarted):
                self._utterance_id = str(uuid.uuid4())
                self._facts.emit(
                    self.call_id, SpeechStarted, utterance_id=self._utterance_id, stream_ms=event.at_ms
                )
                report = self.player.barge_in()
                if report is not None:
                    self._finish_playbacks("barge_in")
            elif isinstance(event, SpeechDiscarded):
                self._utterance_id = None
            else:
                self._emit_utterance(event)

    def _speak(self, now: float) -> Int16Array:
        """Send this tick's packet; return the audio the caller hears in it (for recording and taps)."""
        if self._dtmf_tx:
            while self._dtmf_tx and self._dtmf_tx[0].at <= now + 1e-6:
                self._send_rtp(self._dtmf_tx.popleft().packet)
            return ZERO_FRAME
        player = self.player
        frame: Int16Array | None = None
        held_back = self._held_back
        if player.playing and not held_back:
            current = player.current_id
            if current is not None and current != self._started_playback:
                self._started_playback = current
                duration, uri = self._playbacks.get(current, (0, None))
                self._facts.emit(
                    self.call_id, PlaybackStarted, playback_id=current, source_uri=uri, duration_ms=duration
                )
            frame = player.next_frame()
            if not player.playing or player.current_id != current:
                self._finish_playbacks("completed")
        if self.injectors and not held_back:
            for injector in self.injectors:
                injected = injector.read_frame()
                if injected is not None:
                    frame = injected if frame is None else mix(frame, injected)
            self.injectors = [i for i in self.injectors if not i.finished]
        if self.sending:
            if self.transcoder is not None:
                payload = self.transcoder.encode(ZERO_FRAME if frame is None else frame)
            else:
                payload = self._silence if frame is None else self.codec.encode(frame)
            self._send_media(payload, now)
        return ZERO_FRAME if frame is None else frame

    def _send_media(self, payload: bytes, now: float) -> None:
        """``RtpSender.next_packet`` + ``_send_rtp`` without the ``RtpPacket``: the same sequence
        number, timestamp, marker and SR counters, one header ``struct`` pack per packet."""
        sender = self.sender
        second = sender.payload_type
        if not sender._in_talkspurt:  # the first packet of a talkspurt carries the marker (RFC 3551 §4.1)
            sender.resume(now)
            sender._in_talkspurt = True
            second |= 0x80
        seq, ts = sender.seq, sender.ts
        sender.seq = (seq + 1) & 0xFFFF
        sender.ts = (ts + sender.samples_per_frame) & 0xFFFFFFFF
        sender.packet_count = (sender.packet_count + 1) & 0xFFFFFFFF
        sender.octet_count = (sender.octet_count + len(payload)) & 0xFFFFFFFF
        sender._last_ts = ts
        sender._last_sent_at = now
        transport, policy = self.rtp_transport, self.policy
        remote = policy.dest
        if transport is None or remote is None:
            return
        data = RTP_HEADER.pack(PLAIN_V2, second, seq, ts, sender.ssrc) + payload
        if self.srtp is not None:
            data = self.srtp.protect(data)
        if not policy.proven and not policy.may_send(len(data)):
            return
        try:
            transport.sendto(data, remote)
        except (OSError, ValueError, TypeError) as exc:
            self._fail("send", exc)
            return
        self.packets_sent += 1

    def _send_rtp(self, packet: RtpPacket) -> None:
        transport, remote = self.rtp_transport, self.policy.dest
        if transport is None or remote is None:
            return
        data = bytes(packet)
        if self.srtp is not None:
            data = self.srtp.protect(data)
        if not self.policy.may_send(len(data)):
            return
        try:
            transport.sendto(data, remote)
        except (OSError, ValueError, TypeError) as exc:
            self._fail("send", exc)
            return
        self.packets_sent += 1

    def _fail(self, stage: str, exc: BaseException) -> None:
        """A broken session: unbind its port pair now, leave the clock, tell the SIP side, then close."""
        if self.failed or self.closed:
            return
        self.failed = True
        SESSION_ERRORS.labels(stage).inc()
        log.warning("media session of %s failed at %s: %s; closing it", self.call_id, stage, exc)
        self._clock.discard(self)
        self._close_transports()
        if self._on_failed is not None:
            try:
                self._on_failed(self.call_id)
            except Exception:
                log.exception("media failure callback of %s raised", self.call_id)
        try:
            self._closing = asyncio.get_running_loop().create_task(self.close())
        except RuntimeError:  # no running loop (a unit test ticking by hand): the owner closes it
            pass

    def _close_transports(self) -> None:
        for transport in (self.rtp_transport, self.rtcp_transport):
            if transport is not None:
                try:
                    transport.close()
                except Exception:
                    log.exception("closing a media socket of %s failed", self.call_id)
        self.rtp_transport = self.rtcp_transport = None

    # --- playback ---

    def play(self, pcm: Int16Array, playback_id: str, *, barge_in: bool, source_uri: str | None) -> None:
        """Queue a prompt (8 kHz int16) behind any playing one."""
        if not pcm.size:
            self._facts.emit(
                self.call_id, PlaybackStarted, playback_id=playback_id, source_uri=source_uri, duration_ms=0
            )
            self._facts.emit(
                self.call_id,
                PlaybackFinished,
                playback_id=playback_id,
                interrupted=False,
                played_ms=0,
                duration_ms=0,
                reason="completed",
            )
            return
        self._playbacks[playback_id] = (pcm.size * 1000 // self.pcm_rate, source_uri)
        idle = not self.player.playing
        self.player.play(pcm, prompt_id=playback_id, barge_in=barge_in)
        if idle:
            self._send_ahead()

    def stop_playback(self, playback_id: str | None = None, reason: str = "stopped") -> None:
        if playback_id is not None and playback_id != self.player.current_id:
            if self.player.cancel(playback_id):
                duration, _ = self._playbacks.pop(playback_id, (0, None))
                self._facts.emit(
                    self.call_id,
                    PlaybackFinished,
                    playback_id=playback_id,
                    interrupted=True,
                    played_ms=0,
                    duration_ms=duration,
                    reason=reason,
                )
            return
        if self.player.stop() is not None:
            self._finish_playbacks(reason)

    def _emit_utterance(self, event: UtteranceEnded) -> None:
        """The caller's endpointed utterance, under the id its SpeechStarted announced."""
        self._facts.emit(
            self.call_id,
            UtteranceCaptured,
            utterance_id=self._utterance_id or str(uuid.uuid4()),
            sample_rate=event.sample_rate,
            pcm=event.pcm,
            start_ms=event.start_ms,
            end_ms=event.end_ms,
            end_reason=event.reason,
        )
        self._utterance_id = None

    def _finish_playbacks(self, reason: str) -> None:
        """Emit PlaybackFinished for what the player reports, and for queued prompts it dropped."""
        for finished in self.player.pop_finished():
            pid = finished.prompt_id or ""
            duration, _ = self._playbacks.pop(pid, (finished.played_ms, None))
            self._facts.emit(
                self.call_id,
                PlaybackFinished,
                playback_id=pid,
                interrupted=finished.interrupted,
                played_ms=finished.played_ms,
                duration_ms=duration,
                reason=reason if finished.interrupted else "completed",
            )
        if not self.player.playing:
            for pid, (duration, _) in self._playbacks.items():  # queued, never started
                self._facts.emit(
                    self.call_id,
                    PlaybackFinished,
                    playback_id=pid,
                    interrupted=True,
                    played_ms=0,
                    duration_ms=duration,
                    reason=reason,
                )
            self._playbacks.clear()

    # --- DTMF out ---

    def send_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        if self.dtmf_payload_type is None:
            raise ValueError(f"call {self.call_id} negotiated no telephone-event payload type")
        at = self._dtmf_tx[-1].at + 0.1 if self._dtmf_tx else time.monotonic()
        for digit in digits:
            scheduled = dtmf_packets(
                self.sender, digit, at, payload_type=self.dtmf_payload_type, duration_ms=duration_ms
            )
            self._dtmf_tx.extend(scheduled)
            at = scheduled[-1].at + 0.1  # an inter-digit pause

    # --- recording ---

    def start_recording(self, recording_id: str, output_uri: str, fmt: str) -> None:
        if recording_id in self.recorders:
            raise ValueError(f"recording {recording_id} is already running on call {self.call_id}")
        self.recorders[recording_id] = CallRecorder(recording_id, output_uri, fmt, self.pcm_rate)

    async def stop_recording(self, recording_id: str) -> None:
        recorder = self.recorders.pop(recording_id, None)
        if recorder is None:
            raise KeyError(f"no recording {recording_id} on call {self.call_id}")
        await self._finish_recording(recorder)

    async def _finish_recording(self, recorder: CallRecorder) -> None:
        """Encode and upload off the media path, then record the fact."""
        pcm = recorder.take_pcm()

        def work() -> int:
            encoded = encode(pcm, recorder.format, recorder.sample_rate)
            self._store.put(recorder.output_uri, encoded.data, CONTENT_TYPES[recorder.format])
            return len(encoded.data)

        try:
            size = await asyncio.to_thread(work)
        except Exception:
            log.exception("recording %s of %s could not be stored", recorder.recording_id, self.call_id)
            return
        self._facts.emit(
            self.call_id,
            RecordingFinished,
            recording_id=recorder.recording_id,
            uri=recorder.output_uri,
            format=recorder.format,
            size_bytes=size,
            duration_ms=recorder.frames * 1000 // recorder.sample_rate,
        )

    # --- RTCP and quality ---

    def send_rtcp(self, bye: bool = False) -> None:
        transport, remote = self.rtcp_transport, self.policy.rtcp_dest
        if transport is None or remote is None or not self.policy.proven:
            return
        stats = self._rx_stats
        blocks = (stats.report_block(time.monotonic()),) if stats is not None else ()
        sender = self.sender
        packets: list[Any] = []
        if sender.packet_count:
            wall = time.time()
            elapsed = time.monotonic() - (sender._last_sent_at or time.monotonic())
            rtp_ts = (sender._last_ts + round(elapsed * sender.clock_rate)) % (1 << 32)
            packets.append(
                SenderReport(
                    sender.ssrc, ntp_from_unix(wall), rtp_ts, sender.packet_count, sender.octet_count, blocks
                )
            )
        else:
            packets.append(ReceiverReport(sender.ssrc, blocks))
        packets.append(SourceDescription.cname_for(sender.ssrc, self._cname))
        if bye:
            packets.append(Bye((sender.ssrc,)))
        data = serialize_compound(packets)
        if self.srtp is not None:
            data = self.srtp.protect_rtcp(data)
        transport.sendto(data, remote)  # raises to the caller: the tick fails the session, close() logs

    def quality(self) -> dict[str, Any]:
        stats = self._rx_stats
        if stats is None:
            received = lost = 0
            loss = jitter_ms = 0.0
        else:
            snap = stats.snapshot()
            received, lost, loss, jitter_ms = (
                snap.received,
                max(0, snap.cumulative_lost),
                snap.fraction_lost,
                snap.jitter_ms,
            )
        rtt_ms = None if self.rtt_s is None else self.rtt_s * 1000
        if received == 0:  # nothing measured: 0 stands for "no media", not a perfect-line estimate
            return {
                "packets_received": 0,
                "packets_lost": lost,
                "loss_fraction": loss,
                "jitter_ms": jitter_ms,
                "rtt_ms": rtt_ms,
                "r_factor": 0.0,
                "mos": 0.0,
            }
        one_way = (rtt_ms or 0.0) / 2 + self._jitter.playout_delay * 1000 + 2 * jitter_ms
        model = r_factor(one_way, 100.0 * loss)
        return {
            "packets_received": received,
            "packets_lost": lost,
            "loss_fraction": loss,
            "jitter_ms": jitter_ms,
            "rtt_ms": rtt_ms,
            "r_factor": round(model.r, 2),
            "mos": round(model.mos, 3) if not math.isnan(model.mos) else 1.0,
        }

    def _report_quality(self, final: bool) -> None:
        self._facts.emit(self.call_id, MediaQualityReported, final=final, **self.quality())

    # --- hang-up ---

    async def close(self) -> None:
        """Stop RTP, close utterance/playback/DTMF, send RTCP BYE, report quality, finish recordings.

        Both sockets are closed whatever fails on the way. The port stays allocated: the SIP side
        releases it to the pool.
        """
        if self.closed:
            return
        self.closed = True
        self._clock.discard(self)
        recorders: list[CallRecorder] = []
        try:
            if self.player.playing:
                self.player.stop()
                self._finish_playbacks("hangup")
            for event in self._endpointer.flush(self._stream_ms):
                if not isinstance(event, VadSpeechStarted | SpeechDiscarded):
                    self._emit_utterance(event)
            self._emit_digits(self._dtmf_rx.poll(math.inf))
            try:
                self.send_rtcp(bye=True)
            except (OSError, ValueError, TypeError, SrtpError):
                log.debug("RTCP BYE for %s not sent", self.call_id)
            self._report_quality(final=True)
            self._flush_counters()
        except Exception:
            log.exception("closing the media session of %s failed; its sockets are closed", self.call_id)
        finally:
            self._close_transports()
            for tap in self.taps:
                tap.close()
            self.taps.clear()
            for injector in self.injectors:
                injector.abort()
            self.injectors.clear()
            recorders = list(self.recorders.values())
            self.recorders.clear()
            try:
                await asyncio.gather(*(self._finish_recording(r) for r in recorders))
            finally:
                if self._on_closed is not None:
                    self._on_closed(self)
