"""One browser voice session = one call on the log (sans-IO).

``WebCall`` is the WebSocket counterpart of a SIP call plus its media session. It takes client
frames, facts about its call, commands and the time, and returns effects for the I/O layer:
``edge.effects.Emit`` (a call fact, built by :mod:`edge.call_facts`, to record),
``SendText``/``SendAudio`` (frames to the client), ``Close`` (close the socket with a status code
and reason). ``next_deadline`` is when ``tick`` must run next.

Facts, in the order a SIP call records them (DESIGN.md, "The life of a call"):

    open         CallInviteReceived(channel="web", transport="ws") → DialplanResolved (or CallRejected
                 → CallEnded) → CallAnswered(codec="L16/16000") → CallEstablished
    audio        20 ms frames through the VAD endpointer → SpeechStarted (+ barge-in) →
                 UtteranceChunkCaptured (partials; ``pause=True`` at a caller's pause) → UtteranceCaptured
    text         UtteranceCaptured(text=…, pcm=b"", end_reason="typed")
    PlayAudio    PlaybackStarted → binary frames, paced (``edge.ws.playout``) → PlaybackFinished
                 (``after_utterance``: held until that utterance ends, or PlaybackFinished(caller_resumed))
    end          [UtteranceCaptured(stream_end)] [PlaybackFinished(interrupted)] CallEnded

Who ends the call: the client closing or sending ``hangup`` (``hangup_by="caller"``, reason
``caller_close`` / ``caller_hangup``); a ``Hangup`` command after the audio queued before it has
played (``agent``); idle, oversized, too fast, too many bad frames, shutdown (``system``).
There is no media port and no RTP, so ``MediaPortAllocated``/``MediaPortReleased`` do not occur.

The answer prepared at the caller's pause, as on a SIP call (``edge.media.session.MediaSession.play``): a
``PlayAudio`` with ``after_utterance`` naming the utterance still in progress is held, played the moment
that utterance ends, and dropped (``PlaybackFinished(interrupted, played_ms=0, reason="caller_resumed")``)
if the caller speaks on or the speech is discarded; ``stopped`` by a ``StopPlayback`` naming it, ``hangup``
when the call ends. One for an utterance the caller spoke on in is never played; one for an utterance
that has ended plays at once. The client hears nothing of a held answer until it plays: not even its
text, the ``reply`` message of an early turn's reply (``schemas.turn_ids.is_early``), which is sent right
before the ``playback`` / ``started`` message of its first piece (at once if that piece started before
the text was written), and never if the answer is dropped unheard.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge import call_facts as cf
from edge.effects import Emit
from edge.media.codecs.resample import resample
from edge.media.vad.endpointer import (
    Endpointer,
    EndpointerConfig,
    EndpointerEvent,
    SpeechDiscarded,
    SpeechResumed,
    UtteranceEnded,
)
from edge.media.vad.endpointer import SpeechStarted as VadSpeechStarted
from edge.media.vad.facts import utterance_fact
from edge.uas.callerid import Caller, caller_fields
from edge.uas.dialplan import DEFAULT_PLAN, Plan
from edge.ws import protocol as p
from edge.ws.playout import Chunk, Finished, Playout, PlayoutEvent, Started
from schemas import models as m
from schemas.playback_ids import family_of, in_family
from schemas.turn_ids import answered_utterance, is_early

WEB_CODEC = "L16/16000"
WEB_PAYLOAD_TYPE = 96  # nominal (dynamic range): a web call has no RTP; the CDR wants a value
RESUMED_KEPT = 16  # utterances remembered as spoken on after a pause (as edge.media.session)
STARTED_KEPT = 16  # replies remembered as started: a streamed reply's text is written after its first piece
EARLY_TEXTS_KEPT = 4  # early replies' texts waiting for their audio (one per pause; the oldest goes first)


@dataclass(frozen=True, slots=True)
class SendText:
    message: p.ServerMessage


@dataclass(frozen=True, slots=True)
class SendAudio:
    pcm: bytes


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


Effect = Emit | SendText | SendAudio | Close


@dataclass(frozen=True, slots=True)
class Peer:
    """Who connected: from the HTTP upgrade request."""

    remote_addr: str
    caller: str = "web"
    callee: str = "web"
    user_agent: str | None = None


def vad_config(**overrides: Any) -> EndpointerConfig:
    return EndpointerConfig(sample_rate=p.AUDIO_RATE, **overrides)


@dataclass(frozen=True, slots=True)
class _Held:
    """An answer prepared while the caller paused in ``utterance_id`` (PCM at 16 kHz)."""

    playback_id: str
    pcm: bytes
    barge_in: bool
    source_uri: str | None
    utterance_id: str


class WebCall:
    def __init__(
        self,
        call_id: str,
        peer: Peer,
        *,
        plan: Plan = DEFAULT_PLAN,
        known: Caller | None = None,
        limits: p.Limits | None = None,
        vad: EndpointerConfig | None = None,
        playout: Playout | None = None,
    ) -> None:
        self.call_id = call_id
        self.peer = peer
        self.plan = plan
        self.known = known  # the caller as configuration knows them (edge.uas.callerid); None: unknown
        self.limits = limits or p.Limits()
        self.endpointer = Endpointer(vad or vad_config())
        self.playout = playout or Playout()
        self.ended = False
        self.end_reason: str | None = None
        self._opened_at = 0.0
        self._answered_at: float | None = None
        self._last_activity = 0.0
        self._pending = b""  # caller audio not yet a whole 20 ms frame
        self._audio_bytes = 0
        self._stream_ms = 0
        self._utterance_id: str | None = None
        self._barged_reply: str | None = None
        """The streamed reply the caller last talked over: its pieces still on their way are not played."""
        self._last_piece: tuple[str, bool] | None = None
        """(reply id, barge-in allowed) of the last streamed piece queued: speech after it played out,
        before the next piece came, talks over that reply too (as `edge.media.session`)."""
        self._resumed: OrderedDict[str, None] = OrderedDict()
        """Utterances whose caller spoke on after a pause: answers prepared at the pause are dropped."""
        self._held: list[_Held] = []
        """Answers prepared while the caller paused, played when their utterance ends."""
        self._early_texts: OrderedDict[str, p.Reply] = OrderedDict()
        """Texts of early turns' replies (by reply id) waiting for their audio: sent when it starts."""
        self._started: OrderedDict[str, None] = OrderedDict()
        """Replies (playback families) whose audio has started, the last `STARTED_KEPT`."""
        self._hangup: str | None = None
        self._errors = 0

    # --- set-up ---

    def open(self, now: float) -> list[Effect]:
        self._opened_at = self._last_activity = now
        peer, plan = self.peer, self.plan
        out: list[Effect] = [
            Emit(
                cf.call_invite_received(
                    self.call_id,
                    sip_call_id=self.call_id,
                    from_uri=f"web:{peer.caller}",
                    to_uri=f"web:{peer.callee}",
                    caller=peer.caller,
                    callee=peer.callee,
                    remote_addr=peer.remote_addr,
                    transport="ws",
                    channel="web",
                    sdp_offer=None,
                    user_agent=peer.user_agent,
                )
            )
        ]
        if plan.action == "reject":
            out.append(
                Emit(
                    cf.call_rejected(
                        self.call_id,
                        sip_status=plan.reject_status,
                        reason="dialplan_reject",
                        stage="dialplan",
                    )
                )
            )
            return out + self._end(now, "rejected", "system", p.CLOSE_POLICY, "rejected by dialplan")
        self._answered_at = now
        out += [
            Emit(
                cf.dialplan_resolved(
                    self.call_id,
                    dialplan_id=plan.dialplan_id,
                    action=plan.action,
                    target=plan.target,
                    prompt_uri=plan.prompt_uri,
                    language=plan.language,
                    **caller_fields(peer.caller, self.known, None),
                )
            ),
            Emit(
                cf.call_answered(
                    self.call_id,
                    codec=WEB_CODEC,
                    payload_type=WEB_PAYLOAD_TYPE,
                    clock_rate=p.AUDIO_RATE,
                    ptime_ms=p.FRAME_MS,
                    srtp=False,
                    remote_rtp_addr=None,
                    sdp_answer="",
                )
            ),
            Emit(cf.call_established(self.call_id, ack_delay_ms=0.0)),
            SendText(
                p.SessionInfo(
                    self.call_id, p.AUDIO_RATE, self.limits.max_frame_bytes, self.limits.idle_timeout_s
                )
            ),
        ]
        return out

    # --- from the client ---

    def receive(self, data: bytes | str, now: float) -> list[Effect]:
        if self.ended:
            return []
        try:
            message = p.parse_client(data, self.limits)
        except p.WsProtocolError as exc:
            return self._bad_frame(exc, now)
        self._last_activity = now
        if isinstance(message, p.AudioFrame):
            return self._audio(message.pcm, now)
        if isinstance(message, p.TextInput):
            return self._typed(message.text)
        if isinstance(message, p.Ping):
            return [SendText(p.Pong())]
        bye = self._end(now, "caller_hangup", "caller", p.CLOSE_NORMAL, "caller hung up")
        return [SendText(p.Hangup("caller_hangup")), *bye]

    def _bad_frame(self, exc: p.WsProtocolError, now: float) -> list[Effect]:
        if exc.code == "too_big":
            return self._end(now, "frame_too_large", "system", p.CLOSE_TOO_BIG, str(exc))
        self._errors += 1
        if self._errors > self.limits.max_errors:
            return self._end(now, "too_many_errors", "system", p.CLOSE_POLICY, "too many bad frames")
        return [SendText(p.Error(exc.code, str(exc)))]

    def _audio(self, pcm: bytes, now: float) -> list[Effect]:
        self._audio_bytes += len(pcm)
        if self._audio_bytes > self.limits.max_session_bytes:
            reason = f"session audio exceeds {self.limits.max_session_audio_s:g} s"
            return self._end(now, "session_too_large", "system", p.CLOSE_TOO_BIG, reason)
        if self._stream_ms / 1000 > now - self._opened_at + self.limits.max_audio_lead_s:
            return self._end(now, "audio_too_fast", "system", p.CLOSE_POLICY, "audio faster than real time")
        data = self._pending + pcm
        usable = len(data) - len(data) % p.FRAME_BYTES
        self._pending = data[usable:]
        out: list[Effect] = []
        for start in range(0, usable, p.FRAME_BYTES):
            events = self.endpointer.feed(data[start : start + p.FRAME_BYTES], self._stream_ms)
            self._stream_ms += p.FRAME_MS
            out += self._vad(events, now)
        return out

    def _vad(self, events: list[EndpointerEvent], now: float) -> list[Effect]:
        out: list[Effect] = []
        for event in events:
            if isinstance(event, VadSpeechStarted):
                self._utterance_id = str(uuid.uuid4())
                out.append(
                    Emit(
                        cf.speech_started(
                            self.call_id, utterance_id=self._utterance_id, stream_ms=event.at_ms
                        )
                    )
                )
                out.append(SendText(p.SpeechDetected(self._utterance_id, event.at_ms)))
                stopped = self.playout.barge_in(now)
                if stopped:
                    self._barged_reply = family_of(stopped[0].playback_id)
                elif not self.playout.playing and self._last_piece is not None and self._last_piece[1]:
                    self._barged_reply = self._last_piece[0]  # between two pieces of a streamed reply
                out += self._finished(stopped, notify=True)
            elif isinstance(event, SpeechDiscarded):
                if self._utterance_id is not None:
                    out += self._drop_held(self._utterance_id)
                self._utterance_id = None
            elif isinstance(event, SpeechResumed):
                if self._utterance_id is not None:
                    self._resumed[self._utterance_id] = None
                    while len(self._resumed) > RESUMED_KEPT:
                        self._resumed.popitem(last=False)
                    out += self._drop_held(self._utterance_id)
            else:
                if self._utterance_id is None:  # speech carried over a reset: still the caller's words
                    self._utterance_id = str(uuid.uuid4())
                out.append(Emit(utterance_fact(self.call_id, self._utterance_id, event)))
                if isinstance(event, UtteranceEnded):
                    out += self._release_held(self._utterance_id, now)
                    self._utterance_id = None
        return out

    def _typed(self, text: str) -> list[Effect]:
        return [
            Emit(
                cf.utterance_captured(
                    self.call_id,
                    utterance_id=str(uuid.uuid4()),
                    sample_rate=p.AUDIO_RATE,
                    pcm=b"",
                    start_ms=self._stream_ms,
                    end_ms=self._stream_ms,
                    end_reason="typed",
                    text=text,
                )
            )
        ]

    # --- from the log ---

    def observe(self, fact: Any) -> list[Effect]:
        """A fact about this call from elsewhere (the speech workers, the dialog): tell the client."""
        if self.ended or getattr(fact, "call_id", None) != self.call_id:
            return []
        if isinstance(fact, m.UtteranceTranscribed):
            if is_early(fact.utterance_id):
                # The dialog's turn answering the words up to a pause (`schemas.turn_ids`): the caller's
                # words are the utterance's own transcripts, already shown; this one would show them twice.
                return []
            return [SendText(p.Transcript(fact.utterance_id, fact.text, fact.is_final))]
        if isinstance(fact, m.AgentReplied) and fact.final:  # a streamed reply's text once, whole
            return self._reply(fact)
        if isinstance(fact, m.DialogStateChanged):
            return [SendText(p.StateChange(fact.from_state, fact.to_state, fact.turn))]
        return []

    def _reply(self, fact: m.AgentReplied) -> list[Effect]:
        """A reply's text: at once, or for an early turn's reply (`schemas.turn_ids`) with its audio,
        which may never play (see the module's docstring): the client shows no answer it never heard."""
        reply = p.Reply(fact.reply_id, fact.text, fact.end_conversation)
        turn = fact.utterance_id
        if turn is None or not is_early(turn) or fact.reply_id in self._started:
            return [SendText(reply)]
        if answered_utterance(turn) in self._resumed:
            return []  # the caller spoke on after the pause: its audio is never played
        self._early_texts[fact.reply_id] = reply
        while len(self._early_texts) > EARLY_TEXTS_KEPT:
            self._early_texts.popitem(last=False)
        return []

    def execute(self, command: Any, now: float) -> list[Effect]:
        """A command for this call: PlayAudio (with PCM), StopPlayback, Hangup. Others are refused."""
        if self.ended:
            return []
        if isinstance(command, m.PlayAudio):
            if command.pcm is None or command.sample_rate <= 0 or len(command.pcm) % 2:
                return self.play_failed(command.playback_id)
            return self.play(
                command.playback_id,
                command.pcm,
                command.sample_rate,
                barge_in=command.barge_in,
                source_uri=command.audio_uri,
                now=now,
                after_utterance=command.after_utterance,
            )
        if isinstance(command, m.StopPlayback):
            named = command.playback_id
            held = self._take_held(lambda h: named is None or in_family(h.playback_id, named))
            out = self._never_played(held, "stopped")
            return out + self._finished(self.playout.stop(now, "stopped", named), notify=True)
        if isinstance(command, m.Hangup):
            self._hangup = command.reason or "hangup"
            return self.tick(now)
        raise ValueError(f"a web call cannot carry out {type(command).__name__}")

    def play(
        self,
        playback_id: str,
        pcm: bytes,
        rate: int,
        *,
        barge_in: bool,
        source_uri: str | None,
        now: float,
        after_utterance: str | None = None,
    ) -> list[Effect]:
        """Queue a prompt behind any playing one. ``after_utterance``: an answer prepared while the
        caller paused in that utterance, which waits for its end (see the module's docstring): the
        caller never hears an answer to half a sentence, and hears a finished one at once."""
        if self._hangup is not None:
            return self.play_failed(playback_id)
        if after_utterance is not None and after_utterance in self._resumed:
            return self.play_failed(playback_id, reason="caller_resumed")
        if rate != p.AUDIO_RATE:
            samples = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
            pcm = resample(samples, rate, p.AUDIO_RATE).astype("<i2").tobytes()
        if after_utterance is not None and after_utterance == self._utterance_id:
            self._held.append(_Held(playback_id, pcm, barge_in, source_uri, after_utterance))
            return []
        return self._queue(playback_id, pcm, barge_in=barge_in, source_uri=source_uri) + self.tick(now)

    def _queue(self, playback_id: str, pcm: bytes, *, barge_in: bool, source_uri: str | None) -> list[Effect]:
        if playback_id != self._barged_reply and family_of(playback_id) == self._barged_reply:
            # A piece of the reply the caller just talked over, sent before the dialog heard them.
            return self.play_failed(playback_id, reason="barge_in")
        family = family_of(playback_id)
        self._last_piece = (family, barge_in) if family != playback_id else None
        self.playout.enqueue(playback_id, pcm, barge_in=barge_in, source_uri=source_uri)
        return []

    def _take_held(self, taken: Callable[[_Held], bool]) -> list[_Held]:
        out = [h for h in self._held if taken(h)]
        self._held = [h for h in self._held if not taken(h)]
        return out

    def _never_played(self, held: list[_Held], reason: str) -> list[Effect]:
        return [e for h in held for e in self.play_failed(h.playback_id, reason=reason)]

    def _drop_held(self, utterance_id: str) -> list[Effect]:
        """The caller spoke on (or the speech was discarded): the answer to half a sentence goes."""
        return self._never_played(self._take_held(lambda h: h.utterance_id == utterance_id), "caller_resumed")

    def _release_held(self, utterance_id: str, now: float) -> list[Effect]:
        """The utterance ended without more speech: its prepared answer plays now."""
        released = self._take_held(lambda h: h.utterance_id == utterance_id)
        if not released:
            return []
        out: list[Effect] = []
        for h in released:
            out += self._queue(h.playback_id, h.pcm, barge_in=h.barge_in, source_uri=h.source_uri)
        return out + self._playout(self.playout.due(now))

    def play_failed(self, playback_id: str, reason: str = "error") -> list[Effect]:
        """A PlayAudio that cannot play: say so, so the dialog does not wait for it. One dropped (not
        failed: a later piece may still play) takes its reply's waiting text with it."""
        if reason != "error":
            self._early_texts.pop(family_of(playback_id), None)
        return [
            Emit(
                cf.playback_finished(
                    self.call_id,
                    playback_id=playback_id,
                    interrupted=True,
                    played_ms=0,
                    duration_ms=0,
                    reason=reason,
                )
            )
        ]

    # --- time ---

    @property
    def next_deadline(self) -> float | None:
        if self.ended:
            return None
        deadlines = [self._last_activity + self.limits.idle_timeout_s]
        playout = self.playout.next_deadline
        if playout is not None:
            deadlines.append(playout)
        elif self._hangup is not None:
            deadlines.append(0.0)
        return min(deadlines)

    def tick(self, now: float) -> list[Effect]:
        if self.ended:
            return []
        out = self._playout(self.playout.due(now))
        if self._hangup is not None and not self.playout.playing:
            reason = self._hangup
            out += [
                SendText(p.Hangup(reason)),
                *self._end(now, reason, "agent", p.CLOSE_NORMAL, f"hangup: {reason}"),
            ]
        elif now >= self._last_activity + self.limits.idle_timeout_s:
            idle = f"idle for {self.limits.idle_timeout_s:g} s"
            out += self._end(now, "idle_timeout", "system", p.CLOSE_POLICY, idle)
        return out

    def _playout(self, events: list[PlayoutEvent]) -> list[Effect]:
        out: list[Effect] = []
        for event in events:
            if isinstance(event, Chunk):
                out.append(SendAudio(event.pcm))
            elif isinstance(event, Started):
                family = family_of(event.playback_id)
                self._started[family] = None
                self._started.move_to_end(family)
                while len(self._started) > STARTED_KEPT:
                    self._started.popitem(last=False)
                out.append(
                    Emit(
                        cf.playback_started(
                            self.call_id,
                            playback_id=event.playback_id,
                            source_uri=event.source_uri,
                            duration_ms=event.duration_ms,
                        )
                    )
                )
                text = self._early_texts.pop(family, None)
                if text is not None:
                    out.append(SendText(text))  # an early turn's reply: heard from now on
                out.append(SendText(p.PlaybackEvent(event.playback_id, "started", event.duration_ms)))
            else:
                out += self._finished([event], notify=True)
        return out

    def _finished(self, finished: list[Finished], *, notify: bool) -> list[Effect]:
        out: list[Effect] = []
        for f in finished:
            if f.interrupted:  # one that never started (queued, stopped) takes its waiting text along
                self._early_texts.pop(family_of(f.playback_id), None)
            out.append(
                Emit(
                    cf.playback_finished(
                        self.call_id,
                        playback_id=f.playback_id,
                        interrupted=f.interrupted,
                        played_ms=f.played_ms,
                        duration_ms=f.duration_ms,
                        reason=f.reason,
                    )
                )
            )
            if notify:
                event = "stopped" if f.interrupted else "finished"
                out.append(SendText(p.PlaybackEvent(f.playback_id, event, f.duration_ms, f.played_ms)))
        return out

    # --- the end ---

    def peer_closed(self, now: float) -> list[Effect]:
        """The client closed the socket (or the connection dropped)."""
        if self.ended:
            return []
        return self._end(now, "caller_close", "caller", None, "")

    def overflow(self, now: float) -> list[Effect]:
        """The client does not read what it is sent (the I/O layer's bounded outbox is full)."""
        if self.ended:
            return []
        return self._end(now, "client_too_slow", "system", p.CLOSE_POLICY, "client is not reading")

    def shutdown(self, now: float) -> list[Effect]:
        if self.ended:
            return []
        return self._end(now, "shutdown", "system", p.CLOSE_GOING_AWAY, "server shutting down")

    def _end(self, now: float, reason: str, hangup_by: str, code: int | None, why: str) -> list[Effect]:
        self.ended = True
        self.end_reason = reason
        out = self._never_played(self._take_held(lambda h: True), "hangup")  # before the flush releases any
        out += self._vad(self.endpointer.flush(self._stream_ms), now)
        out += self._finished(self.playout.stop(now, "hangup"), notify=False)
        self._early_texts.clear()
        self._started.clear()
        answered = self._answered_at
        out.append(
            Emit(
                cf.call_ended(
                    self.call_id,
                    reason=reason,
                    hangup_by=hangup_by,
                    sip_status=200 if answered is not None else self.plan.reject_status,
                    setup_ms=None if answered is None else round((answered - self._opened_at) * 1000, 3),
                    talk_ms=0 if answered is None else round((now - answered) * 1000),
                    total_ms=round((now - self._opened_at) * 1000),
                )
            )
        )
        if code is not None:
            out.append(Close(code, p.close_reason(why)))
        return out
