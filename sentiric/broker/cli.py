"""`sentiric broker start|stop|status`: the local Kafka (one node or a cluster) from the command line.

`start` leaves the broker running in the background (its own session) and returns once it answers;
`--nodes 3` starts a three-node KRaft cluster instead, `--secure` makes it SASL_SSL with a private CA
(the same as `SENTIRIC_KAFKA_NODES=3` and `SENTIRIC_KAFKA_SECURITY_PROTOCOL=SASL_SSL`). `stop` shuts
down whatever local broker or cluster runs under the home directory; `status` exits 0 when it answers,
3 when nothing is running (the LSB convention for `status`), 1 on an error. With
SENTIRIC_KAFKA_BOOTSTRAP set, nothing local is managed and each command says so.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from sentiric.broker.cluster import LocalKafkaCluster, is_secure, local_broker
from sentiric.broker.local_kafka import BrokerError, LocalKafka
from sentiric.settings import Settings, get_settings

EXIT_NOT_RUNNING = 3
KNOWN_SIZES = (1, 3, 5)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    broker = subparsers.add_parser("broker", help="the local Apache Kafka (KRaft): one node or a cluster")
    actions = broker.add_subparsers(dest="broker_command", required=True)
    start = actions.add_parser("start", help="fetch (once), format (once) and start the local Kafka")
    start.add_argument("--timeout", type=float, default=None, help="seconds to wait until it answers")
    start.add_argument("--nodes", type=int, choices=KNOWN_SIZES, default=None,
                       help="nodes of the local cluster (default SENTIRIC_KAFKA_NODES, 1)")  # fmt: skip
    start.add_argument("--secure", action="store_true",
                       help="SASL_SSL (SCRAM) with a private CA")  # fmt: skip
    start.set_defaults(func=_start)
    stop = actions.add_parser("stop", help="stop the local Kafka (controlled shutdown)")
    stop.add_argument("--timeout", type=float, default=30.0, help="seconds before SIGKILL")
    stop.set_defaults(func=_stop)
    status = actions.add_parser("status", help="is the local Kafka running and answering?")
    status.set_defaults(func=_status)


def _settings(args: argparse.Namespace) -> Settings:
    """The settings, with `--nodes`/`--secure` applied (a fresh Settings: replication follows nodes)."""
    settings = get_settings()
    overrides: dict[str, Any] = {}
    if getattr(args, "nodes", None):
        overrides["kafka_nodes"] = args.nodes
    if getattr(args, "secure", False):
        overrides["kafka_security_protocol"] = "SASL_SSL"
    return Settings(**overrides) if overrides else settings


def _candidates(settings: Settings) -> list[LocalKafka | LocalKafkaCluster]:
    """Every local broker or cluster that may run under this home: the configured one first."""
    found: list[LocalKafka | LocalKafkaCluster] = [local_broker(settings)]
    for nodes in KNOWN_SIZES:
        for secure in (False, True):
            if (nodes, secure) == (settings.kafka_nodes, is_secure(settings)):
                continue
            protocol = "SASL_SSL" if secure else "PLAINTEXT"
            other = settings.model_copy(update={"kafka_nodes": nodes, "kafka_security_protocol": protocol})
            found.append(local_broker(other))
    return found


def _start(args: argparse.Namespace) -> int:
    settings = _settings(args)
    kafka = local_broker(settings)
    if args.timeout is not None:
        kafka.start_timeout = args.timeout
        for node in getattr(kafka, "nodes", ()):
            node.start_timeout = args.timeout
    try:
        if not settings.embedded_kafka:
            print(kafka.status().describe())
            return 0
        first = kafka if isinstance(kafka, LocalKafka) else kafka.nodes[0]
        first.java()  # no JVM: say so before announcing a download
        if not first.is_provisioned():
            version = settings.kafka_version
            print(f"fetching Kafka {version} from Maven Central into {first.install_dir} (once)")
        began = time.monotonic()
        status = kafka.start(detach=True)
    except BrokerError as exc:
        return _fail(exc)
    if status.changed:
        print(f"started in {time.monotonic() - began:.1f} s: {status.describe()}; log {kafka.console_log}")
    else:
        print(f"already running: {status.describe()}")
    if isinstance(kafka, LocalKafkaCluster):
        print(f"clients: the SENTIRIC_* variables in {kafka.client_env_file}")
    return 0


def _stop(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not settings.embedded_kafka:
        print(local_broker(settings).status().describe())
        return 0
    stopped = []
    try:
        for kafka in _candidates(settings):
            kafka.stop_timeout = args.timeout
            for node in getattr(kafka, "nodes", ()):
                node.stop_timeout = args.timeout
            status = kafka.stop()
            if status.changed:
                stopped.append(status)
    except (BrokerError, OSError) as exc:
        return _fail(exc)
    for status in stopped:
        if status.pid is not None:
            print(f"stopped local Kafka (pid {status.pid})")
        else:
            print(f"stopped the local Kafka cluster at {status.bootstrap}")
    if not stopped:
        print("local Kafka was not running")
    return 0


def _status(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        candidates = _candidates(settings) if settings.embedded_kafka else [local_broker(settings)]
        statuses = [k.status() for k in candidates]
    except (BrokerError, OSError) as exc:
        return _fail(exc)
    status = next((s for s in statuses if s.running), statuses[0])
    print(status.describe())
    if status.external or status.answering:
        return 0
    return EXIT_NOT_RUNNING if not status.running else 1


def _fail(exc: BaseException) -> int:
    # One line: a start failure's message ends with "last lines of <kafka.log>:" and the tail after it;
    # the path is enough on a terminal.
    lines = str(exc).splitlines() or [type(exc).__name__]
    print(f"sentiric broker: {lines[0].rstrip(':')}", file=sys.stderr)
    return 1
