"""The endpointer's utterances as call facts, for both channels that listen to a caller (the RTP media
session and the WebSocket session), under the utterance id their ``SpeechStarted`` announced."""

from __future__ import annotations

from edge import call_facts as cf
from edge.media.vad.endpointer import UtteranceEnded, UtteranceGrew
from schemas import models as m


def utterance_fact(
    call_id: str, utterance_id: str, event: UtteranceGrew | UtteranceEnded
) -> m.UtteranceChunkCaptured | m.UtteranceCaptured:
    if isinstance(event, UtteranceGrew):
        return cf.utterance_chunk_captured(
            call_id,
            utterance_id=utterance_id,
            index=event.index,
            sample_rate=event.sample_rate,
            pcm=event.pcm,
            start_ms=event.start_ms,
            end_ms=event.end_ms,
            pause=event.pause,
        )
    return cf.utterance_captured(
        call_id,
        utterance_id=utterance_id,
        sample_rate=event.sample_rate,
        pcm=event.pcm,
        start_ms=event.start_ms,
        end_ms=event.end_ms,
        end_reason=event.reason,
    )
