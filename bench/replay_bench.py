"""Re-run and export speed of `sentiric replay` with the embedded engines.

Builds `--calls` recorded calls of three caller turns each from the speech fixtures
(`tests/fixtures/speech/*_16k.wav`: "what are your opening hours", "where is your shop", "thank you,
goodbye"), with the words spoken as the recorded transcripts and the knowledge base's replies, then
times, in this process:

- `rerun_turns` + `compare` per call with STT `recorded` (dialog engine only), `pocketsphinx` and
  `whisper` (base, CTranslate2 int8), each with the knowledge-base dialog engine: turns/s, calls/min;
- `replay export`'s work per call (`packets_of` + `pcapng_bytes` + `wav_bytes`, with a 9 s reply of
  agent audio per turn): ms per call.

Reading the calls from the log is not included (that is the broker's read speed, `bench/log_latency.py`).

Run:  .venv/bin/python bench/replay_bench.py [--calls 5] [--engines recorded,pocketsphinx,whisper]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from schemas import models as m
from sentiric.settings import Settings
from streams.dialog.script import CallScript
from streams.engines.knowledge import KnowledgeEngine, load_knowledge
from streams.replay_cli import build_stt
from streams.replay_diff import compare, summarize
from streams.replay_export import packets_of, pcapng_bytes, wav_bytes
from streams.replay_rerun import recorded_turns, recording, rerun_turns

SPEECH = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "speech"
TURNS = [
    ("opening_hours_16k.wav", "What are your opening hours?"),
    ("where_are_you_16k.wav", "Where is your shop?"),
    ("goodbye_16k.wav", "Thank you, goodbye."),
]


def pcm(name: str) -> bytes:
    with wave.open(str(SPEECH / name)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        return w.readframes(w.getnframes())


def a_call(i: int, knowledge: list[m.KnowledgeEntry]) -> list[Any]:
    s = CallScript(f"bench-{i}")
    engine = KnowledgeEngine()
    facts: list[Any] = [*s.setup(), s.established()]
    reply_audio = (3000 * np.sin(np.arange(9 * 16000) * 2 * np.pi * 220 / 16000)).astype("<i2").tobytes()
    start = 1000
    for n, (name, text) in enumerate(TURNS):
        uid = f"u{n}"
        audio = pcm(name)
        facts.append(s.fact(m.UtteranceCaptured, utterance_id=uid, pcm=audio, sample_rate=16000,
                            start_ms=start, end_ms=start + len(audio) // 32))  # fmt: skip
        facts.append(s.transcribed(uid, text))
        answer = engine.reply(text, [], knowledge)
        replied = s.replied(uid, answer.text, intent=answer.intent or "", end=answer.end_conversation)
        facts.append(dataclasses.replace(replied, engine=engine.name, intent=answer.intent))
        facts.append(
            s.fact(m.SpeechSynthesized, reply_id=replied.reply_id, text=answer.text, pcm=reply_audio)
        )
        start += 12000
    facts.append(s.ended())
    return facts


async def rerun_all(calls: list[list[Any]], stt: Any, dialog: Any, knowledge: Any) -> list[Any]:
    diffs = []
    for facts in calls:
        rec = recording(facts[0].call_id, facts)
        made = await rerun_turns(rec, stt, dialog, knowledge)
        diffs.append(compare(rec.call_id, recorded_turns(rec), made))
    return diffs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--engines", default="recorded,pocketsphinx,whisper")
    args = parser.parse_args()
    knowledge = load_knowledge()
    calls = [a_call(i, knowledge) for i in range(args.calls)]
    settings = Settings()
    print(f"{args.calls} calls of {len(TURNS)} turns; knowledge-base dialog engine")
    for spec in args.engines.split(","):
        stt = build_stt(settings, spec, knowledge)
        dialog = KnowledgeEngine()
        asyncio.run(rerun_turns(recording("warm", calls[0]), stt, dialog, knowledge))  # model load, caches
        start = time.perf_counter()
        diffs = asyncio.run(rerun_all(calls, stt, dialog, knowledge))  # one loop, as the CLI's
        seconds = time.perf_counter() - start
        turns = sum(len(d.turns) for d in diffs)
        rate = f"{turns / seconds:8.1f} turns/s  {len(calls) / seconds * 60:8.1f} calls/min"
        print(f"rerun stt={spec:<13} {rate}  ({summarize(diffs)})")
    times = []
    for facts in calls:
        start = time.perf_counter()
        pcapng_bytes(packets_of(facts))
        wav_bytes(facts)
        times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    print(f"export (pcap + wav, 3 turns, 3 x 9 s replies): {median:.1f} ms/call median, max {max(times):.1f}")


if __name__ == "__main__":
    main()
