"""`sentiric broker start|stop|status`: the local single-node Kafka from the command line.

`start` leaves the broker running in the background (its own session) and returns once it answers;
`stop` shuts it down cleanly; `status` exits 0 when it answers, 3 when it is not running (the LSB
convention for `status`), 1 on an error. With SENTIRIC_KAFKA_BOOTSTRAP set, nothing local is managed
and each command says so.
"""

from __future__ import annotations

import argparse
import sys
import time

from sentiric.broker.local_kafka import BrokerError, LocalKafka
from sentiric.settings import get_settings

EXIT_NOT_RUNNING = 3


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    broker = subparsers.add_parser("broker", help="the local single-node Apache Kafka (KRaft)")
    actions = broker.add_subparsers(dest="broker_command", required=True)
    start = actions.add_parser("start", help="fetch (once), format (once) and start the local Kafka")
    start.add_argument("--timeout", type=float, default=90.0, help="seconds to wait until it answers")
    start.set_defaults(func=_start)
    stop = actions.add_parser("stop", help="stop the local Kafka (controlled shutdown)")
    stop.add_argument("--timeout", type=float, default=30.0, help="seconds before SIGKILL")
    stop.set_defaults(func=_stop)
    status = actions.add_parser("status", help="is the local Kafka running and answering?")
    status.set_defaults(func=_status)


def _start(args: argparse.Namespace) -> int:
    kafka = LocalKafka(get_settings(), start_timeout=args.timeout)
    try:
        if not kafka.settings.embedded_kafka:
            print(kafka.status().describe())
            return 0
        kafka.java()  # no JVM: say so before announcing a download
        if not kafka.is_provisioned():
            version = kafka.settings.kafka_version
            print(f"fetching Kafka {version} from Maven Central into {kafka.install_dir} (once)")
        began = time.monotonic()
        status = kafka.start(detach=True)
    except BrokerError as exc:
        return _fail(exc)
    if status.changed:
        print(f"started in {time.monotonic() - began:.1f} s: {status.describe()}; log {kafka.console_log}")
    else:
        print(f"already running: {status.describe()}")
    return 0


def _stop(args: argparse.Namespace) -> int:
    kafka = LocalKafka(get_settings(), stop_timeout=args.timeout)
    try:
        status = kafka.stop()
    except (BrokerError, OSError) as exc:
        return _fail(exc)
    if status.external:
        print(status.describe())
    elif status.changed:
        print(f"stopped local Kafka (pid {status.pid})")
    else:
        print("local Kafka was not running")
    return 0


def _status(args: argparse.Namespace) -> int:
    try:
        status = LocalKafka(get_settings()).status()
    except (BrokerError, OSError) as exc:
        return _fail(exc)
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
