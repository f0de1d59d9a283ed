"""Cost of the action conversation per caller turn, English and Turkish, and of re-running a booking
call with its action calls answered from the recording (`sentiric replay rerun` with actions).

- `advance` per turn over a three-turn booking (trigger with date and time, the name, the yes) with
  the two sample actions configured: µs per turn, English (`streams.dialog.slots`) and Turkish
  (`streams.dialog.slots_tr`);
- `rerun_turns` + `compare` over recorded booking calls (the knowledge-base engine, the stub answering
  the booking): turns/s.

Run:  .venv/bin/python bench/slots_bench.py [--rounds 2000] [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import date

from projections.api.sample import sample_action, sample_action_tr
from streams.engines.actions import Say, advance
from streams.engines.knowledge import KnowledgeEngine, load_knowledge
from streams.replay_diff import compare
from streams.replay_rerun import recorded_turns, recording, rerun_turns
from tests.unit.streams.test_replay_actions import BOOK, Endpoint, booking_call

TODAY = date(2026, 12, 6)
ACTIONS = [sample_action("https://x/b", "s" * 16), sample_action_tr("https://x/b", "s" * 16)]
TURNS = {
    "en-US": ("I would like to book a service tomorrow at ten", "Alice Smith", "yes please"),
    "tr-TR": ("Yarın saat onda servis randevusu almak istiyorum", "adım Ayşe Yılmaz", "evet"),
}


def conversation(language: str) -> None:
    pending = None
    for text in TURNS[language]:
        step = advance(pending, text, TODAY, ACTIONS, language=language)
        pending = step.pending if isinstance(step, Say) else None


async def rerun_all(calls: list[list[object]]) -> int:
    knowledge = load_knowledge()
    turns = 0
    for facts in calls:
        rec = recording("call-b", facts)
        made = await rerun_turns(rec, None, KnowledgeEngine(), knowledge, actions=[BOOK])
        diff = compare("call-b", recorded_turns(rec), made)
        assert not diff.changed
        turns += len(diff.turns)
    return turns


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    for language in TURNS:
        conversation(language)  # warm
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(args.rounds):
                conversation(language)
            best = min(best, time.perf_counter() - start)
        print(f"advance {language}: {best / (args.rounds * 3) * 1e6:7.1f} µs per turn (best of 5)")
    recorded = asyncio.run(booking_call(Endpoint()))
    calls = [recorded] * args.calls
    start = time.perf_counter()
    turns = asyncio.run(rerun_all(calls))
    seconds = time.perf_counter() - start
    rate = f"{turns / seconds:8.1f} turns/s, {args.calls / seconds * 60:8.0f} calls/min"
    print(f"rerun booking calls (stub answers): {rate}")


if __name__ == "__main__":
    main()
