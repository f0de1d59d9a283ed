"""SIP call throughput and INVITE → 200 OK latency of the edge, driven by sipp, facts flowing to Kafka.

Starts a private local Kafka (free ports, temp home, the machine's jar cache) and the edge in this
process under uvloop (real media engine, real producer), then:

1. latency: 50 calls/s for ``--latency-s`` seconds with sipp's response-time measurement
   (``start_rtd``/``rtd`` around INVITE → 200, ``-trace_rtt``): p50 / p99 / max;
2. throughput: steps the call rate up (each step ``--step-s`` seconds, calls held ``--hold-ms``)
   until a step has a failed call or a retransmitted INVITE; reports the highest clean rate;
3. facts/s acknowledged by the log during each step.

    .venv/bin/python bench/sip_calls.py [--rates 100,150,200,250,300] [--step-s 10] [--media real|null]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the sipp and UAS test helpers live with the tests

from edge.app import EdgeApp, default_engine, null_engine  # noqa: E402 - after the path set-up
from sentiric.broker.local_kafka import LocalKafka  # noqa: E402 - after the path set-up
from sentiric.logs import configure  # noqa: E402 - after the path set-up
from sentiric.settings import Settings  # noqa: E402 - after the path set-up
from tests.support.sipp import edge_settings, free_port, run_sipp  # noqa: E402 - after the path set-up


def machine_cache() -> Path:
    configured = os.environ.get("SENTIRIC_CACHE_HOME")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sentiric"


def rtt_samples(workdir: Path) -> list[float]:
    out: list[float] = []
    for path in workdir.glob("*_rtt.csv"):
        with path.open() as fh:
            for row in csv.DictReader(fh, delimiter=";"):
                value = row.get("response_time_ms")  # whole milliseconds
                if value:
                    out.append(float(value))
    return out


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def step(
    app: EdgeApp, workdir: Path, rate: int, seconds: float, hold_ms: int, rtt: bool
) -> dict[str, Any]:
    calls = int(rate * seconds)
    published = app.producer.published
    started = time.perf_counter()
    cpu0 = cpu_s()
    extra = ["-d", str(hold_ms), "-l", str(max(100, rate * (hold_ms // 1000 + 3)))]
    if rtt:
        extra += ["-trace_rtt", "-rtt_freq", "1"]
    result = await run_sipp(
        app.sip_port,
        workdir,
        scenario="uac_timed.xml",
        calls=calls,
        rate=rate,
        timeout_s=seconds + hold_ms / 1000 + 30,
        extra=extra,
    )
    await app.producer.flush()
    elapsed = time.perf_counter() - started
    cpu = cpu_s() - cpu0
    return {
        "cpu_ms_per_call": 1000 * cpu / max(1, calls),  # this process: edge + producer, all threads
        "cpu_pct": 100 * cpu / elapsed,
        "rate": rate,
        "calls": calls,
        "ok": result.last("SuccessfulCall(C)"),
        "failed": result.last("FailedCall(C)"),
        "retrans": result.last("Retransmissions(C)")
        if "Retransmissions(C)" in (result.stats or [{}])[-1]
        else -1,
        "rc": result.returncode,
        "facts_per_s": (app.producer.published - published) / elapsed,
        "elapsed_s": elapsed,
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="sentiric-sipbench-") as tmp:
        home = Path(tmp)
        broker_settings = Settings(
            home=home / "kafka",
            cache_home=machine_cache(),
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
        )
        broker = LocalKafka(broker_settings)
        broker.start(detach=False)
        try:
            # sipp places every call from 127.0.0.1 at up to hundreds per second: edge_settings raises the
            # per-source limits (INVITE/OPTIONS/REGISTER rates, calls per source) explicitly for that.
            settings = edge_settings(broker.bootstrap, home / "edge", log_level="WARNING", sip_t1_ms=500)
            configure(settings, "bench-sip")
            factory = null_engine if args.media == "null" else default_engine
            app = EdgeApp(settings, engine_factory=factory)
            await app.start()
            try:
                await step(app, home / "warmup", 20, 2, 200, rtt=False)
                lat = await step(app, home / "latency", 50, args.latency_s, 1000, rtt=True)
                samples = rtt_samples(home / "latency")
                python = sys.version.split()[0]
                print(
                    f"edge SIP bench: {os.cpu_count()} CPUs, Python {python}, uvloop, real local Kafka, "
                    f"media engine: {args.media}"
                )
                print(
                    f"latency @50 calls/s: {lat['ok']}/{lat['calls']} ok, {lat['failed']} failed; "
                    "INVITE->200 "
                    f"p50 {pct(samples, 0.5):.2f} ms  p99 {pct(samples, 0.99):.2f} ms  "
                    f"max {max(samples):.2f} ms  mean {statistics.fmean(samples):.2f} ms (n={len(samples)}); "
                    f"facts/s {lat['facts_per_s']:.0f}; edge CPU {lat['cpu_ms_per_call']:.2f} ms per call"
                )
                best = 0
                for rate in [int(r) for r in args.rates.split(",")]:
                    profiler = cProfile.Profile(time.thread_time) if args.profile else None
                    if profiler is not None:
                        profiler.enable()
                    res = await step(app, home / f"rate{rate}", rate, args.step_s, args.hold_ms, rtt=False)
                    if profiler is not None:
                        profiler.disable()
                        profiler.dump_stats(f"{args.profile}.{rate}")
                    clean = res["failed"] == 0 and res["ok"] == res["calls"] and res["rc"] == 0
                    print(
                        f"rate {rate:>4} calls/s x {args.step_s:.0f} s: {res['ok']}/{res['calls']} ok, "
                        f"{res['failed']} failed, sipp retransmissions {res['retrans']}, "
                        f"facts/s {res['facts_per_s']:.0f}, rc {res['rc']}, "
                        f"edge CPU {res['cpu_ms_per_call']:.2f} ms per call ({res['cpu_pct']:.0f}% of a core)"
                    )
                    if not clean:
                        break
                    best = rate
                    await asyncio.sleep(args.hold_ms / 1000 + 2)  # let the previous step's calls end
                print(f"highest sustained rate with zero failed calls: {best} calls/s")
            finally:
                await app.stop()
        finally:
            broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="100,150,200,250,300,400")
    parser.add_argument("--step-s", type=float, default=10.0)
    parser.add_argument("--hold-ms", type=int, default=1000)
    parser.add_argument("--latency-s", type=float, default=10.0)
    parser.add_argument("--profile", help="diagnostic: cProfile (CPU time) each rate step into <file>.<rate>")
    parser.add_argument(
        "--media", choices=("real", "null"), default="real", help="null: bind RTP ports only, no RTP clock"
    )
    uvloop.run(main(parser.parse_args()))
