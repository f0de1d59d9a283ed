"""Reply while thinking: time from a transcript to the first PlayAudio, whole reply vs streamed.

    .venv/bin/python bench/stream_reply.py [--repeat 5] [--delay-ms 30] [--tts hibari|espeak]

A fake OpenAI-compatible model (tests/support/fake_chat.py, a real HTTP server on loopback) writes a
3-sentence answer one word-token every `--delay-ms`; the real chat engine (streams/engines/openai_chat)
reads it; the worker's real functions and engines do the rest, in this process, one call at a time:

    whole      today's path: `speech.reply` (the whole answer) → `speech.synthesize` (all of it)
               → the dialog reducer (`streams.dialog.machine.decide`) → PlayAudio
    streamed   `speech.reply_streamed`: each finished sentence → `speech.synthesize` on a TTS thread
               (the TTS agent works beside the engine) → the reducer → PlayAudio per piece

Printed per mode (p50 / max over `--repeat` runs, ms from the transcript):
    first PlayAudio   what the caller waits for, before the log hops (a few ms each) and the edge
    last PlayAudio    every piece of the reply queued at the edge
    model done        the model's last token read
The speech cache is off, so every run synthesizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas import models as m  # noqa: E402
from sentiric.settings import Settings  # noqa: E402
from streams.agents import speech  # noqa: E402
from streams.dialog.decisions import Send  # noqa: E402
from streams.dialog.machine import decide, new_state  # noqa: E402
from streams.dialog.script import CallScript  # noqa: E402
from streams.dialog.state import DialogState  # noqa: E402
from streams.engines.factory import build_tts  # noqa: E402
from streams.engines.openai_chat import OpenAIChatEngine  # noqa: E402
from streams.engines.tts import TextToSpeech  # noqa: E402
from tests.support.fake_chat import FakeChatServer  # noqa: E402

ANSWER = (
    "We are open from nine thirty in the morning until six in the evening on weekdays. "
    "On Saturdays we open at ten and close at two in the afternoon. "
    "On Sundays and public holidays the shop stays closed all day."
)


def thinking(script: CallScript, run: int) -> tuple[DialogState, m.UtteranceTranscribed]:
    """A call's dialog waiting for the answer to the caller's question (greeting played)."""
    state = new_state(script.call_id)
    for fact in (*script.setup(), script.established()):
        state, _ = decide(state, fact)
    greeting = state.pending_reply
    assert greeting is not None
    for fact in (script.synthesized(greeting), *script.played(greeting)):
        state, _ = decide(state, fact)
    heard = script.transcribed(f"u{run}", "when are you open")
    state, _ = decide(state, heard)
    return state, heard


def plays(state: DialogState, fact: Any) -> tuple[DialogState, int]:
    state, out = decide(state, fact)
    return state, sum(isinstance(d, Send) and isinstance(d.command, m.PlayAudio) for d in out)


def whole(engine: OpenAIChatEngine, tts: TextToSpeech, run: int) -> tuple[float, float, float]:
    state, heard = thinking(CallScript(f"whole-{run}"), run)
    start = time.perf_counter()
    reply = speech.reply(heard, engine, [], [])
    model_done = time.perf_counter()
    state, _ = decide(state, reply)
    state, n = plays(state, speech.synthesize(reply, tts, "en-US"))
    assert n == 1
    first = time.perf_counter()
    return (first - start) * 1000, (first - start) * 1000, (model_done - start) * 1000


def streamed(engine: OpenAIChatEngine, tts: TextToSpeech, run: int) -> tuple[float, float, float]:
    state, heard = thinking(CallScript(f"streamed-{run}"), run)
    played: list[float] = []
    voicing = ThreadPoolExecutor(1)  # the TTS agent: in order, beside the engine
    facts: list[Any] = []

    def voice(fact: m.AgentReplied) -> None:
        nonlocal state
        state, _ = decide(state, fact)
        state, n = plays(state, speech.synthesize(fact, tts, "en-US"))
        played.extend([time.perf_counter()] * n)

    def on_piece(piece: m.AgentReplied) -> None:
        facts.append(voicing.submit(voice, piece))

    start = time.perf_counter()
    final = speech.reply_streamed(heard, engine, [], [], on_piece)
    model_done = time.perf_counter()
    facts.append(voicing.submit(voice, final))
    for future in facts:
        future.result()
    voicing.shutdown()
    assert len(played) >= 2, played
    return (played[0] - start) * 1000, (played[-1] - start) * 1000, (model_done - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--delay-ms", type=float, default=30.0)
    parser.add_argument("--tts", default="hibari", choices=["hibari", "espeak"])
    args = parser.parse_args()
    tokens = [word + " " for word in ANSWER.split()]
    chat = FakeChatServer(delay_s=args.delay_ms / 1000)
    chat.say(*tokens)
    engine = OpenAIChatEngine(chat.url, "fake")
    tts = build_tts(Settings(tts_engine=args.tts, tts_cache_mb=0))
    tts.synthesize("Warming up the voice.", "en-US")
    print(
        f"model: {len(tokens)} tokens, one every {args.delay_ms:.0f} ms; TTS {args.tts}; {args.repeat} runs"
    )
    print(f"{'mode':10} {'first PlayAudio':>22} {'last PlayAudio':>22} {'model done':>22}   (p50 / max ms)")
    try:
        for name, fn in (("whole", whole), ("streamed", streamed)):
            rows = [fn(engine, tts, run) for run in range(args.repeat)]
            cols = [[r[i] for r in rows] for i in range(3)]
            cells = [f"{statistics.median(c):8.0f} / {max(c):8.0f}" for c in cols]
            print(f"{name:10} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22}")
    finally:
        engine.close()
        chat.stop()


if __name__ == "__main__":
    main()
