"""A web call as a pure state machine: facts recorded, frames sent, closes, timers."""

from __future__ import annotations

import uuid
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.effects import Emit
from edge.facts import FactRecorder, ListPublisher, own_fields
from edge.media.vad.endpointer import EndpointerConfig
from edge.uas.dialplan import Plan
from edge.ws import protocol as p
from edge.ws.session import Close, Peer, SendAudio, SendText, WebCall, vad_config
from schemas import models as m
from schemas.codec import decode, encode

SPEECH = Path(__file__).parents[3] / "fixtures" / "speech" / "opening_hours_16k.wav"
PEER = Peer("127.0.0.1:5555", "alice", "web", "pytest")


def question() -> bytes:
    with wave.open(str(SPEECH)) as w:
        assert w.getframerate() == p.AUDIO_RATE
        return w.readframes(w.getnframes())


def facts(effects: list[Any]) -> list[str]:
    return [type(e.fact).__name__ for e in effects if isinstance(e, Emit)]


def sent(effects: list[Any]) -> list[p.ServerMessage]:
    return [e.message for e in effects if isinstance(e, SendText)]


def closes(effects: list[Any]) -> list[Close]:
    return [e for e in effects if isinstance(e, Close)]


def emitted(effects: list[Any], model: type[Any]) -> dict[str, Any]:
    return next(own_fields(e.fact) for e in effects if isinstance(e, Emit) and type(e.fact) is model)


def command(cls: type[Any], call_id: str, **fields: Any) -> Any:
    return cls(event_id=uuid.uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC), source="dialog",
               trace_id="t", **fields)  # fmt: skip


def opened(limits: p.Limits | None = None, vad: EndpointerConfig | None = None) -> WebCall:
    call = WebCall("c-1", PEER, limits=limits, vad=vad)
    call.open(100.0)
    return call


def test_open_records_the_facts_of_an_answered_call() -> None:
    call = WebCall("c-1", PEER)
    out = call.open(100.0)
    assert facts(out) == ["CallInviteReceived", "DialplanResolved", "CallAnswered", "CallEstablished"]
    invite = emitted(out, m.CallInviteReceived)
    assert (invite["channel"], invite["transport"], invite["caller"], invite["remote_addr"]) == (
        "web",
        "ws",
        "alice",
        "127.0.0.1:5555",
    )
    assert emitted(out, m.CallAnswered)["codec"] == "L16/16000"
    assert emitted(out, m.CallAnswered)["clock_rate"] == 16000
    assert sent(out) == [p.SessionInfo("c-1")]
    recorder = FactRecorder(ListPublisher(), "edge-test")
    for e in out:  # every fact is the call's and survives the recorder and the codec
        if isinstance(e, Emit):
            record = recorder.record(e.fact)
            assert record.call_id == "c-1" and decode(encode(record)) == record


def test_a_dialplan_reject_ends_the_call_with_a_policy_close() -> None:
    plan = Plan(dialplan_id="no-web", pattern="*", action="reject", reject_status=403)
    out = WebCall("c-2", PEER, plan=plan).open(0.0)
    assert facts(out) == ["CallInviteReceived", "CallRejected", "CallEnded"]
    assert emitted(out, m.CallEnded)["sip_status"] == 403
    assert closes(out) == [Close(1008, "rejected by dialplan")]


def test_spoken_audio_becomes_speech_started_and_an_utterance() -> None:
    call = opened()
    pcm = question() + b"\x00\x00" * 16000  # a second of silence ends the utterance
    out: list[Any] = []
    for i in range(0, len(pcm), 3000):  # frames that do not align with the VAD's 20 ms
        out += call.receive(pcm[i : i + 3000], 100.0 + i / 32000)
    assert facts(out) == ["SpeechStarted", "UtteranceCaptured"]
    captured = emitted(out, m.UtteranceCaptured)
    assert captured["sample_rate"] == 16000 and captured["end_reason"] == "silence"
    assert (
        len(captured["pcm"]) > 16000
        and captured["utterance_id"] == emitted(out, m.SpeechStarted)["utterance_id"]
    )
    assert isinstance(sent(out)[0], p.SpeechDetected)


def test_typed_text_is_an_utterance_with_text() -> None:
    call = opened()
    out = call.receive('{"type":"text","text":"where are you"}', 101.0)
    captured = emitted(out, m.UtteranceCaptured)
    assert (captured["text"], captured["pcm"], captured["end_reason"]) == ("where are you", b"", "typed")
    assert call.receive('{"type":"ping"}', 101.0) == [SendText(p.Pong())]


def test_bad_frames_get_errors_until_too_many() -> None:
    call = opened(p.Limits(max_errors=2))
    assert sent(call.receive("{", 101.0)) == [p.Error("bad_json", "text frame is not valid JSON")]
    assert sent(call.receive(b"\x01", 101.0))[0].code == "bad_audio"  # type: ignore[attr-defined]
    out = call.receive('{"type":"x"}', 101.0)
    assert closes(out) == [Close(1008, "too many bad frames")]
    assert emitted(out, m.CallEnded)["reason"] == "too_many_errors"
    assert call.ended and call.receive('{"type":"ping"}', 102.0) == []


def test_hostile_text_frames_are_answered_with_errors_and_record_nothing() -> None:
    """Found by bench/fuzz_edge.py: deep nesting raised RecursionError and a lone surrogate reached the
    fact encoder (UnicodeEncodeError); both escaped the /ws handler and closed the call with 1011."""
    call = opened()
    for frame in ("[" * 2100, '{"type":"text","text":"\\ud800 hi"}'):
        out = call.receive(frame, 101.0)
        assert [type(x) for x in out] == [SendText] and sent(out)[0].code in ("bad_json", "bad_field")  # type: ignore[attr-defined]
    assert not call.ended


def test_an_oversized_frame_closes_with_1009() -> None:
    call = opened(p.Limits(max_frame_bytes=1280))
    out = call.receive(b"\x00" * 1282, 101.0)
    assert closes(out) == [Close(1009, "audio frame of 1282 bytes exceeds 1280")]
    assert emitted(out, m.CallEnded)["hangup_by"] == "system"


def test_session_audio_budget_and_pace() -> None:
    call = opened(p.Limits(max_session_audio_s=1.0))
    call.receive(b"\x00" * 32000, 101.0)
    out = call.receive(b"\x00\x00", 101.1)
    assert closes(out) == [Close(1009, "session audio exceeds 1 s")]
    fast = opened(p.Limits(max_audio_lead_s=1.0))
    for _ in range(2):
        assert closes(fast.receive(b"\x00" * 32000, 100.0)) == []  # 1 s each, at t=0
    assert closes(fast.receive(b"\x00" * 640, 100.0)) == [Close(1008, "audio faster than real time")]


def test_idle_timeout() -> None:
    call = opened(p.Limits(idle_timeout_s=5.0))
    assert call.next_deadline == 105.0
    call.receive('{"type":"ping"}', 103.0)
    assert call.next_deadline == 108.0
    assert call.tick(107.0) == []
    out = call.tick(108.0)
    assert closes(out) == [Close(1008, "idle for 5 s")]
    assert emitted(out, m.CallEnded)["reason"] == "idle_timeout"
    assert call.next_deadline is None


def play(call: WebCall, now: float, ms: int = 1000, rate: int = 16000, barge_in: bool = True) -> list[Any]:
    pcm = (np.ones(rate * ms // 1000, dtype=np.int16) * 1000).astype("<i2").tobytes()
    return call.execute(command(m.PlayAudio, call.call_id, playback_id="r1", pcm=pcm, sample_rate=rate,
                                barge_in=barge_in), now)  # fmt: skip


def run_until_quiet(call: WebCall, start: float, until: float) -> list[Any]:
    out: list[Any] = []
    t = start
    while (deadline := call.next_deadline) is not None and deadline <= until:
        t = max(t, deadline)
        out += call.tick(t)
    return out


def test_play_audio_is_paced_and_reported() -> None:
    call = opened()
    out = play(call, 110.0)
    assert facts(out) == ["PlaybackStarted"]
    assert emitted(out, m.PlaybackStarted)["duration_ms"] == 1000
    out += run_until_quiet(call, 110.0, 112.0)
    audio = b"".join(e.pcm for e in out if isinstance(e, SendAudio))
    assert len(audio) == 32000
    finished = emitted(out, m.PlaybackFinished)
    assert finished == {"playback_id": "r1", "interrupted": False, "played_ms": 1000, "duration_ms": 1000,
                        "reason": "completed"}  # fmt: skip
    assert [s.event for s in sent(out) if isinstance(s, p.PlaybackEvent)] == ["started", "finished"]


def test_8khz_audio_is_resampled_to_16khz() -> None:
    call = opened()
    out = play(call, 110.0, rate=8000) + run_until_quiet(call, 110.0, 112.0)
    assert sum(len(e.pcm) for e in out if isinstance(e, SendAudio)) == 32000


def test_caller_speech_barges_in() -> None:
    call = opened()
    play(call, 110.0, ms=3000)
    out: list[Any] = []
    speech = question()
    for i in range(0, 16000, 640):
        out += call.receive(speech[i : i + 640], 110.5)
    finished = emitted(out, m.PlaybackFinished)
    assert (finished["interrupted"], finished["reason"], finished["played_ms"]) == (True, "barge_in", 500)
    assert p.PlaybackEvent("r1", "stopped", 3000, 500) in sent(out)


def test_a_prompt_without_barge_in_plays_on() -> None:
    call = opened()
    play(call, 110.0, ms=3000, barge_in=False)
    out = call.receive(question()[:16000], 110.5)
    assert "PlaybackFinished" not in facts(out)


def test_stop_playback_command() -> None:
    call = opened()
    play(call, 110.0)
    out = call.execute(command(m.StopPlayback, "c-1", playback_id=None), 110.2)
    assert emitted(out, m.PlaybackFinished)["reason"] == "stopped"


def test_hangup_waits_for_the_goodbye_to_play() -> None:
    call = opened()
    play(call, 110.0, barge_in=False)
    assert closes(call.execute(command(m.Hangup, "c-1", reason="dialog_complete"), 110.1)) == []
    out = run_until_quiet(call, 110.1, 120.0)
    assert facts(out)[-2:] == ["PlaybackFinished", "CallEnded"]
    assert p.Hangup("dialog_complete") in sent(out)
    assert closes(out) == [Close(1000, "hangup: dialog_complete")]
    ended = emitted(out, m.CallEnded)
    assert (ended["hangup_by"], ended["talk_ms"], ended["sip_status"]) == ("agent", 11000, 200)


def test_client_close_flushes_speech_and_stops_playback() -> None:
    call = opened()
    call.receive(question()[:24000], 101.0)  # speech in progress
    play(call, 101.0)
    out = call.peer_closed(101.2)
    assert facts(out) == ["UtteranceCaptured", "PlaybackFinished", "CallEnded"]
    assert emitted(out, m.UtteranceCaptured)["end_reason"] == "stream_end"
    assert emitted(out, m.PlaybackFinished)["reason"] == "hangup"
    assert emitted(out, m.CallEnded)["hangup_by"] == "caller"
    assert closes(out) == []
    assert call.peer_closed(102.0) == []


def test_client_hangup_message_and_shutdown() -> None:
    call = opened()
    out = call.receive('{"type":"hangup"}', 101.0)
    assert emitted(out, m.CallEnded)["reason"] == "caller_hangup"
    assert closes(out) == [Close(1000, "caller hung up")]
    other = opened()
    assert closes(other.shutdown(101.0)) == [Close(1001, "server shutting down")]


def test_facts_from_the_log_reach_the_client() -> None:
    call = opened()

    def fact(cls: type[Any], call_id: str = "c-1", **fields: Any) -> Any:
        return command(cls, call_id, **fields)

    heard = fact(m.UtteranceTranscribed, utterance_id="u1", text="opening hours", language="en-US",
                 is_final=True, engine="w", latency_ms=1.0)  # fmt: skip
    assert sent(call.observe(heard)) == [p.Transcript("u1", "opening hours", True)]
    early = fact(m.UtteranceTranscribed, utterance_id="u1:early:3", text="opening hours", language="en-US",
                 is_final=True, engine="partial", latency_ms=0.0)  # fmt: skip
    assert call.observe(early) == []  # the answer's turn, not the caller's words again
    reply = fact(m.AgentReplied, reply_id="r1", text="Nine to five.", engine="kb", latency_ms=1.0,
                 end_conversation=False)  # fmt: skip
    assert sent(call.observe(reply)) == [p.Reply("r1", "Nine to five.", False)]
    state = fact(m.DialogStateChanged, from_state="LISTENING", to_state="THINKING", trigger="x", turn=1)
    assert sent(call.observe(state)) == [p.StateChange("LISTENING", "THINKING", 1)]
    assert call.observe(fact(m.DialogStateChanged, "other", from_state="A", to_state="B", trigger="x")) == []


def test_play_audio_without_pcm_and_foreign_commands() -> None:
    call = opened()
    out = call.execute(command(m.PlayAudio, "c-1", playback_id="x", pcm=None, sample_rate=16000,
                               barge_in=True), 101.0)  # fmt: skip
    assert emitted(out, m.PlaybackFinished)["reason"] == "error"
    with pytest.raises(ValueError, match="a web call cannot carry out StartRecording"):
        call.execute(
            command(m.StartRecording, "c-1", recording_id="r", output_uri="file:///tmp/x.wav"), 101.0
        )


def test_a_web_caller_known_to_configuration_is_named_on_dialplan_resolved() -> None:
    from edge.uas.callerid import Caller

    known = Caller("contact", "c-alice", "Alice", "en-GB", '{"tier": "gold"}')
    out = WebCall("c-9", PEER, known=known).open(0.0)
    (resolved,) = [e.fact for e in out if isinstance(e, Emit) and isinstance(e.fact, m.DialplanResolved)]
    assert (resolved.caller, resolved.caller_matched_by, resolved.caller_name, resolved.caller_profile) == (
        "alice",
        "contact",
        "Alice",
        '{"tier": "gold"}',
    )
    out = WebCall("c-10", PEER).open(0.0)  # `?caller=alice` alone names nobody
    (resolved,) = [e.fact for e in out if isinstance(e, Emit) and isinstance(e.fact, m.DialplanResolved)]
    assert (resolved.caller, resolved.caller_matched_by, resolved.caller_name) == ("alice", "none", None)


def test_pieces_of_a_streamed_reply_talked_over_are_not_played() -> None:
    call = opened()
    pcm = (np.ones(16000 * 3, dtype=np.int16) * 1000).astype("<i2").tobytes()

    def piece(playback_id: str, now: float) -> list[Any]:
        return call.execute(
            command(m.PlayAudio, call.call_id, playback_id=playback_id, pcm=pcm, sample_rate=16000), now
        )

    piece("r1#0", 110.0)
    out: list[Any] = []
    speech = question()
    for i in range(0, 16000, 640):
        out += call.receive(speech[i : i + 640], 110.5)
    assert p.PlaybackEvent("r1#0", "stopped", 3000, 500) in sent(out)
    # The next piece was on its way before the dialog heard the caller: refused, reported at once.
    out = piece("r1#1", 110.6)
    assert emitted(out, m.PlaybackFinished) == {
        "playback_id": "r1#1", "interrupted": True, "played_ms": 0, "duration_ms": 0, "reason": "barge_in",
    }  # fmt: skip
    assert not any(isinstance(e, SendAudio) for e in out + run_until_quiet(call, 110.6, 111.0))
    out = piece("r2", 111.0)  # the next reply plays
    assert facts(out) == ["PlaybackStarted"]


def test_speech_between_two_pieces_of_a_streamed_reply_talks_over_it() -> None:
    """The first piece played out and the next is still being written when the caller speaks: the
    next piece, sent before the dialog heard them, is refused."""
    call = opened()
    short = (np.ones(1600, dtype=np.int16) * 1000).astype("<i2").tobytes()  # 100 ms
    call.execute(command(m.PlayAudio, call.call_id, playback_id="r1#0", pcm=short, sample_rate=16000), 110.0)
    out = run_until_quiet(call, 110.0, 110.5)
    assert emitted(out, m.PlaybackFinished)["reason"] == "completed"
    speech = question()
    for i in range(0, 16000, 640):
        out += call.receive(speech[i : i + 640], 110.6)
    assert "SpeechStarted" in facts(out)
    out = call.execute(
        command(m.PlayAudio, call.call_id, playback_id="r1#1", pcm=short, sample_rate=16000), 110.7
    )
    assert emitted(out, m.PlaybackFinished)["reason"] == "barge_in"
    assert not any(isinstance(e, SendAudio) for e in out + run_until_quiet(call, 110.7, 111.0))


# --- answers prepared at a pause of the caller (as edge.media.session) -----------------------------------

PAUSING = vad_config(chunk_ms=500, pause_ms=160, end_silence_ms=500)
SECOND = SPEECH.with_name("where_are_you_16k.wav")
TONE = (np.ones(1600, dtype=np.int16) * 1000).astype("<i2").tobytes()  # 100 ms


def silence(ms: int) -> bytes:
    return bytes(ms * p.AUDIO_RATE // 1000 * 2)


class Caller:
    """The caller's audio, fed in 20 ms frames at the pace it was spoken, from where it stopped last
    (as the media session's tests feed RTP)."""

    def __init__(self, call: WebCall, pcm: bytes) -> None:
        self.call, self.pcm, self.at = call, pcm, 0

    @property
    def now(self) -> float:
        return 100.0 + self.at / (p.AUDIO_RATE * 2)

    def until(self, done: Any) -> list[Any]:
        """Feed frames until ``done(effects so far)``; returns those effects."""
        out: list[Any] = []
        while self.at < len(self.pcm):
            out += self.call.receive(self.pcm[self.at : self.at + p.FRAME_BYTES], self.now)
            self.at += p.FRAME_BYTES
            if done(out):
                return out
        raise AssertionError("the caller's audio ended first")


def pause_chunks(effects: list[Any]) -> list[m.UtteranceChunkCaptured]:
    facts = [e.fact for e in effects if isinstance(e, Emit)]
    return [f for f in facts if isinstance(f, m.UtteranceChunkCaptured) and f.pause]


def captured(effects: list[Any]) -> bool:
    return "UtteranceCaptured" in facts(effects)


def answer(call: WebCall, playback_id: str, utterance_id: str, now: float) -> list[Any]:
    """The dialog's answer prepared at the caller's pause in ``utterance_id``."""
    play = command(m.PlayAudio, call.call_id, playback_id=playback_id, pcm=TONE, sample_rate=16000,
                   barge_in=True, after_utterance=utterance_id)  # fmt: skip
    return call.execute(play, now)


def finished(effects: list[Any]) -> list[tuple[str, str]]:
    return [
        (e.fact.playback_id, e.fact.reason)
        for e in effects
        if isinstance(e, Emit) and isinstance(e.fact, m.PlaybackFinished)
    ]


def test_a_pause_of_the_caller_is_a_pause_chunk_on_the_log() -> None:
    call = opened(vad=PAUSING)
    out = Caller(call, question() + silence(1000)).until(pause_chunks)
    (chunk,) = pause_chunks(out)
    assert chunk.utterance_id == emitted(out, m.SpeechStarted)["utterance_id"]
    assert chunk.sample_rate == 16000 and chunk.pcm and chunk.end_ms > chunk.start_ms
    record = FactRecorder(ListPublisher(), "edge-test").record(chunk)
    assert decode(encode(record)) == record and record.pause  # the flag survives the codec
    # partials without a pause: chunks, none of them a pause chunk
    out = Caller(opened(vad=vad_config(chunk_ms=500)), question() + silence(1000)).until(captured)
    assert "UtteranceChunkCaptured" in facts(out) and not pause_chunks(out)


def test_an_answer_prepared_at_a_pause_plays_the_moment_the_utterance_ends() -> None:
    call = opened(vad=PAUSING)
    caller = Caller(call, question() + silence(1000))
    (chunk,) = pause_chunks(caller.until(pause_chunks))
    assert answer(call, "r1", chunk.utterance_id, caller.now) == []  # held: the caller may go on
    assert not call.playout.playing and call.playout.next_deadline is None
    out = caller.until(captured)
    assert facts(out)[-2:] == ["UtteranceCaptured", "PlaybackStarted"]  # on the frame that ends it
    assert emitted(out, m.UtteranceCaptured)["utterance_id"] == chunk.utterance_id
    assert p.PlaybackEvent("r1", "started", 100) in sent(out) and any(isinstance(e, SendAudio) for e in out)
    assert finished(run_until_quiet(call, caller.now, caller.now + 1)) == [("r1", "completed")]


def test_an_answer_prepared_at_a_pause_is_dropped_when_the_caller_speaks_on() -> None:
    call = opened(vad=PAUSING)
    first = question()[: 1460 * 32]  # "what are your opening", then 400 ms of silence
    caller = Caller(call, first + silence(400) + SECOND.read_bytes()[44:] + silence(1000))
    (chunk,) = pause_chunks(caller.until(pause_chunks))
    uid = chunk.utterance_id
    assert answer(call, "r1#0", uid, caller.now) == []
    out = caller.until(finished)
    assert emitted(out, m.PlaybackFinished) == {
        "playback_id": "r1#0", "interrupted": True, "played_ms": 0, "duration_ms": 0,
        "reason": "caller_resumed",
    }  # fmt: skip
    assert not captured(out)  # dropped while the caller speaks on, not at the end
    # a later piece of that answer, still on its way: never played
    assert finished(answer(call, "r1#1", uid, caller.now)) == [("r1#1", "caller_resumed")]
    out += caller.until(captured)
    assert emitted(out, m.UtteranceCaptured)["utterance_id"] == uid  # one utterance, both phrases
    assert finished(answer(call, "r1#2", uid, caller.now)) == [("r1#2", "caller_resumed")]  # even now
    assert "PlaybackStarted" not in facts(out) and not call.playout.playing
    assert not any(isinstance(e, SendAudio) or isinstance(getattr(e, "message", None), p.PlaybackEvent)
                   for e in out)  # the client heard nothing of it  # fmt: skip


def test_an_answer_for_an_utterance_that_already_ended_plays_at_once() -> None:
    call = opened(vad=PAUSING)
    caller = Caller(call, question() + silence(1000))
    uid = emitted(caller.until(captured), m.UtteranceCaptured)["utterance_id"]
    assert facts(answer(call, "r1", uid, caller.now)) == ["PlaybackStarted"]


def test_a_stop_or_a_hangup_drops_a_held_answer() -> None:
    call = opened(vad=PAUSING)
    caller = Caller(call, question() + silence(1000))
    (chunk,) = pause_chunks(caller.until(pause_chunks))
    answer(call, "r1#0", chunk.utterance_id, caller.now)
    answer(call, "r2", chunk.utterance_id, caller.now)
    out = call.execute(command(m.StopPlayback, "c-1", playback_id="r1"), caller.now)
    assert finished(out) == [("r1#0", "stopped")] and sent(out) == []  # the client heard nothing of it
    out = call.peer_closed(caller.now)
    assert facts(out) == ["PlaybackFinished", "UtteranceCaptured", "CallEnded"]  # never played
    assert finished(out) == [("r2", "hangup")]
    assert emitted(out, m.PlaybackFinished)["played_ms"] == 0


# --- the text of an answer prepared at a pause: shown when it is heard ------------------------------------


def replied(call: WebCall, turn: str) -> Any:
    """The dialog engine's whole reply to ``turn`` (``<utterance>:early:<n>`` for an early turn)."""
    return command(m.AgentReplied, call.call_id, reply_id=f"{turn}:reply", utterance_id=turn,
                   text="Nine to five.", engine="kb", latency_ms=1.0)  # fmt: skip


def replies(effects: list[Any]) -> list[str]:
    return [s.reply_id for s in sent(effects) if isinstance(s, p.Reply)]


def test_an_early_reply_is_sent_right_before_its_audio_starts() -> None:
    call = opened(vad=PAUSING)
    caller = Caller(call, question() + silence(1000))
    (chunk,) = pause_chunks(caller.until(pause_chunks))
    turn = f"{chunk.utterance_id}:early:1"
    assert call.observe(replied(call, turn)) == []  # written, but not yet known to be heard
    assert answer(call, f"{turn}:reply", chunk.utterance_id, caller.now) == []  # held
    out = caller.until(captured)
    texts = sent(out)
    started = texts.index(p.PlaybackEvent(f"{turn}:reply", "started", 100))
    assert texts[started - 1] == p.Reply(f"{turn}:reply", "Nine to five.", False)  # right before it
    assert replies(out) == [f"{turn}:reply"]  # once
    assert replies(run_until_quiet(call, caller.now, caller.now + 1)) == []


def test_the_text_of_an_early_answer_dropped_unheard_is_never_sent() -> None:
    # the caller speaks on: the text written while its audio was held, and one written after, go
    call = opened(vad=PAUSING)
    first = question()[: 1460 * 32]  # "what are your opening", then 400 ms of silence
    caller = Caller(call, first + silence(400) + SECOND.read_bytes()[44:] + silence(1000))
    (chunk,) = pause_chunks(caller.until(pause_chunks))
    uid = chunk.utterance_id
    assert call.observe(replied(call, f"{uid}:early:1")) == []
    answer(call, f"{uid}:early:1:reply#0", uid, caller.now)
    out = caller.until(finished)
    assert finished(out) == [(f"{uid}:early:1:reply#0", "caller_resumed")]
    assert call.observe(replied(call, f"{uid}:early:2")) == []  # an answer to the same half sentence
    out += caller.until(captured) + answer(call, f"{uid}:early:1:reply#1", uid, caller.now)
    out += run_until_quiet(call, caller.now, caller.now + 2)
    assert replies(out) == [] and not call._early_texts  # forgotten, not only unsent
    # stopped while held, and stopped while queued behind a prompt that plays on: never sent
    call = opened(vad=PAUSING)
    call.execute(command(m.PlayAudio, "c-1", playback_id="hold", pcm=silence(8000), sample_rate=16000,
                         barge_in=False), 100.0)  # fmt: skip
    caller = Caller(call, question() + silence(1000))
    (chunk,) = pause_chunks(caller.until(pause_chunks))
    uid = chunk.utterance_id
    for n in (1, 2):
        call.observe(replied(call, f"{uid}:early:{n}"))
    answer(call, f"{uid}:early:1:reply", uid, caller.now)
    out = call.execute(command(m.StopPlayback, "c-1", playback_id=f"{uid}:early:1:reply"), caller.now)
    assert finished(out) == [(f"{uid}:early:1:reply", "stopped")]
    answer(call, f"{uid}:early:2:reply", uid, caller.now)
    out = caller.until(captured)  # released: queued behind the prompt playing
    assert "PlaybackStarted" not in facts(out)
    out += call.execute(command(m.StopPlayback, "c-1", playback_id=f"{uid}:early:2:reply"), caller.now)
    assert finished(out) == [(f"{uid}:early:2:reply", "stopped")]
    assert emitted(out, m.PlaybackFinished)["played_ms"] == 0
    out += run_until_quiet(call, caller.now, caller.now + 10)
    assert replies(out) == [] and not call._early_texts
    # the call ends while one is held: never sent (and nothing is sent after the end)
    call = opened(vad=PAUSING)
    caller = Caller(call, question() + silence(1000))
    (chunk,) = pause_chunks(caller.until(pause_chunks))
    call.observe(replied(call, f"{chunk.utterance_id}:early:1"))
    answer(call, f"{chunk.utterance_id}:early:1:reply", chunk.utterance_id, caller.now)
    out = call.peer_closed(caller.now)
    assert finished(out) == [(f"{chunk.utterance_id}:early:1:reply", "hangup")] and replies(out) == []


def test_an_early_reply_whose_audio_already_started_is_sent_at_once() -> None:
    """A streamed reply: its first piece plays (the utterance had ended) before its whole text is written."""
    call = opened(vad=PAUSING)
    caller = Caller(call, question() + silence(1000))
    uid = emitted(caller.until(captured), m.UtteranceCaptured)["utterance_id"]
    turn = f"{uid}:early:1"
    out = answer(call, f"{turn}:reply#0", uid, caller.now)
    assert facts(out) == ["PlaybackStarted"] and replies(out) == []
    assert sent(call.observe(replied(call, turn))) == [p.Reply(f"{turn}:reply", "Nine to five.", False)]


def test_an_ordinary_reply_is_sent_at_once_and_waiting_texts_are_few() -> None:
    call = opened(vad=PAUSING)
    for turn in ("u1", "u1:reply:early:x"):  # a caller's utterance; not an early turn's id either
        assert replies(call.observe(replied(call, turn))) == [f"{turn}:reply"]
    # early texts waiting for audio that may never come: the oldest are forgotten
    for n in range(1, 7):
        assert call.observe(replied(call, f"u2:early:{n}")) == []
    assert replies(answer(call, "u2:early:2:reply", "u2", 110.0)) == []  # forgotten
    out = answer(call, "u2:early:6:reply", "u2", 110.0) + run_until_quiet(call, 110.0, 112.0)
    assert replies(out) == ["u2:early:6:reply"]
