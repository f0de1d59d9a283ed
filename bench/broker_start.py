"""How long the local Kafka takes to become usable: one-time fetch, cold start, warm start, stop.

    .venv/bin/python bench/broker_start.py [--runs 5] [--fresh-cache] [--empty-maven-repo]
    .venv/bin/python bench/broker_start.py --nodes 3 [--secure]     # the local three-node cluster

- fetch: `mvn dependency:copy-dependencies` into an empty jar cache (printed when the machine cache is
  empty, or always with --fresh-cache; --empty-maven-repo also hides ~/.m2, so every jar and Maven
  plugin comes from Maven Central), then the first start, which writes the class-data-sharing archive.
- cold: a fresh data directory, jars cached: format the storage, start, wait until Metadata answers.
- warm: the same data directory again (already formatted, topics kept).
- `--nodes 3`: the same for a three-node KRaft cluster (all nodes formatted in parallel, started, and
  waited for until each lists all three); `--secure` adds the private CA, the node certificates and
  the SCRAM credentials to the cold start.
Ports are free ones on 127.0.0.1; every broker started here is stopped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from sentiric.broker.cluster import LocalKafkaCluster, free_base_ports, local_broker
from sentiric.broker.local_kafka import LocalKafka
from sentiric.settings import Settings


def broker(home: Path, cache: Path, nodes: int = 1, secure: bool = False) -> LocalKafka | LocalKafkaCluster:
    """The local Kafka of `nodes` nodes (`secure`: SASL_SSL), on free ports under `home`."""
    port, controller = free_base_ports(nodes, secure=secure)
    settings = Settings(
        home=home,
        cache_home=cache,
        kafka_port=port,
        kafka_controller_port=controller,
        kafka_nodes=nodes,
        kafka_heap="384m" if nodes > 1 else "512m",
        kafka_security_protocol="SASL_SSL" if secure else "PLAINTEXT",
    )
    return local_broker(settings)


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
    parser.add_argument("--nodes", type=int, default=1, choices=(1, 3, 5), help="a local cluster of N nodes")
    parser.add_argument("--secure", action="store_true", help="SASL_SSL with a private CA (made at start)")
    args = parser.parse_args()
    shape = (args.nodes, args.secure)

    machine_cache = Path(os.environ.get("SENTIRIC_CACHE_HOME") or Path.home() / ".cache" / "sentiric")
    with tempfile.TemporaryDirectory(prefix="sentiric-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        cache = scratch / "cache" if args.fresh_cache or args.empty_maven_repo else machine_cache
        if args.empty_maven_repo:
            os.environ["MAVEN_OPTS"] = (
                f"{os.environ.get('MAVEN_OPTS', '')} -Dmaven.repo.local={scratch / 'm2'}"
            )
        probe = broker(scratch / "first", cache, *shape)
        kind = f"{args.nodes} node(s), {'SASL_SSL' if args.secure else 'PLAINTEXT'}"
        print(f"Kafka {probe.settings.kafka_version}, {kind}, jar cache {cache}, {os.cpu_count()} CPUs")
        first = probe if isinstance(probe, LocalKafka) else probe.nodes[0]
        if not first.is_provisioned():
            repo = "empty Maven repository" if args.empty_maven_repo else "Maven repository ~/.m2 as it is"
            print(f"{'one-time Maven fetch (' + repo + ')':<34} {timed(first.provision):5.2f} s")
        if not first.cds_archive().is_file():
            print(f"{'first start (writes CDS archive)':<34} {timed(probe.start):5.2f} s")
            print(f"{'first stop (CDS archive written)':<34} {timed(probe.stop):5.2f} s")

        cold: list[float] = []
        warm: list[float] = []
        stops: list[float] = []
        for run in range(args.runs):
            kafka = broker(scratch / f"run-{run}", cache, *shape)
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
