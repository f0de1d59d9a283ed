"""Dialplan recording policy with sipp and the real Kafka: a plan with ``record`` on leaves a WAV of the
call under the recordings root, named in ``RecordingFinished``, in its retention directory."""

from __future__ import annotations

import uuid
import wave
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np

from schemas import models
from tests.support.sipp import run_sipp

from .conftest import StartEdge, node_facts
from .test_never_silent_edge import dialplan


def read_wav(path: Path) -> tuple[int, int, np.ndarray]:
    with wave.open(str(path)) as wav:
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return path.stat().st_size, wav.getframerate(), audio


async def test_a_recorded_plan_leaves_a_wav_of_the_call(
    start_edge: StartEdge, config: Any, kafka: str, tmp_path: Path
) -> None:
    number = f"4{uuid.uuid4().int % 10**6:06d}"
    await config(
        dialplan(f"rec-{number}", number, action="prompt_hangup", record=True, record_retention_days=7)
    )
    app = await start_edge(tts_engine="espeak")
    result = await run_sipp(
        app.sip_port, tmp_path, scenario="uac_wait_bye.xml", service=number, calls=1, timeout_s=40
    )
    assert result.last("SuccessfulCall(C)") == 1, result.describe()
    (records,) = (await node_facts(app, kafka, 1)).values()
    finished = next(r for r in records if isinstance(r, models.RecordingFinished))
    path = Path(unquote(urlparse(finished.uri).path))
    root = app.settings.recordings_root.resolve()
    assert path.is_relative_to(root / "policy" / "retain-7d") and path.name == f"{finished.call_id}.wav"
    size, rate, audio = read_wav(path)
    assert finished.format == "wav" and finished.size_bytes == size
    assert rate == 8000 and audio.size / 8000 > 1.0
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 200  # the announcement is in it
