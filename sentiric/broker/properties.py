"""The configuration files of the local KRaft broker or cluster: `server.properties` and log4j.

Pure functions from a node's description to text, so the choices below are unit-tested and reviewed in
one place.

Choices, for one developer machine (a 2-core laptop or a CI runner), not a production cluster:

- Combined mode (`process.roles=broker,controller`) with a static quorum (`controller.quorum.voters`):
  one node (node 1, a one-voter quorum), or a cluster of three combined nodes (nodes 1-3, a
  three-voter quorum that survives the loss of any one node). Three combined nodes rather than three
  controllers plus three brokers: half the JVMs on a 2-core machine, and the same failure model for
  the tests that kill a node (a kill takes a broker and a voter, the harder case). Listeners are bound
  to 127.0.0.1 only: the embedded broker is never reachable from the network.
- Replication fits the node count. One node: replication factor 1 and min ISR 1 for everything, or
  the first consumer group and the first transactional producer would wait forever for replicas that
  do not exist. Three nodes: `default.replication.factor=3`, `min.insync.replicas=2` (acks=all
  survives one lost node), the same for `__consumer_offsets` and `__transaction_state`.
- Failure detection is quicker than Kafka's defaults (broker session 9 s, heartbeat 2 s) on a
  cluster: a broker that stops heart-beating is fenced after `broker.session.timeout.ms` and only
  then do its partitions get new leaders and leave the ISRs, so this is the pause an acks=all
  producer sees when a node dies. 6 s with a 1.5 s heartbeat still tolerates a loaded 2-core machine.
- Secure mode (SASL_SSL), for the tests and for trying a secured cluster locally: clients connect to
  the `CLIENT` listener with SASL/SCRAM (SHA-512 or SHA-256) over TLS; the nodes replicate and vote
  over mutual TLS (`INTERNAL` and `CONTROLLER`, `ssl.client.auth=required`) with certificates from
  the cluster's private CA (tls.py) in PEM keystores (KIP-651). SCRAM credentials live in the KRaft
  metadata log and are created when the storage is formatted (KIP-900). No authorizer: any
  authenticated user may do anything, as on a single-tenant development cluster.
- `auto.create.topics.enable=true`, as in Redpanda's dev-container mode that `redpanda-compose.yml`
  runs, so the two local back ends behave alike. Sentiric and Faust still declare their topics through
  the admin API (with explicit partition counts and configs); `num.partitions` equals the
  `topic_partitions` setting so that a topic created by accident has the same partition count as the
  declared ones and stays co-partitioned on call_id.
- One partition each for `__consumer_offsets` and `__transaction_state` (default 50): on a developer
  machine more partitions buy nothing and cost a second or two the first time a group or producer
  uses them.
- Flushing is left to the OS page cache (Kafka's default: `log.flush.interval.*` unset). A broker crash
  loses nothing; only an OS crash can lose the last unflushed writes, the same trade Kafka makes in
  production, where replication covers it.
- `log.cleaner.dedupe.buffer.size` 32 MiB (default 128 MiB): the compacted config topic is small, and
  the default would take a quarter of a 512 MiB heap.
- `group.initial.rebalance.delay.ms=0`: tests and `sentiric up` join groups at once instead of 3 s later.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NODE_ID = 1
LOCALHOST = "127.0.0.1"
SCRAM_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


@dataclass(frozen=True, slots=True)
class NodeTls:
    """A node's PEM keystore (key + certificate chain) and the CA it trusts (tls.py)."""

    keystore: Path
    truststore: Path


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One combined broker+controller node of the local cluster."""

    node_id: int
    port: int  # clients: PLAINTEXT, or SASL_SSL in secure mode
    controller_port: int
    log_dir: Path
    partitions: int
    voters: tuple[tuple[int, int], ...]  # (node id, controller port) of every voter, this node included
    internal_port: int | None = None  # secure mode: replication over mutual TLS
    tls: NodeTls | None = None

    @property
    def secure(self) -> bool:
        return self.tls is not None


def replication_for(nodes: int) -> tuple[int, int]:
    """(replication factor, min ISR) a cluster of `nodes` holds: 3 and 2 from three nodes up."""
    replication = min(3, nodes)
    return replication, (2 if replication >= 3 else 1)


def render_server_properties(*, port: int, controller_port: int, log_dir: Path, partitions: int) -> str:
    """`server.properties` for the single combined broker+controller on 127.0.0.1."""
    return render_node_properties(
        NodeSpec(NODE_ID, port, controller_port, log_dir, partitions, voters=((NODE_ID, controller_port),))
    )


def render_node_properties(node: NodeSpec) -> str:
    """`server.properties` for one combined node of a local cluster (one node or several)."""
    replication, min_isr = replication_for(len(node.voters))
    voters = ",".join(f"{n}@{LOCALHOST}:{p}" for n, p in node.voters)
    lines: dict[str, str] = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "controller.listener.names": "CONTROLLER",
    }
    if node.tls is None:
        lines |= {
            "listeners": f"PLAINTEXT://{LOCALHOST}:{node.port},CONTROLLER://{LOCALHOST}:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{LOCALHOST}:{node.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
        }
    else:
        if node.internal_port is None:
            raise ValueError("a secure node needs an internal (replication) port")
        lines |= _secure_listeners(node, node.tls, node.internal_port)
    lines |= {
        "log.dirs": str(node.log_dir),
        "num.partitions": str(node.partitions),
        "default.replication.factor": str(replication),
        "min.insync.replicas": str(min_isr),
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": str(replication),
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": str(replication),
        "transaction.state.log.min.isr": str(min_isr),
        "transaction.state.log.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
    }
    if len(node.voters) > 1:
        lines |= {"broker.session.timeout.ms": "6000", "broker.heartbeat.interval.ms": "1500"}
    body = "".join(f"{key}={value}\n" for key, value in lines.items())
    return "# Written by sentiric on every start; edits are overwritten.\n" + body


def _secure_listeners(node: NodeSpec, tls: NodeTls, internal_port: int) -> dict[str, str]:
    client = f"CLIENT://{LOCALHOST}:{node.port}"
    internal = f"INTERNAL://{LOCALHOST}:{internal_port}"
    lines = {
        "listeners": f"{client},{internal},CONTROLLER://{LOCALHOST}:{node.controller_port}",
        "advertised.listeners": f"{client},{internal}",
        "listener.security.protocol.map": "CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL",
        "inter.broker.listener.name": "INTERNAL",
        "sasl.enabled.mechanisms": ",".join(SCRAM_MECHANISMS),
        "listener.name.client.sasl.enabled.mechanisms": ",".join(SCRAM_MECHANISMS),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.truststore),
        "ssl.endpoint.identification.algorithm": "https",
        "listener.name.internal.ssl.client.auth": "required",
        "listener.name.controller.ssl.client.auth": "required",
    }
    for mechanism in SCRAM_MECHANISMS:
        lines[f"listener.name.client.{mechanism.lower()}.sasl.jaas.config"] = SCRAM_LOGIN
    return lines


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
