"""Two streams workers in one group; the one serving a call is killed -9 mid-conversation, and the other
takes over: the caller's next question is answered. The takeover time (kill -> the answer) is printed.

The e2e stack on one private broker: the edge in this process, two worker subprocesses (each its own
Faust client id, `sentiric-worker-<pid>`, so the group's assignment says which one holds the call), sipp
as the caller: greeted, then asking for the opening hours after the kill.
"""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from schemas import models as m
from sentiric.eventlog import topics
from sentiric.eventlog.consumer import partition_for
from sentiric.eventlog.producer import EventProducer
from streams.engines.knowledge import load_knowledge
from tests.integration.e2e.stack import (
    PARTITIONS,
    QUESTION_PCAP,
    CallLog,
    Worker,
    answering,
    caller_scenario,
    is_,
    settled,
    start_edge,
)
from tests.support.sipp import run_sipp

QUESTION_MS = 3600
HOURS = next(e for e in load_knowledge() if e.entity_id == "hours")
GROUP = "sentiric"  # the Faust app id


def assigned(assignment: bytes) -> set[tuple[str, int]]:
    """(topic, partition) pairs of a ConsumerProtocol member assignment (version, topics, user data)."""
    out: set[tuple[str, int]] = set()
    pos = 2  # int16 version
    (count,) = struct.unpack_from(">i", assignment, pos)
    pos += 4
    for _ in range(count):
        (size,) = struct.unpack_from(">h", assignment, pos)
        topic = assignment[pos + 2 : pos + 2 + size].decode()
        pos += 2 + size
        (n,) = struct.unpack_from(">i", assignment, pos)
        pos += 4
        for p in struct.unpack_from(f">{n}i", assignment, pos):
            out.add((topic, p))
        pos += 4 * n
    return out


async def holders(bootstrap: str) -> dict[tuple[str, int], int]:
    """(topic, partition) -> pid of the worker that holds it, once the group is stable."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([GROUP])
        _error, _group, state, _ptype, _protocol, members, *_ = response.groups[0]
        if state != "Stable":
            return {}
        out: dict[tuple[str, int], int] = {}
        for _member_id, client_id, _host, _metadata, assignment in members:
            if client_id.startswith("sentiric-worker-") and assignment:
                pid = int(client_id.rsplit("-", 1)[1])
                out.update(dict.fromkeys(assigned(assignment), pid))
        return out
    finally:
        await admin.close()


async def test_the_other_worker_answers_the_next_question_after_the_serving_one_is_killed(
    fresh_kafka: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    extra = {"SENTIRIC_STREAMS_SESSION_TIMEOUT_S": "6"}
    workers = [Worker(fresh_kafka, tmp_path / f"w{i}", machine_cache_dir, **extra) for i in (1, 2)]
    edge = await start_edge(fresh_kafka, tmp_path / "edge")
    log = CallLog(fresh_kafka, edge.settings.node_id, alive=lambda: any(w.alive() for w in workers))
    await log.start()
    try:
        for w in workers:
            w.start()
        for w in workers:
            await w.ready(240)
        pids = {w.proc.pid for w in workers if w.proc}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while {p for (t, _), p in (await holders(fresh_kafka)).items() if t == topics.CALLS} != pids:
            assert loop.time() < deadline, "the two workers never shared the call partitions"
            await asyncio.sleep(1)

        # greeted (about 3.5 s), then 12 s of silence for the takeover, then the question
        scenario = caller_scenario(tmp_path / "call", QUESTION_PCAP, before_ms=16000, pcap_ms=QUESTION_MS,
                                   after_ms=150000)  # fmt: skip
        await settled(edge)
        sipp = asyncio.create_task(
            run_sipp(edge.sip_port, tmp_path / "call", scenario=scenario, timeout_s=180)
        )
        try:
            invite = await log.wait_for(lambda r: isinstance(r, m.CallInviteReceived), "the call", 60)
            call_id = invite.record.call_id
            await log.wait_for(is_(m.PlaybackStarted, call_id=call_id), "the greeting", 60)
            partition = partition_for(call_id, PARTITIONS)
            serving = (await holders(fresh_kafka))[(topics.CALLS, partition)]
            victim = next(w for w in workers if w.proc and w.proc.pid == serving)
            survivor = next(w for w in workers if w is not victim)
            assert survivor.proc is not None
            victim.kill()
            killed = time.monotonic()
            killed_at = datetime.now(UTC)
            while (await holders(fresh_kafka)).get((topics.CALLS, partition)) != survivor.proc.pid:
                assert time.monotonic() - killed < 90, "no worker took the call's partition over"
                await asyncio.sleep(0.25)
            takeover = time.monotonic() - killed
            question = await log.wait_for(is_(m.UtteranceCaptured, call_id=call_id), "the question", 90)
            answer = await log.wait_for(
                answering(question.record.utterance_id, call_id=call_id),
                "the answer",
                120,
            )
            answered = time.monotonic()
            playing = await log.wait_for(
                is_(m.PlaybackStarted, playback_id=answer.record.reply_id), "playing", 60
            )
            await log.wait_for(is_(m.PlaybackFinished, playback_id=answer.record.reply_id), "played", 90)
            async with EventProducer(bootstrap_servers=fresh_kafka) as producer:
                hangup = m.Hangup(
                    event_id=uuid.uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC),
                    source="takeover-test", trace_id=call_id, reason="test_done",
                )  # fmt: skip
                await producer.publish_and_wait(hangup, topic=topics.commands_topic(edge.settings.node_id))
            result = await sipp
        finally:
            if not sipp.done():
                sipp.cancel()
        assert result.returncode == 0, result.describe()
        assert answer.record.text == HOURS.answer
        survivor = next(w for w in workers if w is not victim)
        assert (
            survivor.alive() and (await holders(fresh_kafka))[(topics.CALLS, partition)] == survivor.proc.pid
        )
        captured = question.record.occurred_at
        delay = (playing.record.occurred_at - captured).total_seconds()
        print(
            f"\n[takeover] worker {serving} killed -9 after greeting the caller; the other held the call's "
            f"partition {takeover:.1f} s later (session timeout 6 s); the question, captured "
            f"{(captured - killed_at).total_seconds():.1f} s after the kill, was answered "
            f"{answered - killed:.1f} s after it, the answer playing {delay:.1f} s after the question"
        )
    finally:
        await log.stop()
        await edge.stop()
        for w in workers:
            w.stop()
