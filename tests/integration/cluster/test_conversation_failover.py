"""A conversation survives a broker killed -9, on a secured three-node cluster.

The e2e stack (tests/integration/e2e/stack.py) on the module's SASL_SSL cluster: the edge in this
process, a streams worker subprocess, sipp as the caller asking for the opening hours. Every process
joins with SCRAM over TLS verified by the cluster's private CA; every topic has three replicas.

One call as it normally goes (the baseline), then the same call with the leader of the call's partition
killed -9 the moment the edge has published the caller's question: the answer still comes and plays,
every fact the edge published is on the log exactly once (event_ids unique, per-call seq without a
gap), and the extra reply delay the caller heard is printed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from edge.app import EdgeApp
from schemas import models as m
from sentiric.broker.cluster import LocalKafkaCluster
from sentiric.eventlog import topics
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.consumer import partition_for, read_call
from sentiric.eventlog.producer import EventProducer
from streams.engines.knowledge import load_knowledge
from tests.integration.e2e.stack import (
    PARTITIONS,
    QUESTION_PCAP,
    CallLog,
    Logged,
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


@dataclass
class Stack:
    cluster: LocalKafkaCluster
    client: dict[str, Any]
    edge: EdgeApp
    worker: Worker
    log: CallLog

    @property
    def node(self) -> str:
        return self.edge.settings.node_id


@pytest.fixture(scope="module")
async def stack(
    secure_cluster: LocalKafkaCluster, tmp_path_factory: pytest.TempPathFactory, machine_cache_dir: Path
) -> AsyncIterator[Stack]:
    env = secure_cluster.client_env()
    extra = {k: v for k, v in env.items() if k != "SENTIRIC_KAFKA_BOOTSTRAP"}  # security, replication
    overrides = {k.removeprefix("SENTIRIC_").lower(): v for k, v in extra.items()}
    home = tmp_path_factory.mktemp("failover")
    edge = await start_edge(secure_cluster.bootstrap, home / "edge", **overrides)  # creates the topics
    worker = Worker(secure_cluster.bootstrap, home / "worker", machine_cache_dir, **extra)
    client = client_options(edge.settings)
    log = CallLog(secure_cluster.bootstrap, edge.settings.node_id, alive=worker.alive, client=client)
    try:
        worker.start()
        await log.start()
        await worker.ready()
        yield Stack(secure_cluster, client, edge, worker, log)
    finally:
        await log.stop()
        await edge.stop()
        worker.stop()


def one(records: list[Logged], cls: type[Any], **fields: Any) -> Any:
    """The one fact of its kind. A worker's fact may be on the log twice when the broker failed over
    under it (its Faust producer retries, or it answers a redelivered input again) — then it is the
    very same fact, its event id derived from its cause, which every consumer ignores the second time.
    Two different facts would be two answers: that fails."""
    found = {r.record.event_id: r.record for r in records if is_(cls, **fields)(r.record)}
    assert len(found) == 1, f"{len(found)} {cls.__name__} {fields}"
    return next(iter(found.values()))


async def leader_of(topic: str, partition: int, client: dict[str, Any]) -> int:
    admin = AIOKafkaAdminClient(**client)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        return int(next(p["leader"] for p in described["partitions"] if p["partition"] == partition))
    finally:
        await admin.close()


async def converse(stack: Stack, workdir: Path, *, kill_leader: bool) -> tuple[str, float, int | None]:
    """One call asking for the opening hours; returns (call_id, reply delay in s, the killed node)."""
    scenario = caller_scenario(workdir, QUESTION_PCAP, before_ms=5000, pcap_ms=QUESTION_MS, after_ms=150000)
    # the greeting (about 3.5 s) first, then the question; the test hangs up once the answer has played
    start = len(stack.log.records)
    await settled(stack.edge)
    sipp = asyncio.create_task(run_sipp(stack.edge.sip_port, workdir, scenario=scenario, timeout_s=120))
    killed: int | None = None
    try:
        invite = await stack.log.wait_for(
            lambda r: (
                isinstance(r, m.CallInviteReceived)
                and r.source == stack.node
                and all(x.record is not r for x in stack.log.records[:start])
            ),
            "the call",
        )
        call_id = invite.record.call_id
        question = await stack.log.wait_for(is_(m.UtteranceCaptured, call_id=call_id), "the question", 60)
        if kill_leader:  # the question is on the log; its transcription, answer and audio are not yet
            killed = await leader_of(topics.CALLS, partition_for(call_id, PARTITIONS), stack.client)
            assert await asyncio.to_thread(stack.cluster.kill, killed) is not None
        answered = await stack.log.wait_for(
            answering(question.record.utterance_id, call_id=call_id, final=True), "the answer", 120
        )  # its own turn's, or the one prepared at the caller's pause
        reply_id = answered.record.reply_id
        await stack.log.wait_for(is_(m.PlaybackFinished, playback_id=reply_id), "the answer played", 120)
        async with EventProducer(**stack.client) as producer:
            hangup = m.Hangup(
                event_id=uuid.uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC),
                source="failover-test", trace_id=call_id, reason="test_done",
            )  # fmt: skip
            await producer.publish_and_wait(hangup, topic=topics.commands_topic(stack.node))
        result = await sipp
    finally:
        if not sipp.done():
            sipp.cancel()
    assert result.returncode == 0, result.describe()
    await stack.log.wait_for(is_(m.MediaPortReleased, call_id=call_id), "MediaPortReleased", 60)
    records = stack.log.of(call_id)
    captured = one(records, m.UtteranceCaptured)
    (answer,) = [r.record for r in records if answering(captured.utterance_id)(r.record)]
    assert (answer.intent, answer.text) == ("hours", HOURS.answer)
    started = one(records, m.PlaybackStarted, playback_id=answer.reply_id)
    finished = one(records, m.PlaybackFinished, playback_id=answer.reply_id)
    assert not finished.interrupted and finished.reason == "completed"
    assert one(records, m.CallEnded).hangup_by == "agent"
    delay = (started.occurred_at - captured.occurred_at).total_seconds()
    return call_id, delay, killed


async def edge_facts_exactly_once(stack: Stack, call_id: str) -> int:
    """Every fact the edge published for the call is on the log once: unique event_ids, and the
    edge's per-call sequence numbers 1..n without a gap (a lost fact would leave one)."""
    timeline = await read_call(call_id, include_commands=False, **stack.client)
    edge = [d.record for d in timeline if d.record.source == stack.node]
    counts = Counter(r.event_id for r in edge)
    assert all(n == 1 for n in counts.values()), [e for e, n in counts.items() if n > 1]
    seqs = sorted(r.seq for r in edge)
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    return len(edge)


async def test_a_conversation_completes_with_a_broker_killed(stack: Stack, tmp_path: Path) -> None:
    baseline_call, baseline, _ = await converse(stack, tmp_path / "baseline", kill_leader=False)
    await edge_facts_exactly_once(stack, baseline_call)

    call_id, delay, killed = await converse(stack, tmp_path / "killed", kill_leader=True)
    facts = await edge_facts_exactly_once(stack, call_id)
    print(
        f"\n[cluster] reply delay (question captured -> answer playing): {baseline:.2f} s normally, "
        f"{delay:.2f} s with node {killed} (the call partition's leader) killed -9: the caller waited "
        f"{delay - baseline:+.2f} s longer; {facts} edge facts on the log, each once"
    )
    assert killed is not None and not stack.cluster.node(killed).status().running

    stack.cluster.restart(killed)  # on the main thread: see LocalKafkaCluster.start
