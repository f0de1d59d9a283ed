"""Storing a finished recording: encode (WAV or MP3) and upload off the event loop, then its fact.

Encoding a long call and uploading it are blocking and slow next to a 20 ms tick, so both run in a
worker thread (``asyncio.to_thread``). A recording that cannot be stored is logged and has no
``RecordingFinished`` (nothing was stored to point at).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from edge import call_facts as cf
from edge.media.recording import CONTENT_TYPES, CallRecorder, encode

if TYPE_CHECKING:
    from edge.facts import FactSink
    from edge.media.storage import RecordingStore

log = structlog.get_logger(__name__)


async def store_recording(
    call_id: str, recorder: CallRecorder, store: RecordingStore, facts: FactSink
) -> None:
    """Encode and upload ``recorder``'s audio to its output URI, then record ``RecordingFinished``."""
    pcm = recorder.take_pcm()

    def work() -> int:
        encoded = encode(pcm, recorder.format, recorder.sample_rate)
        store.put(recorder.output_uri, encoded.data, CONTENT_TYPES[recorder.format])
        return len(encoded.data)

    try:
        size = await asyncio.to_thread(work)
    except Exception:
        log.exception("recording could not be stored", call_id=call_id, recording_id=recorder.recording_id)
        return
    facts.record(
        cf.recording_finished(
            call_id,
            recording_id=recorder.recording_id,
            uri=recorder.output_uri,
            format=recorder.format,
            size_bytes=size,
            duration_ms=recorder.frames * 1000 // recorder.sample_rate,
        )
    )
