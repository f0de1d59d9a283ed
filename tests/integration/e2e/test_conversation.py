"""A caller holds a real conversation: sipp ↔ the edge ↔ the log ↔ a streams worker, end to end.

One private broker (`fresh_kafka`) for the module, the edge in this process, the worker as a
subprocess with the embedded engines (Whisper base, the Harbour Bikes knowledge base, hibari).
sipp places the call and speaks from a pcap; tshark records what the edge sends back on the wire.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge.app import EdgeApp
from schemas import models as m
from schemas.playback_ids import family_of, in_family, piece_playback_id
from schemas.turn_ids import EARLY_ENGINE
from sentiric.eventlog.producer import EventProducer
from sentiric.eventlog.topics import commands_topic
from streams.agents.speech import ENGINE_SOURCE
from streams.dialog.completeness import looks_unfinished, normalized
from streams.dialog.machine import TURN_ENGINE
from streams.engines.knowledge import load_knowledge
from streams.engines.whisper import WhisperSTT
from tests.integration.e2e.stack import (
    ORDER_PCAP,
    QUESTION_PCAP,
    ROOT,
    CallLog,
    Capture,
    Logged,
    Worker,
    answering,
    caller_scenario,
    is_,
    pcm_of,
    rms,
    served,
    settled,
    start_edge,
)
from tests.support.sipp import run_sipp

QUESTION_MS = 3600  # the pcap: 0.2 s silence, 1.86 s question, 1.5 s silence
ORDER_MS = 4780  # 0.2 s silence, "My order number is" 1.16 s, 1 s silence, "four five six" 1.9 s, 1.5 s
HOURS = next(e for e in load_knowledge() if e.entity_id == "hours")
WHOLE_CONVERSATION = [
    ("fact", "CallInviteReceived"),
    ("fact", "CallAnswered"),
    ("fact", "CallEstablished"),
    ("cmd", "PlayAudio"),  # the greeting
    ("fact", "PlaybackStarted"),
    ("fact", "PlaybackFinished"),
    ("fact", "SpeechStarted"),
    ("fact", "UtteranceTranscribed"),  # the words up to the caller's pause
    ("fact", "AgentReplied"),
    ("fact", "SpeechSynthesized"),
    # the answer's PlayAudio: prepared at the pause, before or after the end silence ends the utterance
    # (the command's place among the facts varies; it is asserted in the test, as is its start after)
    ("fact", "PlaybackStarted"),
    ("fact", "PlaybackFinished"),
    ("fact", "CallEnded"),
    ("fact", "MediaPortReleased"),
]


@dataclass
class Stack:
    bootstrap: str
    edge: EdgeApp
    worker: Worker
    log: CallLog
    stt: WhisperSTT

    @property
    def node(self) -> str:
        return self.edge.settings.node_id


@pytest.fixture(scope="module")
async def stack(
    fresh_kafka: str, tmp_path_factory: pytest.TempPathFactory, machine_cache_dir: Path
) -> AsyncIterator[Stack]:
    home = tmp_path_factory.mktemp("e2e")
    # creates the topics the worker joins; admits agent calls only while the worker serves them
    # The answer prepared at the caller's pause (SENTIRIC_VAD_PAUSE_MS, off by default) is on here.
    edge = await start_edge(fresh_kafka, home / "edge", require_worker=True, vad_pause_ms=160)
    # the knowledge engine's answers streamed sentence by sentence, as with an LLM
    worker = Worker(fresh_kafka, home / "worker", machine_cache_dir, SENTIRIC_STREAM_KNOWLEDGE_REPLIES="true")
    log = CallLog(fresh_kafka, edge.settings.node_id, alive=worker.alive)
    try:
        worker.start()
        await log.start()
        stt = await asyncio.to_thread(WhisperSTT, machine_cache_dir)
        await worker.ready()
        await served(edge)
        yield Stack(fresh_kafka, edge, worker, log, stt)
    finally:
        await log.stop()
        await edge.stop()
        worker.stop()


def new_call(stack: Stack, after: int) -> str:
    invites = [r for r in stack.log.records[after:] if is_(m.CallInviteReceived, source=stack.node)(r.record)]
    assert len(invites) == 1, [r.kind for r in stack.log.records[after:]]
    return str(invites[0].record.call_id)


def one(records: list[Logged], cls: type[Any], **fields: Any) -> Any:
    found = [r.record for r in records if is_(cls, **fields)(r.record)]
    assert len(found) == 1, f"{len(found)} {cls.__name__} {fields}"
    return found[0]


async def replay_timeline(stack: Stack, call_id: str) -> list[tuple[str, str, str]]:
    """`sentiric replay call <id>` as a subprocess: (fact|cmd, type, line) per printed line. Not
    `subprocess.run`: a blocked event loop stalls the in-process edge, which then sheds calls (503)."""
    env = {"SENTIRIC_KAFKA_BOOTSTRAP": stack.bootstrap, "PATH": "/usr/bin:/bin"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sentiric.cli", "replay", "call", call_id,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    lines = [line for line in out.decode().splitlines() if line.strip()]
    return [(line.split()[1], line.split()[3], line) for line in lines]


async def answer_played(stack: Stack, reply_id: str, within_s: float = 90.0) -> Logged:
    """Until the reply's last piece (or the reply, voiced whole) has played at the edge."""
    last = await stack.log.wait_for(
        is_(m.SpeechSynthesized, reply_id=reply_id, last=True), "the answer voiced", within_s
    )
    playback_id = piece_playback_id(reply_id, last.record.part, True)
    if not last.record.pcm:  # the pieces said everything: the one before is the last heard
        playback_id = piece_playback_id(reply_id, last.record.part - 1, False)
    return await stack.log.wait_for(
        is_(m.PlaybackFinished, playback_id=playback_id), "the answer played", within_s
    )


def is_subsequence(wanted: list[tuple[str, str]], seen: list[tuple[str, str]]) -> bool:
    it = iter(seen)
    return all(step in it for step in wanted)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


async def test_a_caller_asks_for_the_opening_hours(stack: Stack, tmp_path: Path) -> None:
    settings = stack.edge.settings
    capture = Capture(tmp_path / "wire.pcap", settings.rtp_port_min, settings.rtp_port_max)
    await capture.start()
    scenario = caller_scenario(
        tmp_path, QUESTION_PCAP, before_ms=5000, pcap_ms=QUESTION_MS, after_ms=30000
    )  # greeting (about 3.5 s) first; 30 s for the answer (about 9 s of speech), then the caller's BYE
    start = len(stack.log.records)
    await settled(stack.edge)
    try:
        result = await run_sipp(stack.edge.sip_port, tmp_path, scenario=scenario, timeout_s=90)
    finally:
        packets = await capture.stop()
    assert result.returncode == 0, result.describe()
    call_id = new_call(stack, start)
    await stack.log.wait_for(is_(m.MediaPortReleased, call_id=call_id), "MediaPortReleased")
    records = stack.log.of(call_id)

    # The edge heard one utterance, the worker understood it and answered from the knowledge base.
    captured = one(records, m.UtteranceCaptured)
    assert captured.source == stack.node and captured.sample_rate in (8000, 16000)
    assert 1500 <= captured.end_ms - captured.start_ms <= 3000  # the 1.86 s question
    heard = one(records, m.UtteranceTranscribed, utterance_id=captured.utterance_id, is_final=True)
    assert {"opening", "hours"} <= words(heard.text), heard.text

    # While the caller spoke, the edge recorded the audio so far and the worker published partial
    # transcripts of it, all on the log before the final transcript.
    order = [r.record for r in records]
    chunks = [f for f in order if is_(m.UtteranceChunkCaptured, utterance_id=captured.utterance_id)(f)]
    assert len(chunks) >= 2 and [c.index for c in chunks] == list(range(len(chunks)))
    assert captured.pcm.startswith(b"".join(c.pcm for c in chunks))
    assert order.index(chunks[-1]) < order.index(captured)
    partial = is_(m.UtteranceTranscribed, utterance_id=captured.utterance_id, is_final=False)
    partials = [f for f in order if partial(f)]
    assert partials and all(p.text.strip() for p in partials), [p.text for p in partials]
    assert order.index(partials[-1]) < order.index(heard)
    assert any(words(p.text) & {"what", "your", "opening"} for p in partials), [p.text for p in partials]

    # The caller fell silent after the question: the edge sent the audio up to that pause at once (a
    # pause chunk), the worker transcribed it before the others, and the dialog prepared the answer
    # from those words (an early turn), all before the end silence ended the utterance.
    pause = [c for c in chunks if c.pause]
    assert len(pause) == 1 and pause[0] is chunks[-1], [(c.index, c.pause) for c in chunks]
    at_pause = [p for p in partials if p.pause]
    assert at_pause and {"opening", "hours"} <= words(at_pause[-1].text), [p.text for p in partials]
    (early,) = [r for r in order if is_(m.UtteranceTranscribed, engine=EARLY_ENGINE)(r)]
    assert early.text == at_pause[-1].text and order.index(at_pause[-1]) < order.index(early)
    # The final transcript said the same words, so the prepared answer is the turn's, answered once:
    # its audio waited at the edge (after_utterance) and started once the utterance had ended.
    kept = normalized(early.text) == normalized(heard.text)
    turn_id = early.utterance_id if kept else captured.utterance_id
    engine_replies = [r for r in order if is_(m.AgentReplied, source=ENGINE_SOURCE, final=True)(r)]
    assert [r.utterance_id for r in engine_replies] == (
        [early.utterance_id] if kept else [early.utterance_id, captured.utterance_id]
    ), (early.text, heard.text)
    answer = one(records, m.AgentReplied, utterance_id=turn_id, final=True)
    assert (answer.text, answer.intent, answer.engine) == (HOURS.answer, "hours", "knowledge-base")
    # The two-sentence answer is streamed (`stream_replies`): its first sentence is voiced and played
    # on its own while TTS voices the rest (the final fact's `rest`).
    first = one(records, m.AgentReplied, utterance_id=turn_id, final=False)
    assert (first.part, answer.part) == (0, 1) and f"{first.text} {answer.rest}" == HOURS.answer
    voiced = [r for r in order if is_(m.SpeechSynthesized, reply_id=answer.reply_id)(r)]
    assert [(v.engine, v.part, v.last) for v in voiced] == [("hibari", 0, False), ("hibari", 1, True)]
    plays = [one(records, m.PlayAudio, playback_id=f"{answer.reply_id}#{v.part}") for v in voiced]
    assert [p.pcm for p in plays] == [v.pcm for v in voiced]
    if kept:
        assert plays[0].after_utterance == captured.utterance_id or order.index(plays[0]) > order.index(heard)
    starts = [one(records, m.PlaybackStarted, playback_id=p.playback_id) for p in plays]
    assert order.index(starts[0]) > order.index(captured)  # never while the caller might go on
    ends = [one(records, m.PlaybackFinished, playback_id=p.playback_id) for p in plays]
    assert all(not f.interrupted and f.reason == "completed" for f in ends)
    started, finished = starts[0], ends[-1]
    ended = one(records, m.CallEnded)
    assert (ended.reason, ended.hangup_by) == ("caller_bye", "caller")

    # The caller received the answer on the wire: RTP from the edge's port while it played.
    port = one(records, m.MediaPortAllocated).rtp_port
    begin, end = started.occurred_at.timestamp(), finished.occurred_at.timestamp()
    reply = [p for p in packets if p.src[1] == port and begin - 0.1 <= p.at <= end + 0.1]
    sent = [p for p in packets if p.src[1] == port]
    assert [p.rtp.sequence_number for p in sent] == [
        (sent[0].rtp.sequence_number + i) & 0xFFFF for i in range(len(sent))
    ]  # continuous, across the greeting, the silences and the answer
    pcm = pcm_of(reply)
    assert abs(pcm.size / 8000 - sum(x.duration_ms for x in starts) / 1000) < 0.3
    assert rms(pcm) > 300  # speech, not the silence the edge sends between prompts
    transcript = await asyncio.to_thread(stack.stt.transcribe, pcm.astype("<i2").tobytes(), 8000, "en-US")
    got = words(transcript.text)
    assert {"monday", "friday", "saturday", "morning", "evening", "closed"} <= got, transcript.text
    assert got & {"nine", "9"} and got & {"six", "6"}, got  # espeak-ng's "nine" was lost in µ-law

    # The whole conversation, in order, as `sentiric replay call` prints it.
    timeline = await replay_timeline(stack, call_id)
    assert is_subsequence(WHOLE_CONVERSATION, [(kind, type_) for kind, type_, _ in timeline]), [
        (kind, type_) for kind, type_, _ in timeline if type_ != "SipMessageObserved"
    ]
    # the answer's playback line carries the latency of each of its stages
    timed = next(line for _, kind, line in timeline if kind == "PlaybackStarted" and answer.reply_id in line)
    assert re.search(
        r"\| stt \d+ ms .* dialog \d+ ms .* tts \d+ ms .* playout \d+ ms  voice-to-voice \d+ ms$", timed
    ), timed


async def test_the_worker_killed_between_greeting_and_question(stack: Stack, tmp_path: Path) -> None:
    scenario = caller_scenario(
        tmp_path, QUESTION_PCAP, before_ms=12000, pcap_ms=QUESTION_MS, after_ms=120000
    )  # the question comes 12 s after the ACK (the greeting takes 4 to 5); the test hangs up once the
    # answer has been played
    start = len(stack.log.records)
    await settled(stack.edge)
    sipp = asyncio.create_task(run_sipp(stack.edge.sip_port, tmp_path, scenario=scenario, timeout_s=180))
    try:
        greeting = await stack.log.wait_for(
            lambda r: (
                isinstance(r, m.PlaybackFinished)
                and r.source == stack.node
                and any(
                    is_(m.CallInviteReceived, call_id=r.call_id)(x.record) for x in stack.log.records[start:]
                )
            ),
            "the greeting played",
        )
        call_id = greeting.record.call_id
        stack.worker.kill()
        killed_at = time.time()
        stack.worker.start()

        captured = await stack.log.wait_for(is_(m.UtteranceCaptured, call_id=call_id), "the question")
        assert captured.record.occurred_at.timestamp() > killed_at  # asked after the kill
        answered = await stack.log.wait_for(
            answering(captured.record.utterance_id, call_id=call_id, final=True), "the answer", 150
        )  # its own turn's, or the one prepared at the caller's pause
        reply_id = answered.record.reply_id
        await answer_played(stack, reply_id, 150)
        async with EventProducer(bootstrap_servers=stack.bootstrap) as producer:
            hangup = m.Hangup(
                event_id=uuid.uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC),
                source="e2e-test", trace_id=call_id, reason="test_done",
            )  # fmt: skip
            await producer.publish_and_wait(hangup, topic=commands_topic(stack.node))
        result = await sipp
    finally:
        if not sipp.done():
            sipp.cancel()
    assert result.returncode == 0, result.describe()
    assert new_call(stack, start) == call_id
    await stack.log.wait_for(is_(m.MediaPortReleased, call_id=call_id), "MediaPortReleased")
    records = stack.log.of(call_id)
    answer = answered.record
    assert answer.intent == "hours" and answer.text == HOURS.answer
    logged = next(r for r in records if r.record is answer)
    assert logged.timestamp_ms / 1000 > killed_at  # answered by the restarted worker
    assert stack.worker.starts == 2
    plays = [
        r.record
        for r in records
        if isinstance(r.record, m.PlayAudio) and in_family(r.record.playback_id, reply_id)
    ]
    assert plays and all(p.call_id == call_id and p.pcm for p in plays)
    ends = [one(records, m.PlaybackFinished, playback_id=p.playback_id) for p in plays]
    assert not any(f.interrupted for f in ends)
    # The restarted worker resumed the same dialog: it spoke, went back to listening, and the hang-up
    # ended it. Its state changes may come after the edge's port release (a worker that restarted is
    # still catching up on a slow machine), so the test waits for the last of them.
    await stack.log.wait_for(is_(m.DialogStateChanged, call_id=call_id, to_state="ENDED"), "the dialog ended")
    states = [
        (r.record.from_state, r.record.to_state)
        for r in stack.log.of(call_id)
        if r.kind == "DialogStateChanged"
    ]
    assert ("THINKING", "SPEAKING") in states, states
    assert states[-2:] == [("SPEAKING", "LISTENING"), ("LISTENING", "ENDED")], states
    assert one(records, m.CallEnded).hangup_by == "agent"


async def test_a_caller_who_pauses_mid_sentence_is_answered_once_after_the_whole_sentence(
    stack: Stack, tmp_path: Path
) -> None:
    """ "My order number is" … 1 s … "four five six": the edge ends an utterance after 500 ms of
    silence, so it captures two; the dialog holds the first (it reads unfinished), joins the second,
    and the engine answers the whole sentence once."""
    scenario = caller_scenario(tmp_path, ORDER_PCAP, before_ms=5000, pcap_ms=ORDER_MS, after_ms=120000)
    start = len(stack.log.records)
    await settled(stack.edge)
    sipp = asyncio.create_task(run_sipp(stack.edge.sip_port, tmp_path, scenario=scenario, timeout_s=180))
    try:
        invite = await stack.log.wait_for(
            lambda r: (
                is_(m.CallInviteReceived, source=stack.node)(r)
                and not any(x.record is r for x in stack.log.records[:start])
            ),
            "the call",
        )
        call_id = invite.record.call_id
        reply = await stack.log.wait_for(
            lambda r: is_(m.AgentReplied, call_id=call_id, source=ENGINE_SOURCE, final=True)(r),
            "the answer",
            120,
        )
        # sipp takes the BYE only once its pcap has been sent: hang up when the answer has played
        await answer_played(stack, reply.record.reply_id)
        async with EventProducer(bootstrap_servers=stack.bootstrap) as producer:
            hangup = m.Hangup(
                event_id=uuid.uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC),
                source="e2e-test", trace_id=call_id, reason="test_done",
            )  # fmt: skip
            await producer.publish_and_wait(hangup, topic=commands_topic(stack.node))
        result = await sipp
    finally:
        if not sipp.done():
            sipp.cancel()
    assert result.returncode == 0, result.describe()
    await stack.log.wait_for(is_(m.MediaPortReleased, call_id=call_id), "MediaPortReleased")
    records = stack.log.of(call_id)

    # The caller was cut in two by the edge; the first part's transcript reads unfinished.
    captured = [r.record for r in records if isinstance(r.record, m.UtteranceCaptured)]
    assert len(captured) == 2, [(c.start_ms, c.end_ms) for c in captured]
    first, second = (
        one(records, m.UtteranceTranscribed, utterance_id=c.utterance_id, is_final=True) for c in captured
    )
    assert looks_unfinished(first.text), first.text
    assert {"my", "order", "number", "is"} <= words(first.text), first.text

    # The dialog recorded the whole sentence as one caller turn, and only that turn was answered.
    turn = one(records, m.UtteranceTranscribed, engine=TURN_ENGINE)
    assert turn.text.startswith(first.text.rstrip(".…, ")) and turn.text.endswith(second.text), turn.text
    digits = "".join(re.findall(r"[0-9]", turn.text)) or " ".join(
        w for w in re.findall(r"[a-z]+", turn.text.lower()) if w in ("four", "five", "six")
    )
    assert digits in ("456", "four five six"), turn.text
    answers = [r.record for r in records if is_(m.AgentReplied, source=ENGINE_SOURCE, final=True)(r.record)]
    assert [a.utterance_id for a in answers] == [turn.utterance_id], [
        (a.utterance_id, a.text) for a in answers
    ]

    # It was answered after the second part, not in the pause: one LISTENING → THINKING, after both.
    thinking = [
        r for r in records if is_(m.DialogStateChanged, from_state="LISTENING", to_state="THINKING")(r.record)
    ]
    assert len(thinking) == 1
    second_logged = next(r for r in records if r.record is captured[1])
    assert thinking[0].timestamp_ms >= second_logged.timestamp_ms
    plays = [r.record for r in records if isinstance(r.record, m.PlayAudio)]
    assert plays[1:] and {family_of(p.playback_id) for p in plays[1:]} == {
        answers[0].reply_id
    }  # the greeting, then the answer
