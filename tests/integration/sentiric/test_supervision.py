"""`sentiric up` as a supervisor: a killed or hung broker comes back, a stop with the broker dead ends
within its deadline, a killed `sentiric up` leaves nothing behind, PostgreSQL frozen for a minute under
load loses no CDR. Real Kafka, real PostgreSQL, real sipp; the figures measured are printed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter

import httpx

from sentiric.broker.local_kafka import LOCALHOST, probe
from sentiric.processes import alive
from sentiric.settings import Settings
from sentiric.supervisor import _worker_joined

from .platform import default_ports, sentiric_up
from .supervision import (
    api_calls,
    children,
    continue_group,
    facts,
    finished,
    kinds,
    metric,
    recorded,
    sipp,
    stop_group,
    wait_calls,
    wait_gone,
)


def wait_for(check, timeout: float, what: str, tail=lambda: "") -> float:  # type: ignore[no-untyped-def]
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if check():
            return time.monotonic() - began
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout} s\n{tail()}")


def edge_metrics(platform) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The edge's unlabelled samples (its /metrics takes the same bearer token as the API)."""
    url = f"http://127.0.0.1:{platform.ports['SENTIRIC_EDGE_METRICS_PORT']}/metrics"
    try:
        text = httpx.get(url, headers=platform.headers, timeout=2).text
    except httpx.HTTPError:
        return {}
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#") and "{" not in parts[0]:
            out[parts[0]] = float(parts[1])
    return out


def worker_joined(kafka: str) -> bool:
    """The worker's consumer group has a stable assignment (what `sentiric up` waits for at start)."""
    return asyncio.run(_worker_joined(Settings(kafka_bootstrap=kafka)))


def database_health(api: str) -> bool:
    try:
        return bool(httpx.get(f"{api}/healthz", timeout=3).json().get("database"))
    except (httpx.HTTPError, ValueError):
        return False


def broker_health(api: str) -> bool | None:
    try:
        return bool(httpx.get(f"{api}/healthz", timeout=3).json().get("broker"))
    except (httpx.HTTPError, ValueError):
        return None


def test_a_killed_broker_is_restarted_the_next_call_works_and_no_fact_is_lost(tmp_path, machine_cache_dir):
    # earliest: a partition the worker never committed on is read from its start after the rebalance the
    # restart causes, not skipped (that gap of "latest" is issue 11 item 2's, not supervision's)
    with sentiric_up(tmp_path, machine_cache_dir, SENTIRIC_STREAMS_OFFSET_RESET="earliest") as platform:
        platform.wait_up()
        during = sipp(platform, tmp_path, duration_ms=8000)  # established before the outage, ends during it
        (first,) = wait_calls(platform, 1, done=False, timeout=60)
        # greeted before the kill: a call still waiting for its greeting when the worker's commands stop is
        # rightly degraded and hung up by the edge's greeting watchdog (never silent), which sipp would
        # count as a failed call
        wait_for(
            lambda: "PlaybackStarted" in kinds(facts(platform, first["call_id"])),
            60, "the first call greeted", platform.tail,
        )  # fmt: skip
        port = platform.ports["SENTIRIC_KAFKA_PORT"]
        old = children(platform)["kafka"]
        os.kill(old, signal.SIGKILL)
        killed = time.monotonic()
        peak = {"sentiric_log_buffered": 0.0, "sentiric_log_buffered_bytes": 0.0}

        def restarted() -> bool:
            for name, value in edge_metrics(platform).items():  # what the edge holds meanwhile
                if name in peak:
                    peak[name] = max(peak[name], value)
            return children(platform).get("kafka") not in (None, old) and probe(LOCALHOST, port) is not None

        back = wait_for(restarted, 120, "the broker restarted", platform.tail)
        print(
            f"\nbroker killed -9 under sentiric up: answering again after {back:.1f} s; the edge held up to "
            f"{peak['sentiric_log_buffered']:.0f} facts ({peak['sentiric_log_buffered_bytes']:.0f} bytes) "
            "meanwhile"
        )
        finished(during)
        # ready again before the next call: the API sees the broker, the worker's group is assigned
        wait_for(lambda: broker_health(platform.api) is True, 120, "the API sees the broker", platform.tail)
        wait_for(lambda: worker_joined(platform.kafka), 180, "the worker rejoined", platform.tail)
        # The group can look stable while it still lists the worker's member from before the outage (the
        # coordinator reloads it); when that member's session then expires the worker rejoins, and a short
        # call placed in that window has ended before the worker reads it (its work is skipped, never
        # played late). The edge may also refuse a call with 503 (no_worker, worker_behind) until it sees the
        # rejoined worker's heartbeat: refused is never silent, and the caller retries. So "the next call
        # works" is: within five calls placed one after another, one is greeted, every other one was refused
        # or ended cleanly, and every call's facts are whole.
        greeted = None
        refused: set[str] = set()
        for attempt in range(1, 6):
            placed = sipp(platform, tmp_path, duration_ms=3000)
            out, _ = placed.communicate(timeout=180)
            rows = wait_calls(platform, 1 + attempt, timeout=180)
            newest = max(rows, key=lambda r: r["invite_at"])["call_id"]
            if placed.returncode != 0:
                why = [r.get("reason") for r in facts(platform, newest) if r.get("type") == "CallRejected"]
                assert why and why[0] in ("no_worker", "worker_behind"), (why, out[-3000:])
                print(f"call {attempt} after the outage refused: 503 {why[0]}")
                refused.add(newest)
                time.sleep(2)
                continue
            try:
                wait_for(
                    lambda call_id=newest: "PlayAudio" in kinds(facts(platform, call_id, commands=True)),
                    30, "the next call greeted", platform.tail,
                )  # fmt: skip
            except AssertionError:
                continue
            greeted = attempt
            break
        assert greeted is not None, f"none of five calls after the outage was greeted\n{platform.tail()}"
        print(f"the call greeted after the outage: number {greeted} of the calls placed after it")
        for row in rows:
            records = facts(platform, row["call_id"])
            edge = [r for r in records if r["source"] == "edge-1"]  # the edge's facts: each once, no gap
            ids = Counter(r["event_id"] for r in edge)
            twice = [(r["type"], r["seq"]) for r in edge if ids[r["event_id"]] > 1]
            assert not twice, twice
            assert sorted(r["seq"] for r in edge) == list(range(1, len(edge) + 1))
            names = kinds(records)
            whole = (
                ("CallInviteReceived", "CallRejected", "CallEnded")
                if row["call_id"] in refused
                else ("CallInviteReceived", "CallEstablished", "CallEnded", "MediaPortReleased")
            )
            for expected in whole:
                assert expected in names, (row, names)
        assert metric(platform, "sentiric_supervisor_restarts_total", child="kafka") == 1.0
        assert "process restarted" in platform.log.read_text() and time.monotonic() > killed


def test_a_hung_broker_is_replaced_after_the_grace_period_and_a_killed_postgres_restarted(
    tmp_path, machine_cache_dir
):
    with sentiric_up(tmp_path, machine_cache_dir, SENTIRIC_UP_LIVENESS_GRACE_S="6") as platform:
        platform.wait_up()
        old = children(platform)["kafka"]
        os.kill(old, signal.SIGSTOP)  # alive, not answering
        took = wait_for(
            lambda: children(platform).get("kafka") not in (None, old), 120, "restart", platform.tail
        )
        print(f"\nhung broker replaced after {took:.1f} s (grace 6 s)")
        assert not alive(old, None)
        assert "process alive but not answering" in platform.log.read_text()
        wait_for(lambda: broker_health(platform.api) is True, 120, "the API sees the broker", platform.tail)
        assert metric(platform, "sentiric_supervisor_restarts_total", child="kafka") == 1.0

        postmaster = children(platform)["postgres"]
        os.kill(postmaster, signal.SIGKILL)  # its backends notice and leave; the next postmaster starts

        def back() -> bool:
            return children(platform).get("postgres") not in (None, postmaster) and database_health(
                platform.api
            )

        took = wait_for(back, 120, "PostgreSQL restarted and the API uses it", platform.tail)
        print(f"PostgreSQL killed -9 under sentiric up: the API healthy with it again after {took:.1f} s")
        assert metric(platform, "sentiric_supervisor_restarts_total", child="postgres") == 1.0


def test_stopping_with_the_broker_dead_ends_everything_within_the_deadline(tmp_path, machine_cache_dir):
    with sentiric_up(
        tmp_path, machine_cache_dir, SENTIRIC_UP_STOP_TIMEOUT_S="15", SENTIRIC_UP_LIVENESS_GRACE_S="300"
    ) as platform:
        platform.wait_up()
        rows = recorded(platform)
        started = {r.pid: r.started for r in rows}
        os.kill(children(platform)["kafka"], signal.SIGSTOP)  # dead to every client, never restarted
        wait_for(lambda: broker_health(platform.api) is False, 90, "the API notices", platform.tail)
        began = time.monotonic()
        platform.proc.send_signal(signal.SIGTERM)
        platform.proc.wait(60)
        took = time.monotonic() - began
        print(f"\nsentiric up stopped with the broker dead in {took:.1f} s (deadline 15 s)")
        assert took < 15 + 3, platform.tail()  # the deadline, plus the interpreter's own exit
        wait_gone(list(started), started, 2)


def test_a_killed_up_leaves_no_child_and_the_next_starts_at_once(tmp_path, machine_cache_dir):
    ports = default_ports()
    with sentiric_up(tmp_path, machine_cache_dir, ports=ports, keep_home=True) as first:
        first.wait_up()
        rows = recorded(first)
        assert {"kafka", "postgres", "edge", "worker", "api"} <= {r.name for r in rows}
        first.proc.kill()
        first.proc.wait()
        started = {r.pid: r.started for r in rows}
        gone = wait_gone(list(started), started, 30)
        print(f"\nsentiric up killed -9: its {len(rows)} children gone after {gone:.1f} s")
        home, token = first.home, first.token
    try:
        began = time.monotonic()
        with sentiric_up(
            tmp_path, machine_cache_dir, ports=ports, home=home, SENTIRIC_ADMIN_TOKEN=token
        ) as again:
            again.wait_up()
            print(f"the next sentiric up, same ports and home, up after {time.monotonic() - began:.1f} s")
            assert "in use by another process" not in again.log.read_text()
    finally:
        subprocess.run(["rm", "-rf", str(home)], check=False)


def test_postgres_frozen_for_a_minute_under_load_loses_no_cdr(tmp_path, machine_cache_dir):
    outage_s = float(os.environ.get("SENTIRIC_TEST_PG_OUTAGE_S", "60"))
    with sentiric_up(tmp_path, machine_cache_dir, SENTIRIC_UP_LIVENESS_GRACE_S="600") as platform:
        platform.wait_up()
        before = sipp(platform, tmp_path, calls=3, rate=2, duration_ms=1000)
        finished(before)
        wait_calls(platform, 3)
        postmaster = children(platform)["postgres"]
        stop_group(postmaster)  # the postmaster and every backend frozen: connections hang, not fail
        frozen = time.monotonic()
        try:
            load = sipp(
                platform, tmp_path, calls=20, rate=0.5, duration_ms=2000
            )  # calls all through the outage
            finished(load, timeout=outage_s + 120)
            time.sleep(max(0.0, outage_s - (time.monotonic() - frozen)))  # the outage lasts outage_s
        finally:
            continue_group(postmaster)
        thawed = time.monotonic()
        rows = wait_calls(platform, 23, timeout=240)
        print(f"\nPostgreSQL frozen {thawed - frozen:.0f} s under 20 calls: all 23 CDRs after "
              f"{time.monotonic() - thawed:.1f} s")  # fmt: skip
        assert len(rows) == 23
        assert len({r["call_id"] for r in rows}) == 23
        assert all(r["finished_at"] is not None for r in api_calls(platform))
