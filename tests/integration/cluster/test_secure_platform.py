"""The whole platform on a SASL_SSL cluster with a private CA, and what wrong credentials look like.

`sentiric up` runs the edge, the streams worker and the API (with its CDR projector and webhook
dispatcher) against the module's three-node SASL_SSL cluster, given only the `SENTIRIC_*` variables
the cluster writes for its clients (bootstrap, SCRAM-SHA-512 user and password, the CA file, three
replicas). sipp calls and asks for the opening hours: the greeting plays, the question is answered
from the knowledge base, and the call's CDR and transcript land in PostgreSQL.

Then each process alone, and `sentiric up`, with a wrong password: each logs one line that names the
problem and exits 78 (EX_CONFIG) at once — no stack trace, no retry storm, no crash loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from schemas import models as m
from sentiric.broker.cluster import LocalKafkaCluster
from sentiric.eventlog import topics
from sentiric.eventlog.connection import EXIT_LOG_ACCESS, client_options
from sentiric.eventlog.producer import EventProducer
from sentiric.net import free_port, free_rtp_range
from streams.engines.knowledge import load_knowledge
from tests.integration.e2e.stack import QUESTION_PCAP, CallLog, answering, caller_scenario, is_
from tests.support.sipp import run_sipp

ROOT = Path(__file__).resolve().parents[3]
NODE = "edge-secure"
HOURS = next(e for e in load_knowledge() if e.entity_id == "hours")


def base_env(cluster: LocalKafkaCluster, home: Path, cache: Path, **extra: str) -> dict[str, str]:
    """A process environment with nothing but the cluster's client variables and private ports."""
    rtp, _ = free_rtp_range(40)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")},
        **cluster.client_env(),
        "SENTIRIC_HOME": str(home),
        "SENTIRIC_CACHE_HOME": str(cache),
        "SENTIRIC_NODE_ID": NODE,
        "SENTIRIC_TOPIC_PARTITIONS": "3",
        "SENTIRIC_SIP_PORT": str(free_port(socket.SOCK_DGRAM)),
        "SENTIRIC_API_PORT": str(free_port()),
        "SENTIRIC_WS_PORT": str(free_port()),
        "SENTIRIC_GRPC_PORT": str(free_port()),
        "SENTIRIC_EDGE_METRICS_PORT": str(free_port()),
        "SENTIRIC_RTP_PORT_MIN": str(rtp),
        "SENTIRIC_RTP_PORT_MAX": str(rtp + 38),
        "SENTIRIC_NO_INPUT_TIMEOUT_S": "300",
        **extra,
    }


@pytest.fixture
async def database(postgres_dsn: str) -> AsyncIterator[str]:
    name = f"secure_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    yield postgres_dsn.rsplit("/", 1)[0] + "/" + name
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
def platform(
    secure_cluster: LocalKafkaCluster, database: str, tmp_path: Path, machine_cache_dir: Path
) -> Iterator[tuple[dict[str, str], Path]]:
    env = base_env(secure_cluster, tmp_path / "home", machine_cache_dir, SENTIRIC_DATABASE_URL=database)
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        command = [sys.executable, "-m", "sentiric.cli", "up"]
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 240
            while "Sentiric is up" not in log.read_text(errors="replace"):
                assert proc.poll() is None, f"sentiric up exited:\n{log.read_text()[-4000:]}"
                assert time.monotonic() < deadline, log.read_text()[-4000:]
                time.sleep(0.5)
            yield env, log
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(90)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


async def test_a_conversation_on_a_sasl_ssl_cluster_with_a_private_ca(
    platform: tuple[dict[str, str], Path], secure_cluster: LocalKafkaCluster, database: str, tmp_path: Path
) -> None:
    env, up_log = platform
    assert env["SENTIRIC_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["SENTIRIC_KAFKA_SSL_CA_FILE"].endswith("/tls/ca.pem")
    client = client_options(secure_cluster.client_settings())
    log = CallLog(secure_cluster.bootstrap, NODE, client=client)
    await log.start()
    scenario = caller_scenario(tmp_path, QUESTION_PCAP, before_ms=5000, pcap_ms=3600, after_ms=150000)
    sipp = asyncio.create_task(
        run_sipp(int(env["SENTIRIC_SIP_PORT"]), tmp_path / "sipp", scenario=scenario, timeout_s=180)
    )
    try:
        invite = await log.wait_for(is_(m.CallInviteReceived, source=NODE), "the call", 60)
        call_id = invite.record.call_id
        greeting = await log.wait_for(
            lambda r: isinstance(r, m.PlaybackFinished) and r.call_id == call_id, "the greeting played", 60
        )
        question = await log.wait_for(is_(m.UtteranceCaptured, call_id=call_id), "the question", 60)
        assert question.record.occurred_at > greeting.record.occurred_at
        answered = await log.wait_for(
            answering(question.record.utterance_id, call_id=call_id, final=True), "the answer", 120
        )  # its own turn's, or the one prepared at the caller's pause
        reply_id = answered.record.reply_id
        await log.wait_for(is_(m.PlaybackFinished, playback_id=reply_id), "the answer played", 120)
        async with EventProducer(**client) as producer:
            hangup = m.Hangup(
                event_id=uuid.uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC),
                source="secure-test", trace_id=call_id, reason="test_done",
            )  # fmt: skip
            await producer.publish_and_wait(hangup, topic=topics.commands_topic(NODE))
        result = await sipp
    finally:
        if not sipp.done():
            sipp.cancel()
        await log.stop()
    assert result.returncode == 0, result.describe()
    answer = next(r.record for r in log.of(call_id) if is_(m.AgentReplied, reply_id=reply_id)(r.record))
    assert (answer.intent, answer.text) == ("hours", HOURS.answer)

    # The API's projector wrote the CDR and the transcript into PostgreSQL, from the secured log.
    conn = await asyncpg.connect(database)
    try:
        deadline = time.monotonic() + 60
        while True:
            row = await conn.fetchrow(
                "SELECT disposition, hangup_by, edge_node FROM calls"
                " WHERE call_id = $1 AND finished_at IS NOT NULL",
                call_id,
            )
            if row is not None or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert row is not None, up_log.read_text()[-3000:]
        assert (row["disposition"], row["hangup_by"], row["edge_node"]) == ("answered", "agent", NODE)
        turns = await conn.fetch("SELECT speaker, text FROM transcript_turns WHERE call_id = $1", call_id)
        assert HOURS.answer in [t["text"] for t in turns if t["speaker"] == "agent"], turns
    finally:
        await conn.close()
    assert "Traceback" not in up_log.read_text(errors="replace")


@pytest.mark.parametrize("command", ["edge", "worker", "api", "up"])
def test_wrong_credentials_are_one_clear_line_and_exit_78(
    command: str, secure_cluster: LocalKafkaCluster, tmp_path: Path, machine_cache_dir: Path
) -> None:
    env = base_env(
        secure_cluster, tmp_path / "home", machine_cache_dir, SENTIRIC_KAFKA_SASL_PASSWORD="wrong-password"
    )
    env["SENTIRIC_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"  # never reached
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sentiric.cli", command],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    took = time.monotonic() - began
    output = (done.stdout + done.stderr).splitlines()
    assert done.returncode == EXIT_LOG_ACCESS, "\n".join(output[-40:])
    lines = [line for line in output if line.strip()]
    assert len(lines) == 1, "\n".join(lines[:40])
    assert "cannot use the log at 127.0.0.1:" in lines[0] and f"sentiric-{command}" in lines[0]
    assert "authentication as 'sentiric' (SCRAM-SHA-512) failed" in lines[0]
    assert "wrong-password" not in lines[0]
    print(f"\n[cluster] sentiric {command}, wrong password, {took:.1f} s: {lines[0]}")
