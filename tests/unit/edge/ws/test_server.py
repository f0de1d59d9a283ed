"""The gateway's wiring from the settings (no socket is opened, no broker is reached)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.facts import FactRecorder, ListPublisher
from edge.ws.server import WebService
from edge.ws.session import vad_config
from sentiric.settings import Settings


async def vad_of(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    # async: the service makes its (unstarted) Kafka consumers, which want a running loop
    service = WebService(Settings(home=tmp_path, **settings), FactRecorder(ListPublisher(), "edge-test"))
    await service.stop()  # closes the consumers it made
    return dict(service.server.vad)


async def test_the_ws_endpointer_pauses_as_a_sip_calls_does(tmp_path: Path) -> None:
    """The answer prepared at the caller's pause needs pause chunks on /ws too: the same rule as the
    media engine's (`edge.media.engine.pause_ms`), off without partials, shorter than the end silence."""
    vad = await vad_of(tmp_path, vad_pause_ms=160, partial_audio_ms=500, vad_end_silence_ms=500)
    assert (vad["pause_ms"], vad["chunk_ms"]) == (160, 500)
    assert vad_config(**vad).pause_ms == 160  # a valid endpointer configuration
    assert (await vad_of(tmp_path, vad_pause_ms=160, partial_audio_ms=0))["pause_ms"] == 0
    assert (await vad_of(tmp_path, vad_pause_ms=200, vad_end_silence_ms=160))["pause_ms"] == 140
    assert (await vad_of(tmp_path, vad_pause_ms=0))["pause_ms"] == 0
