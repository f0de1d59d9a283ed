"""`sentiric replay dialog`: re-run the state machine over a call read from the real log."""

import asyncio
import dataclasses
import uuid
from typing import Any

from schemas import models as m
from sentiric.eventlog import topics
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.producer import EventProducer
from streams.dialog.script import RecordedCall

from .test_replay import run_cli


def recorded_call(call_id: str) -> list[Any]:
    call = RecordedCall(call_id)
    s = call.script
    call.feed(*s.setup(), s.established())
    call.play()
    call.feed(
        s.speech("u1"), s.captured("u1"), s.transcribed("u1", "opening hours"), s.replied("u1", "nine to six")
    )
    call.play()
    call.feed(s.ended())
    return call.log


async def publish(kafka: str, log: list[Any]) -> None:
    async with EventProducer(bootstrap_servers=kafka) as producer:
        for record in log:
            topic = topics.commands_topic("edge-1") if isinstance(record, m.Command) else topics.CALLS
            producer.publish(record, topic=topic)


async def test_an_unchanged_machine_reproduces_the_recorded_decisions(kafka):
    await ensure_topics(
        topics.platform_topics(partitions=6, calls_retention_ms=86_400_000), bootstrap_servers=kafka
    )
    call_id = str(uuid.uuid4())
    log = recorded_call(call_id)
    assert any(isinstance(r, m.PlayAudio) for r in log) and any(
        isinstance(r, m.DialogStateChanged) for r in log
    )
    await publish(kafka, log)
    result = await asyncio.to_thread(run_cli, kafka, "replay", "dialog", call_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(log)} records re-run: decisions identical to the record" in result.stdout


async def test_a_tampered_record_is_reported(kafka):
    await ensure_topics(
        topics.platform_topics(partitions=6, calls_retention_ms=86_400_000), bootstrap_servers=kafka
    )
    call_id = str(uuid.uuid4())
    log = recorded_call(call_id)
    i = next(i for i, r in enumerate(log) if isinstance(r, m.DialogStateChanged))
    log[i] = dataclasses.replace(log[i], to_state="CLOSING")
    await publish(kafka, log)
    result = await asyncio.to_thread(run_cli, kafka, "replay", "dialog", call_id)
    assert result.returncode == 1
    assert "DialogStateChanged changed: to_state" in result.stdout
    assert "'CLOSING'" in result.stdout
