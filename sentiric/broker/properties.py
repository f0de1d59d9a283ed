"""The configuration files of the local single-node KRaft broker: `server.properties` and log4j.

Pure functions from settings to text, so the choices below are unit-tested and reviewed in one place.

Choices, for one developer machine (a 2-core laptop or a CI runner), not a production cluster:

- Combined mode (`process.roles=broker,controller`), node 1, a static one-voter quorum. Listeners are
  bound to 127.0.0.1 only: the embedded broker is never reachable from the network.
- Replication factor 1 and min ISR 1 for the internal topics, or the first consumer group and the first
  transactional producer would wait forever for replicas that do not exist.
- `auto.create.topics.enable=true`, as in Redpanda's dev-container mode that `redpanda-compose.yml`
  runs, so the two local back ends behave alike. Sentiric and Faust still declare their topics through
  the admin API (with explicit partition counts and configs); `num.partitions` equals the
  `topic_partitions` setting so that a topic created by accident has the same partition count as the
  declared ones and stays co-partitioned on call_id.
- One partition each for `__consumer_offsets` and `__transaction_state` (default 50): with one broker,
  more partitions buy nothing and cost a second or two the first time a group or producer uses them.
- Flushing is left to the OS page cache (Kafka's default: `log.flush.interval.*` unset). A broker crash
  loses nothing; only an OS crash can lose the last unflushed writes, the same trade Kafka makes in
  production, where replication covers it.
- `log.cleaner.dedupe.buffer.size` 32 MiB (default 128 MiB): the compacted config topic is small, and
  the default would take a quarter of a 512 MiB heap.
- `group.initial.rebalance.delay.ms=0`: tests and `sentiric up` join groups at once instead of 3 s later.
"""

from __future__ import annotations

from pathlib import Path

NODE_ID = 1
LOCALHOST = "127.0.0.1"


def render_server_properties(*, port: int, controller_port: int, log_dir: Path, partitions: int) -> str:
    """`server.properties` for a combined broker+controller on 127.0.0.1."""
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@{LOCALHOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{LOCALHOST}:{port},CONTROLLER://{LOCALHOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{LOCALHOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": str(partitions),
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
    }
    body = "".join(f"{key}={value}\n" for key, value in lines.items())
    return "# Written by sentiric on every start; edits are overwritten.\n" + body


def render_log4j_properties() -> str:
    """reload4j configuration: INFO to stdout (redirected to kafka.log), the chatty loggers at WARN."""
    return (
        "# Written by sentiric on every start; edits are overwritten.\n"
        "log4j.rootLogger=INFO, stdout\n"
        "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka=INFO\n"
        "log4j.logger.org.apache.kafka=INFO\n"
        "log4j.logger.kafka.request.logger=WARN\n"
        "log4j.logger.state.change.logger=WARN\n"
        "log4j.logger.kafka.log.LogCleaner=WARN\n"
        "log4j.logger.org.apache.kafka.storage.internals.log.LogCleaner=WARN\n"
        "log4j.logger.kafka.authorizer.logger=WARN\n"
        "log4j.logger.org.apache.kafka.clients.NetworkClient=WARN\n"
    )


def parse_properties(text: str) -> dict[str, str]:
    """The key=value pairs of a Java properties file (comments and blank lines skipped)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out
