"""One call's media as a sans-IO engine: bytes and time in, effects out, ticked by the 20 ms clock.

The session owns no socket and reads no clock. Its inputs are the datagrams of the call's RTP and
RTCP ports with their arrival time (``receive_rtp(data, addr, now)``, ``receive_rtcp(data, addr,
now)``), the clock's ticks (``tick(now)``, or its phases ``send_tick``/``receive_tick``/``settle_tick``), the
commands of the call (``play``, ``stop_playback``, ``send_dtmf``, recording) and ``close(now)``. Each
returns the effects to carry out, in order:

- :class:`~edge.effects.Send` — an RTP packet for the caller (``data``, ``addr``);
- :class:`SendRtcp` — an RTCP compound for the caller's RTCP address;
- :class:`~edge.effects.Emit` — a call fact built by :mod:`edge.call_facts` (``SpeechStarted``,
  ``UtteranceCaptured``, ``DtmfReceived``, ``PlaybackStarted``/``Finished``, ``MediaQualityReported``);
- :class:`StoreRecording` — a finished recording to encode and upload (``close``);
- :class:`Failed` — the session cannot go on (an RTCP report that could not be built or protected).

``now`` is one monotonic time base (the shell passes the event loop's clock); the one wall-clock
need, the NTP timestamp of RTCP sender reports and RTT arrival times, is ``now + wall_offset`` (the
Unix-minus-monotonic offset the shell measured when it opened the session). Only 20 ms frames are
sent whatever ``ptime`` was offered (ptime is a preference, RFC 4566 §6); received packets of any
constant ptime are re-framed to 20 ms. The asyncio shell is :mod:`edge.media.endpoint`; the RTCP and
E-model figures are :mod:`edge.media.quality.report`; recordings are stored by
:mod:`edge.media.recording_upload`.

Receive path (``receive_rtp``, per datagram): SRTP unprotect → header parse → source check → telephone
events to the ``DtmfReceiver``, audio to the RFC 3550 statistics and the ``JitterBuffer``. Anything that
fails on the way is dropped and counted in ``sentiric_media_rtp_dropped_total{reason}``.

Where media goes and whose media is taken is decided by the session's
:class:`~edge.media.rtp.source_policy.SourcePolicy` alone (the edge's anti-reflection rule, documented
there): RTP and RTCP go only to the IP the call's signalling came from (or a trunk's ranges), a caller
that has not proven itself (ACK) gets nothing but what its own RTP earns byte for byte, and a latched
source is taken over only under that module's re-latch rule. While the session may not send for want
of a destination or of proof, prompts wait (they start when the first frame can leave, so
``PlaybackStarted`` and ``played_ms`` tell what the caller could hear); on hold they keep advancing.

Every clock tick (``now`` on the 20 ms grid) runs in three phases; the shared clock runs the send phase
of every session first, then their receive phases, then the VAD batch (one Silero inference for every
window the sessions completed, ``vad_batch``), then their settle phases, so outgoing packets leave on
the grid whatever the receive work costs, and the VAD costs a third of what it does call by call:

- ``send_tick``: step 3 below (the agent frame: encode and send);
- ``receive_tick``: steps 1, 2 (the frame pushed to the VAD), 4 and 5 (caller audio, recorders and
  taps, RTCP and quality);
- ``settle_tick``: step 2's decision (the endpointer's events: ``SpeechStarted``, barge-in, utterances).

A prompt stopped by barge-in therefore stops one tick (20 ms) after the speech onset was detected.
A prompt queued while nothing plays does not wait for the next tick: ``play(..., next_tick=t)`` sends
its first packet at once, as the packet of the tick at ``t`` (its RTP timestamp and the sender report's
clock are that tick's), and that tick then sends nothing. That packet reaches the caller up to 20 ms
early, which any jitter buffer absorbs, and the reply starts 10 ms sooner on average.

1. play out what the jitter buffer has due, decode it into the caller FIFO and take exactly one
   160-sample caller frame — concealment for lost packets, so everything downstream stays
   sample-aligned. G.711 decodes through its tables (the hot path); G.722 and Opus through the
   session's ``Transcoder`` (8 kHz PCM, codec-specific concealment, undecodable payloads concealed and
   counted as ``codec`` drops);
2. feed the caller frame to the VAD endpointer (``SpeechStarted`` → barge-in; ``UtteranceCaptured`` with
   the PCM; in two halves, ``push`` in the receive phase and ``settle`` in the settle phase), close
   stale DTMF events;
3. build the agent frame — the current prompt mixed with injected audio, or silence — encode it and send
   it through the session's one ``RtpSender`` (sequence numbers and timestamps continuous across
   prompts), unless an RFC 4733 event is being sent, which takes the slot;
4. hand both frames to the recorders and the live taps;
5. send RTCP (SR or RR + SDES CNAME) about every 5 s and emit ``MediaQualityReported`` periodically
   (skipped until the first packet arrives; the final report at ``close`` is always sent).

Hot path (hundreds of sessions x 50 packets/s each way): an incoming audio packet of the common shape
(V=2, no padding, extension or CSRC) is read with one ``struct`` unpack into a slotted ``RxAudio``
instead of a full ``RtpPacket``; outgoing media packets are ``RtpSender.pack_media`` (one header
``struct`` pack plus the payload); G.711 silence is one precomputed payload; the VAD runs only on ticks
where the caller's audio arrived (or an utterance is open); a call that returns nothing returns one
shared empty tuple.

The call's PCM (prompts, recordings, VAD, taps) is always 8 kHz (``pcm_rate``), whatever the RTP clock
(48000 for Opus): the RTP clock is used only for timestamps, receiver statistics and RFC 4733 durations.

Direction (``update_remote``) is ours, as negotiated in SDP: we send when it is ``sendrecv`` or
``sendonly``. Prompts keep advancing while we may not send (hold), so ``played_ms`` means time offered.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from prometheus_client import Counter

from edge import call_facts as cf
from edge.effects import Emit, Send
from edge.media.codecs.g711 import PCMU, G711Codec
from edge.media.codecs.registry import CodecError, Transcoder
from edge.media.frame import FRAME_SAMPLES, Int16Array, mix
from edge.media.playback import PromptPlayer
from edge.media.quality.report import QualityFigures, quality_fields, rtcp_compound
from edge.media.quality.stats import ReceiverStats, round_trip_time
from edge.media.recording import CallRecorder
from edge.media.rtp.dtmf import DtmfDigit, DtmfParseError, DtmfReceiver, ScheduledPacket, dtmf_packets
from edge.media.rtp.jitter_buffer import Frame, JitterBuffer
from edge.media.rtp.packet import HEADER, PLAIN_V2, RtpPacket, RtpParseError, RxAudio
from edge.media.rtp.rtcp import (
    ReceiverReport,
    RtcpParseError,
    SenderReport,
    ntp_from_unix,
    parse_compound,
)
from edge.media.rtp.sender import RtpSender
from edge.media.rtp.source_policy import TRUSTED, MediaTrust, SourcePolicy
from edge.media.srtp import SrtpContext, SrtpError
from edge.media.vad.endpointer import (
    Endpointer,
    EndpointerConfig,
    SpeechDiscarded,
    SpeechResumed,
    UtteranceEnded,
    UtteranceGrew,
)
from edge.media.vad.endpointer import SpeechStarted as VadSpeechStarted
from edge.media.vad.facts import utterance_fact
from edge.media.vad.silero import SileroBatch
from schemas.playback_ids import family_of, in_family

if TYPE_CHECKING:
    from edge.media.taps import AudioInjector, AudioTap

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
PACKETS = Counter("sentiric_media_rtp_packets_total", "RTP packets by direction", ["direction"])
_SENT = PACKETS.labels("sent")
_RECEIVED = PACKETS.labels("received")


@dataclass(frozen=True, slots=True)
class SendRtcp:
    """An RTCP compound for the caller: ``data`` to ``addr`` on the call's RTCP socket."""

    data: bytes
    addr: Addr


@dataclass(frozen=True, slots=True)
class StoreRecording:
    """A recording that ended: encode and upload it (off the media path), then record the fact."""

    recorder: CallRecorder


@dataclass(frozen=True, slots=True)
class Failed:
    """The session cannot go on (``stage`` says where): the shell closes it."""

    stage: str
    error: BaseException


Effect = Send | SendRtcp | Emit | StoreRecording | Failed
NOTHING: tuple[Effect, ...] = ()

# A media packet's Send is built 50 times a second per call: through its slots' descriptors it costs
# a third less than the frozen dataclass __init__ (object.__setattr__ per field); the object is the same.
_new = object.__new__
_SEND_DATA: Any = Send.__dict__["data"].__set__
_SEND_ADDR: Any = Send.__dict__["addr"].__set__


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
        now: float,
        wall_offset: float = 0.0,
        srtp: SrtpContext | None = None,
        vad: EndpointerConfig | None = None,
        vad_batch: SileroBatch | None = None,
        quality_interval_s: float = 5.0,
        cname: str = "sentiric",
        transcoder: Transcoder | None = None,
        jitter_delay_s: float = JITTER_PLAYOUT_DELAY_S,
        jitter_max_delay_s: float = JITTER_MAX_DELAY_S,
        trust: MediaTrust = TRUSTED,
    ) -> None:
        """``codec`` is a ``G711Codec`` (tables, no transcoder) or, with ``transcoder``, the registry
        codec that transcoder wraps (G.722, Opus). ``trust`` is what the SIP side knows of the peer (the
        source policy's input). ``now`` is when the session opens (the media timeout starts there);
        ``wall_offset`` turns a ``now`` into Unix time for RTCP. ``vad_batch``: the Silero batch the
        clock runs between the receive and settle phases (``None``: each window scored at once)."""
        self.call_id = call_id
        self.local_port = local_port
        self.codec = codec
        self.payload_type = payload_type
        self.dtmf_payload_type = dtmf_payload_type
        self.ptime_ms = ptime_ms
        self.srtp = srtp
        self.wall_offset = wall_offset
        self._cname = cname
        self.direction = "sendrecv"
        self.policy = SourcePolicy(trust, remote_addr, srtp=srtp is not None)
        self.last_rx_at = now  # the arrival time of the last accepted RTP packet (the media timeout)
        self._out: list[Effect] = []
        self._media: Send | None = None  # this tick's media packet, after the tick's other effects

        self.transcoder = transcoder
        self.pcm_rate = transcoder.pcm_rate if transcoder is not None else codec.clock_rate
        # with a transcoder the codec is a wideband registry Codec (G.722/Opus), never a G711Codec
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
        self._dtmf_open = False  # the receiver has an event open (its next_deadline() is not None)
        self._dtmf_tx: deque[ScheduledPacket] = deque()
        self._endpointer = Endpointer(vad or EndpointerConfig(), batch=vad_batch)
        self._listening = False  # a caller frame was pushed to the endpointer: settle_tick decides
        self.vad_on = True  # off once the call is bridged to a person: nobody transcribes what they say
        self._stream_ms = 0  # caller audio fed to the VAD
        self._utterance_id: str | None = None
        self._barged_reply: str | None = None
        """The streamed reply the caller last talked over: its pieces still on their way are not played."""
        self._last_piece: tuple[str, bool] | None = None
        """(reply id, barge-in allowed) of the last streamed piece queued: a caller who speaks after it
        played out, before the next piece came, talks over that reply too (pieces in flight)."""
        self._paused: str | None = None
        """The utterance whose caller is pausing (a pause chunk sent, no speech since)."""
        self._resumed: OrderedDict[str, None] = OrderedDict()
        """Utterances whose caller spoke on after a pause: answers prepared at the pause are dropped."""
        self._held: list[tuple[Int16Array, str, bool, str | None, str]] = []
        """Answers prepared while the caller paused (pcm, playback id, barge-in, uri, utterance),
        played when that utterance ends."""
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

    # --- effects ---

    def _take(self) -> Sequence[Effect]:
        media = self._media
        if media is not None:
            self._media = None
            self._out.append(media)
        out = self._out
        if not out:
            return NOTHING
        self._out = []
        return out

    def pending(self) -> Sequence[Effect]:
        """The effects produced so far by a call that raised (the shell still carries them out)."""
        return self._take()

    # --- set-up and signalling ---

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

    def receive_rtp(self, data: bytes, addr: Addr, now: float) -> Sequence[Effect]:
        """One datagram from the RTP port, arrived at ``now``."""
        if self.closed:
            self._drop("closed")
            return NOTHING
        size = len(data)
        if self.srtp is not None:
            try:
                data = self.srtp.unprotect(data)
            except SrtpError:
                self._drop("srtp")
                return NOTHING
        if len(data) > 12 and data[0] == PLAIN_V2 and data[1] & 0x7F == self.payload_type:
            _, _, seq, ts, ssrc = HEADER.unpack_from(data)
            if not self.policy.accept(addr, now, size, authenticated=self.srtp is not None):
                self._drop("unexpected_source")
                return NOTHING
            # _receive_audio, inlined: this is every audio packet of every call
            self.last_rx_at = now
            self.packets_received += 1
            stats = self._rx_stats
            if stats is None or stats.ssrc != ssrc:
                stats = self._rx_stats = ReceiverStats(
                    ssrc, seq, clock_rate=self.codec.clock_rate, probation=0
                )
            stats.on_packet(seq, ts, now)
            self._jitter.push(RxAudio(seq, ts, data[12:]), now)
            return NOTHING
        try:
            packet = RtpPacket.parse(data)
        except RtpParseError:
            self._drop("malformed")
            return NOTHING
        if not self.policy.accept(addr, now, size, authenticated=self.srtp is not None):
            self._drop("unexpected_source")
            return NOTHING
        self.last_rx_at = now
        pt = packet.payload_type
        if pt == self.payload_type:
            self._receive_audio(packet.sequence_number, packet.timestamp, packet.ssrc, packet.payload, now)
        elif pt == self.dtmf_payload_type:
            try:
                digits = self._dtmf_rx.receive(packet, now)
            except DtmfParseError:
                self._drop("dtmf_malformed")
                return NOTHING
            self._dtmf_open = self._dtmf_rx.next_deadline() is not None
            self._emit_digits(digits)
        else:
            self._drop("payload_type")
        return self._take()

    def _receive_audio(self, seq: int, ts: int, ssrc: int, payload: bytes, now: float) -> None:
        self.last_rx_at = now
        self.packets_received += 1
        stats = self._rx_stats
        if stats is None or stats.ssrc != ssrc:
            stats = self._rx_stats = ReceiverStats(ssrc, seq, clock_rate=self.codec.clock_rate, probation=0)
        stats.on_packet(seq, ts, now)
        self._jitter.push(RxAudio(seq, ts, payload), now)

    def receive_rtcp(self, data: bytes, addr: Addr, now: float) -> Sequence[Effect]:
        """One datagram from the RTCP port, arrived at ``now``: peer SRs and the RTT."""
        if self.closed:
            return NOTHING
        size = len(data)
        if self.srtp is not None:
            try:
                data = self.srtp.unprotect_rtcp(data)
            except SrtpError:
                self._drop("rtcp_srtp")
                return NOTHING
        try:
            packets = parse_compound(data)
        except RtcpParseError:
            self._drop("rtcp_malformed")
            return NOTHING
        if not self.policy.accept_rtcp(addr, now, size, authenticated=self.srtp is not None):
            self._drop("unexpected_source")
            return NOTHING
        arrival_ntp = ntp_from_unix(now + self.wall_offset)
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
        return NOTHING

    def _emit_digits(self, digits: list[DtmfDigit]) -> None:
        for digit in digits:
            if digit.digit is None:
                continue
            duration_ms = digit.duration * 1000 // self.codec.clock_rate
            self._out.append(
                Emit(
                    cf.dtmf_received(
                        self.call_id, digit=digit.digit, duration_ms=duration_ms, method="rfc4733"
                    )
                )
            )

    # --- the tick ---

    def tick(self, now: float) -> Sequence[Effect]:
        """One whole tick: the send, receive and settle phases (the clock calls them apart)."""
        return [*self.send_tick(now), *self.receive_tick(now), *self.settle_tick(now)]

    # send_tick, receive_tick and settle_tick run 50 times a second per call: their effects are taken
    # inline (``_take`` without its call).

    def send_tick(self, now: float) -> Sequence[Effect]:
        ahead = self._ahead
        if ahead is not None:  # this tick's packet went out when the prompt was queued
            self._agent, self._ahead = ahead, None
        else:
            self._agent = self._speak(now)
        media = self._media
        if media is not None:
            self._media = None
            if not self._out:
                return (media,)  # the common tick: its one packet, no list built
            self._out.append(media)
        out = self._out
        if not out:
            return NOTHING
        self._out = []
        return out

    def _send_ahead(self, next_tick: float | None) -> None:
        if self._ahead is not None or self._dtmf_tx or self.injectors or not self.sending or self.closed:
            return
        if not self.policy.proven:
            return
        if next_tick is not None:
            self._ahead = self._speak(next_tick)

    def receive_tick(self, now: float) -> Sequence[Effect]:
        caller = self._caller_frame(now)
        if caller is None:
            caller = ZERO_FRAME
            self._stream_ms += 20
        elif self.vad_on and (caller is not ZERO_FRAME or self._endpointer.in_speech):
            self._listen(caller)
        else:  # a gap or a G.711 loss (no audio arrived) and no utterance open: no VAD work
            self._endpointer.reset()
            self._stream_ms += 20
        if self._dtmf_open:  # an event without its end packets yet: closed after the receiver's timeout
            self._emit_digits(self._dtmf_rx.poll(now))
            self._dtmf_open = self._dtmf_rx.next_deadline() is not None
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
                self._send_rtcp(now)
            except (ValueError, TypeError) as exc:  # SRTCP protection or a field out of range
                self._out.append(Failed("rtcp", exc))
                return self._take()
        if self._next_quality is not None and now >= self._next_quality:
            self._next_quality = now + self._quality_interval
            if self._rx_stats is not None:  # no periodic report before anything was received
                self._report_quality(final=False)
            self._flush_counters()
        out = self._out
        if not out:
            return NOTHING
        self._out = []
        return out

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

    def stop_listening(self) -> None:
        """No more VAD on this call (bridged: the caller talks to a person, not to the agent)."""
        self.vad_on = False
        self._endpointer.reset()

    def _listen(self, caller: Int16Array) -> None:
        self._endpointer.push(caller, self._stream_ms)
        self._stream_ms += 20
        self._listening = True

    def settle_tick(self, now: float) -> Sequence[Effect]:
        """The VAD's decision on this tick's caller frame (after the clock ran the VAD batch)."""
        if not self._listening:
            return NOTHING
        self._listening = False
        for event in self._endpointer.settle():
            if isinstance(event, VadSpeechStarted):
                self._utterance_id = str(uuid.uuid4())
                self._out.append(
                    Emit(
                        cf.speech_started(
                            self.call_id, utterance_id=self._utterance_id, stream_ms=event.at_ms
                        )
                    )
                )
                report = self.player.barge_in()
                if report is not None:
                    self._barged_reply = family_of(report.prompt_id) if report.prompt_id else None
                    self._finish_playbacks("barge_in")
                elif not self.player.playing and self._last_piece is not None and self._last_piece[1]:
                    # Between two pieces of a streamed reply (the next one still being written or
                    # voiced): the caller talks over the reply all the same.
                    self._barged_reply = self._last_piece[0]
            elif isinstance(event, SpeechDiscarded):
                if self._utterance_id is not None:
                    self._drop_held(self._utterance_id, "caller_resumed")
                self._utterance_id = self._paused = None
            elif isinstance(event, SpeechResumed):
                if self._utterance_id is not None:
                    self._resumed[self._utterance_id] = None
                    while len(self._resumed) > 16:
                        self._resumed.popitem(last=False)
                    self._drop_held(self._utterance_id, "caller_resumed")
                self._paused = None
            else:
                utterance_id = self._utterance_id
                self._emit_utterance(event)
                if isinstance(event, UtteranceGrew) and event.pause:
                    self._paused = utterance_id
                elif isinstance(event, UtteranceEnded):
                    self._paused = None
                    if utterance_id is not None:
                        self._release_held(utterance_id)
        out = self._out
        if not out:
            return NOTHING
        self._out = []
        return out

    def _speak(self, now: float) -> Int16Array:
        """Send this tick's packet; return the audio the caller hears in it (for recording and taps)."""
        if self._dtmf_tx:
            while self._dtmf_tx and self._dtmf_tx[0].at <= now + 1e-6:
                self._send_rtp(self._dtmf_tx.popleft().packet)
            return ZERO_FRAME
        player = self.player
        frame: Int16Array | None = None
        policy = self.policy
        dest = policy.dest
        wants = self.direction in SENDING_DIRECTIONS  # ``sending`` and ``_held_back``, inlined
        held_back = wants and (dest is None or not policy.proven)
        if player.playing and not held_back:
            current = player.current_id
            if current is not None and current != self._started_playback:
                self._started_playback = current
                duration, uri = self._playbacks.get(current, (0, None))
                self._out.append(
                    Emit(
                        cf.playback_started(
                            self.call_id, playback_id=current, source_uri=uri, duration_ms=duration
                        )
                    )
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
        if wants and dest is not None:
            if self.transcoder is not None:
                payload = self.transcoder.encode(ZERO_FRAME if frame is None else frame)
            else:
                payload = self._silence if frame is None else self.codec.encode(frame)
            # the media packet: the sender's fast pack (sequence, timestamp, marker, SR counters)
            data = self.sender.pack_media(payload, now)
            if self.srtp is not None:
                data = self.srtp.protect(data)
            if policy.proven or policy.may_send(len(data)):
                send = _new(Send)  # Send(data, dest), a third cheaper (see _SEND_DATA)
                _SEND_DATA(send, data)
                _SEND_ADDR(send, dest)
                self._media = send
                self.packets_sent += 1
        return ZERO_FRAME if frame is None else frame

    def _send_rtp(self, packet: RtpPacket) -> None:
        remote = self.policy.dest
        if remote is None:
            return
        data = bytes(packet)
        if self.srtp is not None:
            data = self.srtp.protect(data)
        if not self.policy.may_send(len(data)):
            return
        self._out.append(Send(data, remote))
        self.packets_sent += 1

    # --- playback ---

    def play(
        self,
        pcm: Int16Array,
        playback_id: str,
        *,
        barge_in: bool,
        source_uri: str | None,
        next_tick: float | None = None,
        after_utterance: str | None = None,
    ) -> Sequence[Effect]:
        """Queue a prompt (8 kHz int16) behind any playing one. If nothing was playing and
        ``next_tick`` (the clock's next grid time) is given, its first packet is that tick's, sent now.

        ``after_utterance``: an answer prepared while the caller paused in that utterance. It waits
        until the utterance ends, and is dropped (``caller_resumed``) if the caller speaks on: the
        caller never hears an answer to half a sentence, and a finished one is answered the moment
        the end silence decides the turn."""
        if after_utterance is not None:
            if after_utterance in self._resumed:
                self._never_played(playback_id, "caller_resumed")
                return self._take()
            if after_utterance == self._utterance_id:
                self._held.append((pcm, playback_id, barge_in, source_uri, after_utterance))
                return self._take()
        self._queue(pcm, playback_id, barge_in=barge_in, source_uri=source_uri, next_tick=next_tick)
        return self._take()

    def _never_played(self, playback_id: str, reason: str) -> None:
        self._out.append(
            Emit(
                cf.playback_finished(
                    self.call_id, playback_id=playback_id, interrupted=True, played_ms=0, duration_ms=0,
                    reason=reason,
                )
            )
        )  # fmt: skip

    def _drop_held(self, utterance_id: str, reason: str) -> None:
        keep = []
        for held in self._held:
            if held[4] != utterance_id:
                keep.append(held)
                continue
            self._never_played(held[1], reason)
        self._held = keep

    def _release_held(self, utterance_id: str) -> None:
        """The utterance ended without more speech: its prepared answer plays now."""
        keep = []
        for pcm, playback_id, barge_in, source_uri, held_for in self._held:
            if held_for == utterance_id:
                self._queue(pcm, playback_id, barge_in=barge_in, source_uri=source_uri, next_tick=None)
            else:
                keep.append((pcm, playback_id, barge_in, source_uri, held_for))
        self._held = keep

    def _queue(
        self,
        pcm: Int16Array,
        playback_id: str,
        *,
        barge_in: bool,
        source_uri: str | None,
        next_tick: float | None,
    ) -> None:
        if playback_id != self._barged_reply and family_of(playback_id) == self._barged_reply:
            # A piece of the reply the caller just talked over, sent before the dialog heard them.
            self._never_played(playback_id, "barge_in")
            return
        if not pcm.size:
            self._out.append(
                Emit(
                    cf.playback_started(
                        self.call_id, playback_id=playback_id, source_uri=source_uri, duration_ms=0
                    )
                )
            )
            self._out.append(
                Emit(
                    cf.playback_finished(
                        self.call_id,
                        playback_id=playback_id,
                        interrupted=False,
                        played_ms=0,
                        duration_ms=0,
                        reason="completed",
                    )
                )
            )
            return
        self._playbacks[playback_id] = (pcm.size * 1000 // self.pcm_rate, source_uri)
        family = family_of(playback_id)
        self._last_piece = (family, barge_in) if family != playback_id else None
        idle = not self.player.playing
        self.player.play(pcm, prompt_id=playback_id, barge_in=barge_in)
        if idle:
            self._send_ahead(next_tick)

    def stop_playback(self, playback_id: str | None = None, reason: str = "stopped") -> Sequence[Effect]:
        for held in [h for h in self._held if playback_id is None or in_family(h[1], playback_id)]:
            self._held.remove(held)
            self._never_played(held[1], reason)
        if playback_id is not None and not in_family(self.player.current_id, playback_id):
            for dropped in self.player.cancel(playback_id):  # a reply's queued pieces go together
                duration, _ = self._playbacks.pop(dropped, (0, None))
                self._out.append(
                    Emit(
                        cf.playback_finished(
                            self.call_id,
                            playback_id=dropped,
                            interrupted=True,
                            played_ms=0,
                            duration_ms=duration,
                            reason=reason,
                        )
                    )
                )
            return self._take()
        if self.player.stop() is not None:
            self._finish_playbacks(reason)
        return self._take()

    def _emit_utterance(self, event: UtteranceGrew | UtteranceEnded) -> None:
        """The caller's utterance (or a chunk of it in progress), under the id its SpeechStarted announced."""
        if self._utterance_id is None:  # speech carried over a reset: still the caller's words
            self._utterance_id = str(uuid.uuid4())
        self._out.append(Emit(utterance_fact(self.call_id, self._utterance_id, event)))
        if isinstance(event, UtteranceEnded):
            self._utterance_id = None

    def _finish_playbacks(self, reason: str) -> None:
        """Emit PlaybackFinished for what the player reports, and for queued prompts it dropped."""
        for finished in self.player.pop_finished():
            pid = finished.prompt_id or ""
            duration, _ = self._playbacks.pop(pid, (finished.played_ms, None))
            self._out.append(
                Emit(
                    cf.playback_finished(
                        self.call_id,
                        playback_id=pid,
                        interrupted=finished.interrupted,
                        played_ms=finished.played_ms,
                        duration_ms=duration,
                        reason=reason if finished.interrupted else "completed",
                    )
                )
            )
        if not self.player.playing:
            for pid, (duration, _) in self._playbacks.items():  # queued, never started
                self._out.append(
                    Emit(
                        cf.playback_finished(
                            self.call_id,
                            playback_id=pid,
                            interrupted=True,
                            played_ms=0,
                            duration_ms=duration,
                            reason=reason,
                        )
                    )
                )
            self._playbacks.clear()

    # --- DTMF out ---

    def send_dtmf(self, digits: str, duration_ms: int, now: float) -> None:
        """Schedule RFC 4733 events: the first digit starts at ``now`` (or after those queued); the
        ticks send their packets when due."""
        if self.dtmf_payload_type is None:
            raise ValueError(f"call {self.call_id} negotiated no telephone-event payload type")
        at = self._dtmf_tx[-1].at + 0.1 if self._dtmf_tx else now
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

    def stop_recording(self, recording_id: str) -> StoreRecording:
        """End a recording: what to store (``KeyError`` if there is no such recording)."""
        recorder = self.recorders.pop(recording_id, None)
        if recorder is None:
            raise KeyError(f"no recording {recording_id} on call {self.call_id}")
        return StoreRecording(recorder)

    # --- RTCP and quality ---

    def send_rtcp(self, now: float, *, bye: bool = False) -> Sequence[Effect]:
        """An RTCP report now (SR or RR + SDES, and BYE at the end), if the caller may get one."""
        self._send_rtcp(now, bye=bye)
        return self._take()

    def _send_rtcp(self, now: float, *, bye: bool = False) -> None:
        remote = self.policy.rtcp_dest
        if remote is None or not self.policy.proven:
            return
        data = rtcp_compound(
            self.sender, self._rx_stats, self._cname, now=now, wall=now + self.wall_offset, bye=bye
        )
        if self.srtp is not None:
            data = self.srtp.protect_rtcp(data)
        self._out.append(SendRtcp(data, remote))

    def quality(self) -> QualityFigures:
        """The ``MediaQualityReported`` figures so far (see :mod:`edge.media.quality.report`)."""
        return quality_fields(self._rx_stats, self.rtt_s, self._jitter.playout_delay)

    def _report_quality(self, final: bool) -> None:
        self._out.append(Emit(cf.media_quality_reported(self.call_id, final=final, **self.quality())))

    # --- hang-up ---

    def close(self, now: float) -> Sequence[Effect]:
        """Stop RTP, close utterance/playback/DTMF, RTCP BYE, final quality, recordings to store.

        The live taps end and the injectors are released whatever fails on the way (the effects
        produced before a failure are then in ``pending()``).
        """
        if self.closed:
            return NOTHING
        self.closed = True
        try:
            if self.player.playing:
                self.player.stop()
                self._finish_playbacks("hangup")
            for held in self._held:
                self._drop_held(held[4], "hangup")
            for event in self._endpointer.flush(self._stream_ms):
                if not isinstance(event, VadSpeechStarted | SpeechDiscarded | SpeechResumed):
                    self._emit_utterance(event)
            self._emit_digits(self._dtmf_rx.poll(math.inf))
            try:
                self._send_rtcp(now, bye=True)
            except (ValueError, TypeError):  # SRTCP protection failed: the BYE is not sent
                pass
            self._report_quality(final=True)
            self._flush_counters()
        finally:
            for tap in self.taps:
                tap.close()
            self.taps.clear()
            for injector in self.injectors:
                injector.abort()
            self.injectors.clear()
            self._out.extend(StoreRecording(r) for r in self.recorders.values())
            self.recorders.clear()
        return self._take()
