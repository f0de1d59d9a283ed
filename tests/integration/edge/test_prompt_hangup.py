"""Dialplan ``prompt_hangup`` with sipp, the real Kafka and tshark on the wire: the edge answers, says
the configured prompt (synthesized by the speech workers' TTS), and sends the BYE itself."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas import models
from tests.integration.e2e.stack import Capture, pcm_of, rms
from tests.support.sipp import run_sipp

from .conftest import StartEdge, node_facts
from .test_never_silent_edge import dialplan, kinds


def prompt(entity_id: str, **fields: Any) -> models.Prompt:
    return models.Prompt(
        event_id=uuid.uuid4(), entity_id=entity_id, occurred_at=datetime.now(UTC), source="test",
        trace_id="test", **fields,
    )  # fmt: skip


async def test_prompt_hangup_says_the_prompt_then_sends_bye(
    start_edge: StartEdge, config: Any, kafka: str, tmp_path: Path
) -> None:
    number = f"6{uuid.uuid4().int % 10**6:06d}"
    text = "We are closed for the holidays. Please call again on Monday."
    await config(
        prompt(f"closed-{number}", text=text),
        dialplan(f"closed-{number}", number, action="prompt_hangup", prompt_uri=f"prompt:closed-{number}"),
    )
    app = await start_edge(tts_engine="espeak")
    capture = Capture(tmp_path / "wire.pcap", app.settings.rtp_port_min, app.settings.rtp_port_max)
    await capture.start()
    try:
        result = await run_sipp(
            app.sip_port, tmp_path, scenario="uac_wait_bye.xml", service=number, calls=1, timeout_s=40
        )
    finally:
        packets = await capture.stop()
    assert result.last("SuccessfulCall(C)") == 1, result.describe()  # the BYE came from the edge
    (records,) = (await node_facts(app, kafka, 1)).values()
    names = kinds(records)
    resolved = next(r for r in records if isinstance(r, models.DialplanResolved))
    assert (resolved.action, resolved.prompt_uri) == ("prompt_hangup", f"prompt:closed-{number}")
    said = next(r for r in records if isinstance(r, models.SpeechSynthesized))
    assert said.text == text and said.engine and len(said.pcm) > 8000
    started = next(r for r in records if isinstance(r, models.PlaybackStarted))
    finished = next(r for r in records if isinstance(r, models.PlaybackFinished))
    assert started.playback_id == said.reply_id == finished.playback_id and not finished.interrupted
    assert (
        names.index("CallEstablished")
        < names.index("SpeechSynthesized")
        < names.index("PlaybackStarted")
        < names.index("PlaybackFinished")
        < names.index("CallEnded")
    ), names
    assert "CallDegraded" not in names
    ended = next(r for r in records if isinstance(r, models.CallEnded))
    assert (ended.reason, ended.hangup_by) == ("prompt_played", "agent")

    # The caller heard speech: RTP from the edge's port while the prompt played, well above silence.
    port = next(r for r in records if isinstance(r, models.MediaPortAllocated)).rtp_port
    begin, end = started.occurred_at.timestamp(), finished.occurred_at.timestamp()
    spoken = [p for p in packets if p.src[1] == port and begin - 0.1 <= p.at <= end + 0.1]
    pcm = pcm_of(spoken)
    assert abs(pcm.size / 8000 - started.duration_ms / 1000) < 0.3
    assert rms(pcm) > 300


async def test_prompt_hangup_without_a_configured_prompt_says_the_default(
    start_edge: StartEdge, config: Any, kafka: str, tmp_path: Path
) -> None:
    number = f"6{uuid.uuid4().int % 10**6:06d}"
    await config(dialplan(f"bye-{number}", number, action="prompt_hangup", prompt_uri="prompt:missing"))
    app = await start_edge(tts_engine="espeak")
    result = await run_sipp(
        app.sip_port, tmp_path, scenario="uac_wait_bye.xml", service=number, calls=1, timeout_s=40
    )
    assert result.last("SuccessfulCall(C)") == 1, result.describe()
    (records,) = (await node_facts(app, kafka, 1)).values()
    said = next(r for r in records if isinstance(r, models.SpeechSynthesized))
    assert said.text == "Thank you for calling. Goodbye."
    ended = next(r for r in records if isinstance(r, models.CallEnded))
    assert ended.reason == "prompt_played"
