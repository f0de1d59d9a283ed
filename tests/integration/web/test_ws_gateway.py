"""A spoken question over /ws on the real stack: Kafka, a streams worker (Whisper STT, knowledge-base
dialog, espeak-ng TTS) and the gateway. The browser's part is played by a `websockets` client.

The platform's defaults are on: partial transcripts, and the answer prepared at the caller's pause
(`vad_pause_ms`, `pause_answer`), which the gateway holds until the utterance ends, as a SIP call does."""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from edge.ws import protocol as p
from schemas.turn_ids import answered_utterance, is_early
from streams.engines.knowledge import load_knowledge
from tests.integration.web.conftest import AUTH, WebStack, wait_until

SPEECH = Path(__file__).parents[2] / "fixtures" / "speech" / "opening_hours_16k.wav"
WAIT_S = 180.0


class Conversation:
    """Everything the gateway sends, typed; binary audio filed under the playback that was playing."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[Any] = []
        self.audio: dict[str, bytearray] = {}
        self.playing: str | None = None
        self.closed = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    self.audio.setdefault(self.playing or "?", bytearray()).extend(frame)
                    continue
                message = p.parse_server(frame)
                if isinstance(message, p.PlaybackEvent):
                    self.playing = message.playback_id if message.event == "started" else None
                self.messages.append(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def find(self, kind: type[Any], **fields: Any) -> Any:
        for m in self.messages:
            if isinstance(m, kind) and all(getattr(m, k) == v for k, v in fields.items()):
                return m
        return None


def reply_turn(reply: p.Reply) -> str:
    """The turn a reply answers (an engine's reply id is ``<turn>:reply``)."""
    return reply.reply_id.removesuffix(":reply")


def question_pcm() -> bytes:
    with wave.open(str(SPEECH)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (16000, 2, 1)
        return w.readframes(w.getnframes())


async def test_spoken_question_gets_transcript_answer_and_audio(web_stack: WebStack) -> None:
    hours = next(e for e in load_knowledge() if e.entity_id == "hours")
    async with connect(web_stack.ws_url + "?caller=it-web&to=help", additional_headers=AUTH) as ws:
        session = p.SessionInfo.parse(await ws.recv())
        call_id = session.call_id
        talk = Conversation(ws)

        def wait(kind: type[Any], what: str, **fields: Any) -> Any:
            return wait_until(lambda: talk.find(kind, **fields), what, WAIT_S, web_stack.alive)

        greeting = await wait(p.Reply, "the greeting")
        await wait(p.PlaybackEvent, "the greeting played", playback_id=greeting.reply_id, event="finished")
        await wait(p.StateChange, "LISTENING", to_state="LISTENING")

        pcm = question_pcm() + bytes(2 * 16000)  # the question, then a second of silence
        for i in range(0, len(pcm), 3200):  # 100 ms frames, in real time: a caller speaking
            await ws.send(pcm[i : i + 3200])
            await asyncio.sleep(0.1)
        await ws.send(json.dumps({"type": "ping"}))

        speech = await wait(p.SpeechDetected, "the VAD onset")
        heard = await wait(p.Transcript, "the transcript", utterance_id=speech.utterance_id, final=True)
        assert {"opening", "hours"} <= set(heard.text.lower().replace("?", "").split())
        # Partial transcripts reached the browser while the caller was still speaking.
        transcripts = [m for m in talk.messages if isinstance(m, p.Transcript)]
        first_partial = next(
            (m for m in transcripts if m.utterance_id == speech.utterance_id and not m.final), None
        )
        assert first_partial is not None and first_partial.text.strip(), transcripts
        assert transcripts.index(first_partial) < transcripts.index(heard)

        def answers_the_question(playback_id: str) -> bool:
            return answered_utterance(playback_id.removesuffix(":reply")) == speech.utterance_id

        # The caller fell silent after the question: the gateway sent the words so far as a pause chunk
        # and the dialog prepared the answer to them, an early turn (`<utterance>:early:<n>`), before
        # the final transcript. Its transcript is the dialog's, not sent: the caller's words are shown once.
        # Its text is sent when its audio starts (never if dropped unheard, see the timeline below).
        first = await wait_until(
            lambda: next(
                (m for m in talk.messages if isinstance(m, p.Reply) and answers_the_question(m.reply_id)),
                None,
            ),
            "the answer",
            WAIT_S,
            web_stack.alive,
        )
        assert not [m for m in talk.messages if isinstance(m, p.Transcript) and is_early(m.utterance_id)]
        kept = False  # the prepared answer stopped before it played: the final transcript said other words
        if is_early(reply_turn(first)):
            # Its audio waited for the end of the utterance, then played; had the final transcript said
            # other words, it would have been stopped and theirs answered instead.
            heard_early = await wait_until(
                lambda: next(
                    (
                        m
                        for m in talk.messages
                        if isinstance(m, p.PlaybackEvent)
                        and m.playback_id == first.reply_id
                        and m.event in ("finished", "stopped")
                    ),
                    None,
                ),
                "the prepared answer played or stopped",
                WAIT_S,
                web_stack.alive,
            )
            kept = heard_early.event == "finished"
            # written before its audio was voiced (the knowledge base's reply is not streamed): sent with it
            after = talk.messages[talk.messages.index(first) + 1]
            assert after == p.PlaybackEvent(first.reply_id, "started", heard_early.duration_ms), after
        answer = first if kept else await wait(p.Reply, "the answer", reply_id=f"{speech.utterance_id}:reply")
        assert answer.text == hours.answer and not answer.end
        done = await wait(p.PlaybackEvent, "the answer played", playback_id=answer.reply_id, event="finished")
        audio = np.frombuffer(bytes(talk.audio[answer.reply_id]), dtype="<i2").astype(np.float64)
        assert len(audio) // 16 == done.duration_ms > 1000  # all of it, whole milliseconds
        assert np.sqrt(np.mean(audio**2)) > 300  # speech, not silence
        # Heard once: one answer to the question played, whole (kept: the one prepared at the pause;
        # else the prepared one was stopped and the final transcript's answer played).
        played = [
            m.playback_id
            for m in talk.messages
            if isinstance(m, p.PlaybackEvent)
            and m.event == "finished"
            and answers_the_question(m.playback_id)
        ]
        assert played == [answer.reply_id], (heard.text, played)
        if kept:  # and nothing else was said or sent for it
            assert [m.reply_id for m in talk.messages if isinstance(m, p.Reply) and m != greeting] == [
                answer.reply_id
            ]
            assert [k for k in talk.audio if answers_the_question(k)] == [answer.reply_id]
        assert talk.find(p.Pong) is not None
        assert [m.to_state for m in talk.messages if isinstance(m, p.StateChange)][:2] == [
            "GREETING",
            "LISTENING",
        ]

        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(talk.closed.wait(), 10)
        assert (ws.close_code, ws.close_reason) == (1000, "caller hung up")

    async def replayed() -> str:
        result = await asyncio.to_thread(web_stack.cli, "replay", "call", call_id)
        return result.stdout if "CallEnded" in result.stdout else ""

    timeline = ""
    for _ in range(50):
        timeline = await replayed()
        if timeline:
            break
        await asyncio.sleep(0.2)
    lines = timeline.splitlines()
    kinds = [line.split()[3] for line in lines]
    assert kinds[:4] == ["CallInviteReceived", "DialplanResolved", "CallAnswered", "CallEstablished"], (
        timeline
    )
    assert "channel=web" in lines[0] and "transport=ws" in lines[0] and "caller=it-web" in lines[0]
    assert "codec=L16/16000" in lines[2]
    expected = ["SpeechStarted", "UtteranceChunkCaptured", "UtteranceCaptured", "UtteranceTranscribed"]
    expected += ["AgentReplied", "SpeechSynthesized", "PlayAudio", "PlaybackStarted", "PlaybackFinished"]
    for kind in [*expected, "CallEnded"]:
        assert kind in kinds, kind
    early_turn = f"utterance_id={speech.utterance_id}:early:"  # prepared at the pause, heard or not
    assert any(" UtteranceTranscribed " in line and early_turn in line for line in lines), timeline
    # The answer prepared at the pause waited at the gateway: it started once the utterance had ended.
    captured_at = kinds.index("UtteranceCaptured")
    started_at = next(
        i for i, line in enumerate(lines) if " PlaybackStarted " in line and answer.reply_id in line
    )
    assert started_at > captured_at, timeline
    ended = next(line for line in lines if " CallEnded " in line)
    assert "hangup_by=caller" in ended and "reason=caller_hangup" in ended
    assert any(" cmd " in line and "PlayAudio" in line and answer.reply_id in line for line in lines)
