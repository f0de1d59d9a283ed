"""SIP parse/serialize throughput on one core.

Run: .venv/bin/python bench/sip_parse.py
Prints messages/s for a typical softphone INVITE with SDP and a trunk's 200 OK with SDP:
strict parsing (Via/From/To/Contact/Request-URI typed and validated at once), lazy parsing
(typed headers on first access), and serialization.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from edge.sip.message import parse_message

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "sip" / "captured"


def rate(fn: Callable[[], object], seconds: float = 1.0) -> float:
    n = 0
    batch = 1000
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def main() -> None:
    for name in ("linphone_invite.sip", "freeswitch_200.sip"):
        data = (FIXTURES / name).read_bytes()
        msg = parse_message(data)
        assert bytes(msg) == data
        strict = rate(lambda d=data: parse_message(d))
        lazy = rate(lambda d=data: parse_message(d, strict=False))
        ser = rate(lambda m=msg: bytes(m))
        print(
            f"{name:22} {len(data):5d} B  parse strict {strict:9,.0f}/s  parse lazy {lazy:9,.0f}/s  "
            f"serialize {ser:9,.0f}/s"
        )


if __name__ == "__main__":
    main()
