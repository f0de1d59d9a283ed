"""Dashboard load time with 100,000 calls stored: every request the page makes when it opens.

    .venv/bin/python bench/web_dashboard.py [--calls 100000] [--loads 30]

Starts a private local Kafka and embedded PostgreSQL on free ports, bulk-loads `--calls` CDR rows
(one every 30 s, ending now, so the last 24 h hold 2,880 calls and the last 7 days 20,160), and serves
the main API with the web router in-process (uvicorn on a free port, no projector). One page load =
the HTML, its three scripts and style sheet, `/api/calls?limit=25`, `/api/stats` and
`/api/web/series` for the default range (24 h), fetched concurrently as a browser does; then the same
for the 7-day range, a filtered CDR page, and one call's detail. The requests carry the session
cookie of a sign-in, as the browser's do (so the cost of checking it is in the numbers).

With `--tenants N` (N > 1) the calls are spread over N tenants (t0..t{N-1}) and every scenario runs
twice: as the platform admin over every tenant, then acting in tenant t0 (the dashboard's tenant picker,
the `sentiric_tenant` cookie), whose queries filter on the tenant (issue 15).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).parent))
from projection_bench import ADMIN_TOKEN, free_port, machine_cache, pct, synthetic_row

from projections import cdr
from projections.api.app import create_app
from projections.api.services import ApiConfig
from projections.pool import open_pool
from projections.web.routes import router
from sentiric.broker.local_kafka import LocalKafka
from sentiric.database import EmbeddedPostgres
from sentiric.settings import Settings

STATIC = ("/", "/web/style.css", "/web/session.js", "/web/charts.js", "/web/dashboard.js")


async def load(dsn: str, calls: int, tenants: int = 1) -> str:
    rng = random.Random(7)
    t0 = datetime.now(UTC) - timedelta(seconds=calls * 30)
    pool = await open_pool(dsn)
    try:
        async with pool.acquire() as conn:
            await conn.execute("TRUNCATE calls")
            rows = [cdr.as_tuple(synthetic_row(i, rng, t0)) for i in range(calls)]
            await conn.copy_records_to_table("calls", records=rows, columns=cdr.columns(cdr.CallRow))
            if tenants > 1:
                await conn.execute("UPDATE calls SET tenant = 't' || (abs(hashtext(call_id)) % $1)", tenants)
            await conn.execute("ANALYZE calls")
            return str(
                await conn.fetchval(
                    "SELECT call_id FROM calls WHERE tenant = $1 ORDER BY invite_at DESC LIMIT 1",
                    "t0" if tenants > 1 else "default",
                )
            )
    finally:
        await pool.close()


async def page(http: httpx.AsyncClient, paths: list[str]) -> float:
    began = time.perf_counter()
    responses = await asyncio.gather(*(http.get(p) for p in paths))
    for r in responses:
        assert r.status_code == 200, (r.request.url, r.status_code, r.text[:200])
    return (time.perf_counter() - began) * 1000


def report(label: str, ms: list[float]) -> None:
    print(
        f"{label:<40} n={len(ms):<4} p50 {pct(ms, 50):7.1f} ms  p99 {pct(ms, 99):7.1f} ms  "
        f"max {max(ms):7.1f} ms"
    )


async def run(kafka: str, dsn: str, calls: int, loads: int, tenants: int = 1) -> None:
    call_id = await load(dsn, calls, tenants)
    print(f"stored {calls} calls" + (f" of {tenants} tenants" if tenants > 1 else ""))
    app = create_app(
        ApiConfig(
            dsn=dsn,
            client={"bootstrap_servers": kafka},
            admin_token=ADMIN_TOKEN,
            run_projector=False,
            run_webhooks=False,
        )
    )
    app.include_router(router)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.05)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            signed_in = await http.post("/signin", data={"token": ADMIN_TOKEN})  # the cookie, as a browser
            assert signed_in.status_code == 303 and "sentiric_session" in http.cookies, signed_in.text

            def kpis(hours: int) -> list[str]:
                to = datetime.now(UTC)
                q = f"from={(to - timedelta(hours=hours)).isoformat()}&to={to.isoformat()}".replace(
                    "+", "%2B"
                )
                return [f"/api/stats?{q}", f"/api/web/series?{q}&buckets=24"]

            scenarios = {
                "open the dashboard (24 h)": [*STATIC, "/api/calls?limit=25", *kpis(24)],
                "switch to 7 days": kpis(168),
                "filter CDRs (callee, answered)": ["/api/calls?limit=25&callee=200&disposition=answered"],
                "open one call": [f"/api/calls/{call_id}"],
            }
            for paths in scenarios.values():  # warm the pool and PostgreSQL's cache once
                await page(http, paths)
            for label, paths in scenarios.items():
                report(label, [await page(http, paths) for _ in range(loads)])
            if tenants > 1:
                http.cookies.set("sentiric_tenant", "t0")  # the platform admin acts in one tenant
                for paths in scenarios.values():
                    await page(http, paths)
                for label, paths in scenarios.items():
                    report(f"tenant t0: {label}", [await page(http, paths) for _ in range(loads)])
    finally:
        server.should_exit = True
        await task


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=30)
    parser.add_argument("--tenants", type=int, default=1, help="spread the calls over this many tenants")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentiric-bench-") as home:
        settings = Settings(
            home=Path(home),
            cache_home=machine_cache(),
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            postgres_port=free_port(),
        )
        broker = LocalKafka(settings)
        broker.start(detach=False)
        database = EmbeddedPostgres(settings)
        try:
            dsn = database.start()
            asyncio.run(run(broker.bootstrap, dsn, args.calls, args.loads, args.tenants))
        finally:
            database.stop()
            broker.stop()


if __name__ == "__main__":
    main()
