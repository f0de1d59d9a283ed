"""PlayAudio over real loopback RTP with a wideband codec: G.722 and Opus payloads decode back to the
prompt, with the codec's RTP clock and continuous sequence numbers."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest

from edge.media.codecs.registry import Transcoder, default_registry
from edge.media.playback import load_wav
from schemas.envelope import envelope
from schemas.models import PlayAudio, PlaybackFinished
from tests.support.audio import correlation

from .conftest import FIXTURES


@pytest.mark.parametrize(
    ("name", "pt", "step", "threshold"), [("G722", 9, 160, 0.9), ("opus", 111, 960, 0.8)]
)
async def test_prompt_over_wideband_decodes_back(
    harness, make_caller, name: str, pt: int, step: int, threshold: float
) -> None:
    caller = await make_caller()
    call_id = f"call-{name}"
    session = await harness.open_session(call_id, caller.addr, codec=name, payload_type=pt)
    prompt = load_wav(FIXTURES / "opening_hours_8k.wav")
    command = PlayAudio(
        **envelope(call_id, seq=1, source="test"),
        playback_id=str(uuid.uuid4()),
        pcm=prompt.astype("<i2").tobytes(),
        sample_rate=8000,
    )
    await harness.engine.execute(command)
    (finished,) = await harness.wait_for(PlaybackFinished, 1, within=20)
    assert not finished.interrupted
    await asyncio.sleep(0.1)
    await session.close()

    packets = caller.packets()
    assert packets and all(p.payload_type == pt for p in packets)
    steps = np.diff([p.timestamp for p in packets]) % (1 << 32)
    assert (steps == step).mean() > 0.95  # the codec's RTP clock: 20 ms = 160 (G.722) or 960 (Opus)
    seqs = np.diff([p.sequence_number for p in packets]) % 65536
    assert (seqs == 1).all()
    decoder = Transcoder(default_registry().by_name(name), pcm_rate=8000)
    audio = np.concatenate([decoder.decode(p.payload) for p in packets])
    score = correlation(audio, prompt)
    assert score > threshold
