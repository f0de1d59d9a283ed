"""The edge's command consumer on the real broker with a live sipp call: a command that raises in
dispatch, and one that does not decode, are set aside (dead-lettered with their offsets) and the
commands after them still run; a broken read loop restarts and the next command still runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from schemas import models
from schemas.codec import encode
from schemas.envelope import envelope
from sentiric.eventlog.producer import EventProducer
from tests.integration.deadletter import wait_dead_letters
from tests.support.sipp import run_sipp

from .conftest import BASIC, StartEdge, metric, node_facts, sip_only

PCM = (b"\x00\x10" * 8000)[:16000]  # one second of a quiet 8 kHz tone


def command(model: type[Any], call_id: str, **fields: Any) -> Any:
    return model(**envelope(call_id, seq=1, source="dialog-test"), **fields)


async def wait_for(predicate: Any, what: str, within_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not predicate():
        assert loop.time() < deadline, f"no {what} after {within_s} s"
        await asyncio.sleep(0.05)


async def test_a_failing_command_is_set_aside_and_later_commands_run(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    app = await start_edge()
    topic = app.settings.commands_topic
    sipp = asyncio.create_task(run_sipp(app.sip_port, tmp_path, scenario="uac_wait_bye.xml", calls=1))
    assert app.core is not None and app.commands is not None
    await wait_for(lambda: [c for c in app.core.calls.values() if c.established_at is not None], "call")
    (call,) = [c for c in app.core.calls.values() if c.established_at is not None]
    errors_before = metric("sentiric_edge_commands_total", command="StartRecording", outcome="error")
    played_before = metric("sentiric_edge_commands_total", command="PlayAudio", outcome="ok")

    poison = command(
        models.StartRecording,
        call.call_id,
        recording_id="r1",
        output_uri="gopher://nowhere/r1.wav",  # the media engine refuses it: dispatch raises
        format="wav",
    )
    played = command(models.PlayAudio, call.call_id, playback_id="after-poison", pcm=PCM, sample_rate=8000)
    async with EventProducer(bootstrap_servers=kafka) as producer:
        producer.publish(poison, topic=topic)
        producer.publish_raw(topic, call.call_id.encode(), b"\xc3\x01not a command")
        await producer.publish_and_wait(played, topic=topic)
        await wait_for(
            lambda: metric("sentiric_edge_commands_total", command="PlayAudio", outcome="ok") > played_before,
            "the PlayAudio after the poison",
        )
        assert app.commands.dead_letters.count == 2

        # A broken read loop (its consumer stopped under it, as after a fatal broker error): the
        # follower restarts it, resuming after the last command it handled.
        follower = app.commands._follower
        await follower._consumer.stop()
        await wait_for(lambda: follower.restarts >= 1, "follower restart")
        await producer.publish_and_wait(
            command(models.Hangup, call.call_id, reason="agent_hangup"), topic=topic
        )
        result = await sipp  # uac_wait_bye succeeds only when the edge's BYE arrives
    assert result.returncode == 0, result.describe()

    (records,) = [r for r in (await node_facts(app, kafka, 1)).values()]
    assert [type(r).__name__ for r in sip_only(records)] == BASIC
    assert records[[type(r).__name__ for r in records].index("CallEnded")].reason == "agent_hangup"
    assert "after-poison" in [r.playback_id for r in records if isinstance(r, models.PlaybackStarted)]
    assert (
        metric("sentiric_edge_commands_total", command="StartRecording", outcome="error") == errors_before + 1
    )

    letters = await wait_dead_letters(kafka, origin_topic=topic, count=2)
    by_value = {d.value: d for d in letters if d.consumer == "edge-commands"}
    raised, corrupt = by_value[encode(poison)], by_value[b"\xc3\x01not a command"]
    assert "MediaCommandError" in raised.error and raised.origin[0] == topic
    assert corrupt.origin == (topic, raised.origin[1], raised.origin[2] + 1)  # same key: next offset
    assert (
        metric(
            "sentiric_log_dead_lettered_total", topic=topic, consumer="edge-commands", reason="unappliable"
        )
        == 1
    )
    assert (
        metric(
            "sentiric_log_dead_lettered_total", topic=topic, consumer="edge-commands", reason="undecodable"
        )
        == 1
    )
