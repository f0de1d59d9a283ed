"""How long the local Kafka takes to become usable: one-time fetch, cold start, warm start, stop.

    .venv/bin/python bench/broker_start.py [--runs 5] [--fresh-cache] [--empty-maven-repo]

- fetch: `mvn dependency:copy-dependencies` into an empty jar cache (printed when the machine cache is
  empty, or always with --fresh-cache; --empty-maven-repo also hides ~/.m2, so every jar and Maven
  plugin comes from Maven Central), then the first start, which writes the class-data-sharing archive.
- cold: a fresh data directory, jars cached: format the storage, start, wait until Metadata answers.
- warm: the same data directory again (already formatted, topics kept).
Ports are free ones on 127.0.0.1; every broker started here is stopped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from sentiric.broker.local_kafka import LocalKafka
from sentiric.net import free_port
from sentiric.settings import Settings


def broker(home: Path, cache: Path) -> LocalKafka:
    return LocalKafka(
        Settings(home=home, cache_home=cache, kafka_port=free_port(), kafka_controller_port=free_port())
    )


def timed(action: object) -> float:
    began = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - began


def summary(label: str, values: list[float]) -> None:
    shown = " ".join(f"{v:.2f}" for v in values)
    print(
        f"{label:<34} median {statistics.median(values):5.2f} s  min {min(values):5.2f}  "
        f"max {max(values):5.2f}  ({shown})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fresh-cache", action="store_true", help="measure the fetch into an empty cache")
    parser.add_argument("--empty-maven-repo", action="store_true", help="and with an empty ~/.m2 too")
    args = parser.parse_args()

    machine_cache = Path(os.environ.get("SENTIRIC_CACHE_HOME") or Path.home() / ".cache" / "sentiric")
    with tempfile.TemporaryDirectory(prefix="sentiric-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        cache = scratch / "cache" if args.fresh_cache or args.empty_maven_repo else machine_cache
        if args.empty_maven_repo:
            os.environ["MAVEN_OPTS"] = (
                f"{os.environ.get('MAVEN_OPTS', '')} -Dmaven.repo.local={scratch / 'm2'}"
            )
        probe = broker(scratch / "first", cache)
        print(f"Kafka {probe.settings.kafka_version}, jar cache {cache}, {os.cpu_count()} CPUs")
        if not probe.is_provisioned():
            repo = "empty Maven repository" if args.empty_maven_repo else "Maven repository ~/.m2 as it is"
            print(f"{'one-time Maven fetch (' + repo + ')':<34} {timed(probe.provision):5.2f} s")
        if not probe.cds_archive().is_file():
            print(f"{'first start (writes CDS archive)':<34} {timed(probe.start):5.2f} s")
            print(f"{'first stop (CDS archive written)':<34} {timed(probe.stop):5.2f} s")

        cold: list[float] = []
        warm: list[float] = []
        stops: list[float] = []
        for run in range(args.runs):
            kafka = broker(scratch / f"run-{run}", cache)
            try:
                cold.append(timed(kafka.start))
                stops.append(timed(kafka.stop))
                warm.append(timed(kafka.start))
            finally:
                stops.append(timed(kafka.stop))
        summary("cold start (format + start)", cold)
        summary("warm start (existing data dir)", warm)
        summary("stop (SIGTERM, controlled)", stops)


if __name__ == "__main__":
    main()
