"""Caller identification cost: loading N contacts from the config topic and looking callers up.

The edge applies every config record as it arrives (all of them at start), and looks the caller up
once per INVITE, on the call setup path. Prints the load time per contact and the lookup time, for a
known number (with separators to normalize) and an unknown one.

    .venv/bin/python bench/callerid.py [--contacts 100000] [--lookups 200000]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.uas.callerid import CallerBook
from schemas import models as m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    args = parser.parse_args()
    now = datetime.now(UTC)
    records = [
        m.Contact(
            event_id=uuid.uuid4(), entity_id=f"c{i}", occurred_at=now, source="bench", trace_id="bench",
            numbers=(f"+49 30 {i:07d}", f"user{i}"), name=f"Caller {i}", profile='{"tier": "gold"}',
        )
        for i in range(args.contacts)
    ]  # fmt: skip
    book = CallerBook()
    start = time.perf_counter()
    for r in records:
        book.apply("contact", r.entity_id, r)
    load_s = time.perf_counter() - start
    print(f"load: {args.contacts} contacts in {load_s:.3f} s ({load_s / args.contacts * 1e6:.2f} us each)")
    for label, caller in (("known", f"+4930{args.contacts // 2:07d}"), ("unknown", "+15550001")):
        start = time.perf_counter()
        for _ in range(args.lookups):
            book.lookup(caller)
        per = (time.perf_counter() - start) / args.lookups * 1e6
        print(f"lookup ({label}): {per:.2f} us")


if __name__ == "__main__":
    main()
