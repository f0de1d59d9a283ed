"""Sessions on one media clock share one Silero batch: the same facts, in the same ticks, as alone.

Each session's caller speaks (the speech fixture at a different offset and level per call) over a
prompt that allows barge-in. Driven by a ``MediaClock`` with the batch between its receive and settle
phases, every session emits exactly the facts it emits when ticked alone with each VAD window scored at
once: ``SpeechStarted`` (same stream time), the barge-in's ``PlaybackFinished`` (same played time) and
``UtteranceCaptured`` (same audio), each in the same tick.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge.effects import Emit
from edge.facts import own_fields
from edge.media.clock import MediaClock
from edge.media.codecs.g711 import PCMU
from edge.media.playback import load_wav
from edge.media.rtp.packet import RtpPacket
from edge.media.session import Effect, MediaSession
from edge.media.vad.silero import SileroBatch
from schemas.models import MediaQualityReported, PlaybackFinished, SpeechStarted, UtteranceCaptured

T0 = 100.0
TICK = 0.02
CALLER = ("127.0.0.1", 40002)
SPEECH = load_wav(Path(__file__).parents[3] / "fixtures" / "media" / "opening_hours_8k.wav")


def session(k: int, batch: SileroBatch | None) -> MediaSession:
    media = MediaSession(
        f"c{k}",
        local_port=40000 + 2 * k,
        remote_addr=CALLER,
        codec=PCMU,
        payload_type=0,
        dtmf_payload_type=101,
        ptime_ms=20,
        now=T0,
        vad_batch=batch,
    )
    media.play(np.full(8000 * 6, 400, dtype=np.int16), "prompt", barge_in=True, source_uri=None)
    return media


def caller_frames(k: int) -> list[bytes]:
    pcm = np.concatenate(
        [
            np.zeros(800 + 440 * k),
            SPEECH * (0.3 + 0.2 * (k % 4)),
            np.zeros(8000),
            SPEECH[:6000],
            np.zeros(9000),
        ]
    ).astype(np.int16)
    pcm = np.concatenate([pcm, np.zeros(-pcm.size % 160, dtype=np.int16)])
    return [PCMU.encode(pcm[i : i + 160]) for i in range(0, pcm.size, 160)]


class Member:
    """The clock's view of a session (as ``RtpEndpoint`` gives it), recording each fact with its tick."""

    def __init__(self, media: MediaSession) -> None:
        self.media = media
        self.tick = 0
        self.facts: list[tuple[int, type[Any], dict[str, Any]]] = []

    def carry(self, effects: Sequence[Effect]) -> None:
        for e in effects:
            if isinstance(e, Emit) and not isinstance(e.fact, MediaQualityReported):
                fields = own_fields(e.fact)
                fields.pop("utterance_id", None)  # a fresh uuid per utterance
                self.facts.append((self.tick, type(e.fact), fields))

    def clock_phases(self) -> tuple[Callable[[float], Any], ...]:
        m = self.media
        return m.send_tick, m.receive_tick, m.settle_tick, self.carry


def drive(members: list[Member], audio: list[list[bytes]], tick: Callable[[float], None]) -> None:
    for i in range(max(len(a) for a in audio)):
        now = T0 + i * TICK
        for member, frames in zip(members, audio, strict=True):
            member.tick = i
            if i < len(frames):
                packet = bytes(RtpPacket(0, i, 160 * i, 7, frames[i]))
                member.carry(member.media.receive_rtp(packet, CALLER, now))
        tick(now)


def test_batched_sessions_emit_the_facts_they_emit_alone_in_the_same_ticks() -> None:
    audio = [caller_frames(k) for k in range(8)]
    batch = SileroBatch()
    clock = MediaClock()
    clock.add_batch(batch.run)
    together = [Member(session(k, batch)) for k in range(len(audio))]
    for member in together:
        clock.add(member)
    drive(together, audio, clock.run_tick)

    alone = [Member(session(k, None)) for k in range(len(audio))]

    def tick_alone(now: float) -> None:
        for member in alone:
            member.carry(member.media.tick(now))

    drive(alone, audio, tick_alone)
    for k in range(len(audio)):
        kinds = [kind for _, kind, _ in together[k].facts]
        assert kinds.count(SpeechStarted) == 2 and kinds.count(UtteranceCaptured) == 2
        assert PlaybackFinished in kinds  # the caller barged in
        assert together[k].facts == alone[k].facts
    assert batch.windows > 4 * batch.runs  # a tick's windows (of up to 8 calls) scored in one run
