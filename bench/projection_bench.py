"""Read-side numbers: projection lag, rebuild speed, and `GET /api/calls` latency at 100,000 calls.

    .venv/bin/python bench/projection_bench.py [--seconds 20] [--rate 500] [--rebuild-events 100000]
                                               [--calls 100000] [--requests 400]

Starts a private local Kafka and embedded PostgreSQL on free ports (jars from the machine cache), and
the real API as its own process (`sentiric api` on a free 127.0.0.1 port, projector in it). Every
request carries the bench's admin token (`Authorization: Bearer`), as any client of the API must.

- lag: synthetic call facts published at `--rate` events/s for `--seconds`; for every call, the time
  from publishing its first fact to `GET /api/calls/{id}` answering 200 (every third
  call; polled every 10 ms).
- rebuild: `rebuild_pool` (drop, re-project from offset 0 with the live code path) over everything on
  the log, in events/s.
- list latency: `--calls` CDR rows stored (bulk-loaded rows, as the fold makes them), then `--requests`
  sequential requests over HTTP of: the first page, a disposition filter, a caller filter, a one-hour
  range, and pages 2..20 by cursor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from projections import cdr
from projections.logtopics import LogTopics
from projections.pool import open_pool
from projections.rebuild import rebuild_pool
from projections.synthetic import day_of_calls, interleaved
from sentiric.broker.local_kafka import LocalKafka
from sentiric.database import EmbeddedPostgres
from sentiric.eventlog.producer import EventProducer
from sentiric.net import free_port
from sentiric.settings import Settings


def machine_cache() -> Path:
    configured = os.environ.get("SENTIRIC_CACHE_HOME")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sentiric"


ADMIN_TOKEN = f"bench-{uuid.uuid4().hex}"  # the API process's SENTIRIC_ADMIN_TOKEN
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def report(label: str, ms: list[float]) -> None:
    print(
        f"{label:<44} n={len(ms):<6} p50 {pct(ms, 50):7.1f} ms  p99 {pct(ms, 99):7.1f} ms  "
        f"mean {statistics.fmean(ms):7.1f} ms  max {max(ms):7.1f} ms"
    )


async def measure_lag(api: str, kafka: str, topics: LogTopics, seconds: float, rate: int) -> None:
    calls = day_of_calls(int(seconds * rate / 20) + 50, seed=42)
    facts = interleaved(calls)[: int(seconds * rate)]
    first = {c.facts[0].event_id for c in calls[::3]}  # every third call is timed
    lags: list[float] = []
    pollers: list[asyncio.Task[None]] = []
    async with (
        httpx.AsyncClient(base_url=api, timeout=30, headers=AUTH) as http,
        EventProducer(bootstrap_servers=kafka, buffer_max=len(facts) + 10) as producer,
    ):

        async def poll(call_id: str, published: float) -> None:
            visible = False
            while not visible:
                visible = (await http.get(f"/api/calls/{call_id}")).status_code == 200
                if not visible:
                    await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - published) * 1000)

        began = time.perf_counter()
        for i, fact in enumerate(facts):
            due = began + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            producer.publish(fact, topic=topics.calls)
            if fact.event_id in first:
                pollers.append(asyncio.create_task(poll(fact.call_id, time.perf_counter())))
        achieved = len(facts) / (time.perf_counter() - began)
        await asyncio.gather(*pollers)
    print(f"published {len(facts)} events at {achieved:.0f} events/s ({len(pollers)} calls)")
    report("projection lag (publish -> GET 200)", lags)


async def measure_rebuild(dsn: str, kafka: str, topics: LogTopics, events: int) -> None:
    calls = day_of_calls(max(1, events // 24), seed=7, start=datetime(2025, 1, 1, tzinfo=UTC))
    facts = interleaved(calls)[:events]
    async with EventProducer(bootstrap_servers=kafka, buffer_max=len(facts) + 10, linger_ms=20) as producer:
        for fact in facts:
            producer.publish(fact, topic=topics.calls)
    pool = await open_pool(dsn)
    try:
        result = await rebuild_pool(pool, topics=topics, client={"bootstrap_servers": kafka})
    finally:
        await pool.close()
    print(
        f"rebuild: {result.events} events in {result.seconds:.1f} s = "
        f"{result.events_per_second:,.0f} events/s "
        f"({result.counts['calls']} calls, checksum {result.checksum[:16]}…)"
    )


def synthetic_row(i: int, rng: random.Random, t0: datetime) -> cdr.CallRow:
    invite = t0 + timedelta(seconds=i * 30 + rng.uniform(0, 29))
    answered = rng.random() < 0.8
    end = invite + timedelta(seconds=rng.uniform(5, 600))
    row = cdr.CallRow(
        call_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        sip_call_id=f"{i:x}@bench",
        caller=f"+9055{rng.randrange(5000):07d}",
        callee=rng.choice(("100", "200", "444")),
        channel="sip",
        invite_at=invite,
        answered_at=invite + timedelta(milliseconds=120) if answered else None,
        ended_at=end,
        rejected_at=None if answered else invite + timedelta(milliseconds=40),
        reject_status=None if answered else rng.choice((403, 486, 480, 503)),
        end_reason="caller_bye" if answered else None,
        talk_ms=int((end - invite).total_seconds() * 1000) if answered else 0,
        codec="PCMU",
        mos=rng.uniform(3, 4.4) if answered else None,
        event_count=20,
    )
    return cdr.derive(row)


async def measure_list(api: str, dsn: str, calls: int, requests: int) -> None:
    rng = random.Random(1)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    pool = await open_pool(dsn)
    try:
        async with pool.acquire() as conn:
            await conn.execute("TRUNCATE calls")
            rows = [cdr.as_tuple(synthetic_row(i, rng, t0)) for i in range(calls)]
            await conn.copy_records_to_table("calls", records=rows, columns=cdr.columns(cdr.CallRow))
            await conn.execute("ANALYZE calls")
            callers = [r["caller"] for r in await conn.fetch("SELECT caller FROM calls LIMIT 200")]
    finally:
        await pool.close()
    print(f"stored {calls} calls")
    async with httpx.AsyncClient(base_url=api, timeout=30, headers=AUTH) as http:
        kinds: dict[str, list[float]] = {
            "first page": [],
            "disposition": [],
            "caller": [],
            "hour": [],
            "cursor": [],
        }
        for i in range(requests):
            kind = list(kinds)[i % len(kinds)]
            params: dict[str, object] = {"limit": 50}
            if kind == "disposition":
                params["disposition"] = rng.choice(("answered", "busy", "failed", "no-answer", "rejected"))
            elif kind == "caller":
                params["caller"] = rng.choice(callers)
            elif kind == "hour":
                start = t0 + timedelta(seconds=rng.uniform(0, calls * 30))
                params |= {"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
            elif kind == "cursor":
                page = (await http.get("/api/calls", params=params)).json()
                for _ in range(rng.randrange(1, 19)):
                    page = (
                        await http.get("/api/calls", params=params | {"cursor": page["next_cursor"]})
                    ).json()
                params["cursor"] = page["next_cursor"]
            began = time.perf_counter()
            response = await http.get("/api/calls", params=params)
            kinds[kind].append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.text
    report("GET /api/calls, all kinds", [v for vs in kinds.values() for v in vs])
    for kind, values in kinds.items():
        report(f"  {kind}", values)


async def start_api(kafka: str, dsn: str, port: int, *extra: str) -> asyncio.subprocess.Process:
    """`sentiric api` as its own process, as deployed."""
    env = dict(
        os.environ,
        SENTIRIC_KAFKA_BOOTSTRAP=kafka,
        SENTIRIC_DATABASE_URL=dsn,
        SENTIRIC_LOG_LEVEL="WARNING",
        SENTIRIC_ADMIN_TOKEN=ADMIN_TOKEN,
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sentiric.cli", "api", "--port", str(port), *extra, env=env
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/healthz")).status_code == 200:
                    return proc
            await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError("sentiric api did not become healthy in 60 s")


async def stop_api(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), 20)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def run(args: argparse.Namespace, kafka: str, dsn: str) -> None:
    topics = LogTopics()
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    proc = await start_api(kafka, dsn, port)
    try:
        await measure_lag(api, kafka, topics, args.seconds, args.rate)
    finally:
        await stop_api(proc)
    await measure_rebuild(dsn, kafka, topics, args.rebuild_events)
    proc = await start_api(kafka, dsn, port, "--no-projector", "--no-webhooks")
    try:
        await measure_list(api, dsn, args.calls, args.requests)
    finally:
        await stop_api(proc)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--rebuild-events", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentiric-bench-") as home:
        settings = Settings(
            home=Path(home), cache_home=machine_cache(), kafka_port=free_port(),
            kafka_controller_port=free_port(), postgres_port=free_port(),
        )  # fmt: skip
        broker = LocalKafka(settings)
        broker.start(detach=False)
        database = EmbeddedPostgres(settings)
        try:
            dsn = database.start()
            asyncio.run(run(args, broker.bootstrap, dsn))
        finally:
            database.stop()
            broker.stop()


if __name__ == "__main__":
    main()
