"""What checking a credential costs, per request: the pure checks behind the API's guard, /ws and gRPC.

    .venv/bin/python bench/auth_bench.py [--n 200000]

Prints microseconds per check for the bootstrap admin token, an issued `st_` token (dictionary lookup,
SHA-256 of the secret, constant-time compare), a session cookie (HMAC-SHA256 and the token lookup), and
signing a new session.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from schemas import models as m
from sentiric.auth import Verifier, derive_session_key, new_token

ADMIN = "bench-admin-token-0123456789abcdef"


def per_call_us(fn: Callable[[], object], n: int) -> float:
    for _ in range(min(n, 1000)):
        fn()
    began = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - began) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000)
    n = parser.parse_args().n
    records = {}
    for _ in range(10_000):  # a big token table: the lookup is a dict either way
        issued = new_token()
        now = datetime.now(UTC)
        records[issued.token_id] = m.ApiToken(
            event_id=uuid.uuid4(), entity_id=issued.token_id, occurred_at=now, source="bench", trace_id="t",
            name="bench", secret_sha256=issued.secret_sha256, scopes=("read",), created_at=now,
        )  # fmt: skip
    verifier = Verifier(admin_token=ADMIN, lookup=records.get, session_key=derive_session_key(ADMIN))
    at = time.time()
    principal = verifier.bearer(issued.token, at)
    cookie, _ = verifier.issue_session(principal, at)
    cases = {
        "bearer: bootstrap admin token": lambda: verifier.bearer(ADMIN, at),
        "bearer: issued st_ token": lambda: verifier.bearer(issued.token, at),
        "session cookie": lambda: verifier.session(cookie, at),
        "sign a new session": lambda: verifier.issue_session(principal, at),
    }
    for label, fn in cases.items():
        print(f"{label:<34} {per_call_us(fn, n):6.2f} µs/check  (n={n})")


if __name__ == "__main__":
    main()
