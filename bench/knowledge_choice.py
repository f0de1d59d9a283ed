"""Choosing an outbound call's knowledge entries: the cost per dialog turn.

Every turn of the dialog-engine worker reads the call's context from its table (JSON) and picks the
knowledge entries the call may use (`CallContext.chosen`: the ids an `OriginateCall` named, among
every entry on the config topic). Prints the time per turn for N entries, with a few ids named and
with none (an inbound call: every entry, nothing filtered).

    .venv/bin/python bench/knowledge_choice.py [--entries 10000] [--named 5] [--turns 2000]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas import models as m
from streams.dialog.context import CallContext


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--named", type=int, default=5)
    parser.add_argument("--turns", type=int, default=2000)
    args = parser.parse_args()
    now = datetime.now(UTC)
    entries = [
        m.KnowledgeEntry(
            event_id=uuid.uuid4(), entity_id=f"k{i}", occurred_at=now, source="bench", trace_id="bench",
            title=f"entry {i}", phrasings=[f"question {i}"], answer=f"answer {i}",
        )
        for i in range(args.entries)
    ]  # fmt: skip
    named = CallContext(knowledge=tuple(f"k{i * 997 % args.entries}" for i in range(args.named))).to_json()
    everything = CallContext().to_json()
    for label, stored in ((f"{args.named} ids named", named), ("none named (inbound)", everything)):
        start = time.perf_counter()
        for _ in range(args.turns):
            chosen = CallContext.from_json(stored).chosen(entries)
        per_turn = (time.perf_counter() - start) / args.turns
        print(f"{label:>22}: {per_turn * 1e6:8.1f} µs per turn ({len(chosen)} of {len(entries)} entries)")


if __name__ == "__main__":
    main()
