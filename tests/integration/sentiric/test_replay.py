"""`sentiric replay call` and `replay tail` as a user runs them, against the real local Kafka."""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta

from schemas import models
from schemas.envelope import envelope, utc_now
from sentiric.eventlog import topics
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.producer import EventProducer


def a_call(call_id: str) -> list:
    t0 = utc_now()

    def env(seq: int) -> dict:
        return envelope(call_id, seq=seq, source="edge-1", occurred_at=t0 + timedelta(milliseconds=10 * seq))

    return [
        models.CallInviteReceived(
            **env(1),
            sip_call_id="abc@host",
            from_uri="sip:alice@127.0.0.1",
            to_uri="sip:100@127.0.0.1",
            caller="alice",
            callee="100",
            remote_addr="127.0.0.1:5070",
            transport="udp",
        ),
        models.DialplanResolved(**env(2), dialplan_id="default", action="agent"),
        models.MediaPortAllocated(**env(3), rtp_port=20000, local_address="127.0.0.1"),
        models.CallAnswered(**env(4), codec="PCMU", payload_type=0, sdp_answer="v=0"),
        models.CallEstablished(**env(5)),
        models.CallEnded(**env(6), reason="caller_bye", hangup_by="caller", sip_status=200, total_ms=60),
    ]


def run_cli(kafka: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SENTIRIC_KAFKA_BOOTSTRAP=kafka)
    return subprocess.run(
        [sys.executable, "-m", "sentiric.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


async def produce(kafka: str, records: list, *, command: bool = False) -> None:
    async with EventProducer(bootstrap_servers=kafka) as producer:
        for r in records:
            producer.publish(r, topic=topics.commands_topic("edge-1") if command else topics.CALLS)


async def test_replay_call_prints_the_timeline_in_order(kafka):
    await ensure_topics(
        topics.platform_topics(partitions=6, calls_retention_ms=86_400_000), bootstrap_servers=kafka
    )
    call_id = str(uuid.uuid4())
    other = str(uuid.uuid4())
    facts = a_call(call_id)
    hangup = models.Hangup(
        **envelope(
            call_id, seq=1, source="worker-1", occurred_at=facts[4].occurred_at + timedelta(milliseconds=5)
        )
    )
    await produce(kafka, a_call(other) + facts)
    await produce(kafka, [hangup], command=True)

    result = await asyncio.to_thread(run_cli, kafka, "replay", "call", call_id)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    types = [line.split()[3] for line in lines]
    assert types == [
        "CallInviteReceived",
        "DialplanResolved",
        "MediaPortAllocated",
        "CallAnswered",
        "CallEstablished",
        "Hangup",
        "CallEnded",
    ]
    assert "reason=caller_bye" in lines[-1] and "hangup_by=caller" in lines[-1]
    assert " cmd " in lines[5]

    result = await asyncio.to_thread(run_cli, kafka, "replay", "call", call_id, "--json")
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["type"] for o in objects if o["log"]["topic"] == topics.CALLS] == types[:5] + types[6:]
    assert all(o["call_id"] == call_id for o in objects)
    assert objects[0]["caller"] == "alice"


async def test_replay_call_of_an_unknown_call_says_so(kafka):
    await ensure_topics(
        topics.platform_topics(partitions=6, calls_retention_ms=86_400_000), bootstrap_servers=kafka
    )
    result = await asyncio.to_thread(run_cli, kafka, "replay", "call", "no-such-call")
    assert result.returncode == 1
    assert "no records for call no-such-call" in result.stderr


async def test_replay_tail_sees_a_fact_produced_after_it_started(kafka):
    await ensure_topics(
        topics.platform_topics(partitions=6, calls_retention_ms=86_400_000), bootstrap_servers=kafka
    )
    call_id = str(uuid.uuid4())
    env = dict(os.environ, SENTIRIC_KAFKA_BOOTSTRAP=kafka)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sentiric.cli",
        "replay",
        "tail",
        "--json",
        "--call",
        call_id,
        "--limit",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stderr is not None and proc.stdout is not None
        while True:
            line = await asyncio.wait_for(proc.stderr.readline(), 60)
            assert line, "replay tail exited before following the topic"
            if b"following" in line:
                break
        facts = a_call(call_id)[:2]
        await produce(kafka, facts)
        out = await asyncio.wait_for(proc.stdout.read(), 60)
        assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    objects = [json.loads(line) for line in out.decode().splitlines()]
    assert [o["type"] for o in objects] == ["CallInviteReceived", "DialplanResolved"]
    assert [o["seq"] for o in objects] == [1, 2]
