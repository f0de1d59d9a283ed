"""What recording the SIP ladder costs the edge's SIP path, on one core, without sockets or a broker.

Run: .venv/bin/python bench/sip_ladder.py
Drives whole calls through the sans-IO UAS core (INVITE → 180 → 200 → ACK → BYE → 200, the 200 sent by
the ring timer) with the one fact recorder publishing into Avro encoding (what the producer does with
each fact before it buffers it), with the ladder off and on in alternating rounds (the best of five
each: the CPU time of this process, so other load on the box counts less); prints calls/s, CPU time
per call and the ladder's facts and encoded bytes per call.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the UAS harness lives with the tests

from edge.facts import FactRecorder
from edge.uas.config import LadderLimits
from schemas.codec import default_codec
from schemas.models import SipMessageObserved
from tests.support.uas_harness import Phone, make_edge, responses

CODEC = default_codec()


class Encoding:
    """A publisher that encodes each record, as the producer does, and counts the ladder's bytes."""

    def __init__(self) -> None:
        self.ladder_facts = self.ladder_bytes = 0

    def publish(self, record: Any, *, topic: str = "sentiric.calls", key: str | None = None) -> None:
        data = CODEC.encode(record)
        if type(record) is SipMessageObserved:
            self.ladder_facts += 1
            self.ladder_bytes += len(data)


def run(enabled: bool, calls: int) -> tuple[float, Encoding]:
    edge = make_edge(ring_s=0.2, ladder=LadderLimits(enabled=enabled))
    publisher = Encoding()
    edge.core.facts.sink = FactRecorder(publisher, "edge-bench")
    start = time.process_time()
    for i in range(calls):
        now = i * 1.0
        phone = Phone(edge)
        phone.invite(now)
        phone.to_tag = responses(edge.run_timers(now + 0.3))[-1].to_addr.tag
        phone.ack(now + 0.35)
        for effect in phone.send(phone.request("BYE"), now + 0.5):
            if type(effect).__name__ == "CloseMedia":
                edge.core.media_closed(effect.call_id, now + 0.6)
    return time.process_time() - start, publisher


def main(calls: int = 2000, rounds: int = 5) -> None:
    run(True, 200)  # warm up
    best: dict[bool, tuple[float, Encoding]] = {}
    for _ in range(rounds):
        for enabled in (False, True):
            took, pub = run(enabled, calls)
            if enabled not in best or took < best[enabled][0]:
                best[enabled] = (took, pub)
    for enabled, (took, pub) in sorted(best.items()):
        extra = (
            f", ladder {pub.ladder_facts / calls:.1f} facts {pub.ladder_bytes / calls:,.0f} B/call"
            if enabled
            else ""
        )
        label = "on " if enabled else "off"
        print(f"ladder {label}: {calls / took:8,.0f} calls/s  {took / calls * 1e6:6.0f} µs CPU/call{extra}")


if __name__ == "__main__":
    main()
