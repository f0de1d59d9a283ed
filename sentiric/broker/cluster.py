"""A local multi-node KRaft cluster (and the SASL_SSL variant), from the same jars as the single broker.

`sentiric broker start --nodes 3 [--secure]`, `SENTIRIC_KAFKA_NODES=3` for `sentiric up`, and the
cluster tests. Every node is a combined broker+controller (properties.py says why) run by a
`LocalKafka` in its own directory:

    <data_dir>/kafka-cluster-<n>[-sasl]/cluster.id      the cluster id every node is formatted with
    <data_dir>/kafka-cluster-<n>[-sasl]/node-<id>/      one node: logs/, server.properties, kafka.log
    <data_dir>/kafka-cluster-<n>-sasl/tls/              the private CA and node certificates (tls.py)
    <data_dir>/kafka-cluster-<n>-sasl/sasl.password     the SCRAM password, when none is configured
    <data_dir>/kafka-cluster-<n>[-sasl]/client.env      the SENTIRIC_* variables that reach it (0600)

Node n (1-based) listens on `kafka_port + 10*(n-1)` (clients), `kafka_controller_port + 10*(n-1)`
(the quorum) and, in secure mode, `kafka_port + 10*(n-1) + 2` (replication over mutual TLS). A plain
and a secure cluster, or clusters of different sizes, keep separate directories, so switching never
meets storage formatted for the other.

Secure mode is chosen by `SENTIRIC_KAFKA_SECURITY_PROTOCOL=SASL_SSL`: the same settings then tell the
clients how to connect and the cluster how to listen. The SCRAM user is `kafka_sasl_username`
(default `sentiric`) with `kafka_sasl_password` (default: generated once and kept in `sasl.password`);
both SCRAM-SHA-512 and SCRAM-SHA-256 credentials are written when the storage is formatted, as salted
passwords, so the password never appears on a command line. Changing the password later needs a fresh
cluster directory (the credentials live in the metadata log).

Start formats the nodes in parallel, spawns every JVM (from the calling thread: the parent-death
signal of a managed node is tied to the thread that started it), then waits until each node lists
every node as an unfenced broker, which also proves the quorum has a leader.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from sentiric.broker.local_kafka import BrokerError, LocalKafka, NodeRole, random_cluster_id
from sentiric.broker.properties import LOCALHOST, SCRAM_MECHANISMS, NodeSpec, NodeTls
from sentiric.broker.tls import ClusterTls
from sentiric.net import free_port, port_free
from sentiric.settings import KAFKA_NODE_PORT_STRIDE, Settings

DEFAULT_USERNAME = "sentiric"
DEFAULT_MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192  # Kafka accepts 4096-16384
INTERNAL_PORT_OFFSET = 2
SECURE_PROTOCOL = "SASL_SSL"
QUORUMLESS_GRACE_S = 3.0


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """What `start`, `stop` and `status` report for a cluster (the fields of `BrokerStatus`)."""

    bootstrap: str
    running: bool  # at least one node runs
    answering: bool  # every node answers and lists every node
    nodes: tuple[tuple[int, int | None, bool], ...] = ()  # (node id, pid, answering)
    secure: bool = False
    external: bool = False
    changed: bool = False
    pid: int | None = None

    def describe(self) -> str:
        if self.external:
            return f"using the configured Kafka at {self.bootstrap} (SENTIRIC_KAFKA_BOOTSTRAP); nothing local"
        kind = f"local Kafka cluster ({len(self.nodes)} nodes, {'SASL_SSL' if self.secure else 'PLAINTEXT'})"
        if not self.running:
            return f"{kind} is not running (would listen on {self.bootstrap})"
        parts = [
            f"node {n} " + (f"pid {pid}, {'answering' if ok else 'not answering yet'}" if pid else "down")
            for n, pid, ok in self.nodes
        ]
        state = "answering" if self.answering else "not answering yet"
        return f"{kind} is running at {self.bootstrap}, {state}: " + "; ".join(parts)


def cluster_dir(settings: Settings, *, nodes: int | None = None, secure: bool | None = None) -> Path:
    n = settings.kafka_nodes if nodes is None else nodes
    sasl = is_secure(settings) if secure is None else secure
    return settings.data_dir / f"kafka-cluster-{n}{'-sasl' if sasl else ''}"


def is_secure(settings: Settings) -> bool:
    """The local Kafka runs SASL_SSL: chosen by the same setting that tells clients to use it."""
    return settings.kafka_security_protocol == SECURE_PROTOCOL


def salted_password(mechanism: str, password: str, salt: bytes, iterations: int) -> bytes:
    """SCRAM's SaltedPassword, Hi(password, salt, i) of RFC 5802 §2.2: PBKDF2 with the mechanism's HMAC."""
    digest = {"SCRAM-SHA-512": "sha512", "SCRAM-SHA-256": "sha256"}[mechanism]
    return hashlib.pbkdf2_hmac(digest, password.encode("utf-8"), salt, iterations)


def scram_format_args(username: str, password: str, *, iterations: int = SCRAM_ITERATIONS) -> tuple[str, ...]:
    """`kafka-storage format --add-scram` arguments for both SCRAM mechanisms, as salted passwords."""
    args: list[str] = []
    for mechanism in SCRAM_MECHANISMS:
        salt = secrets.token_bytes(16)
        salted = salted_password(mechanism, password, salt, iterations)
        b64 = base64.b64encode
        credential = (
            f"{mechanism}=[name={username},iterations={iterations},"
            f'salt="{b64(salt).decode()}",saltedpassword="{b64(salted).decode()}"]'
        )
        args += ["--add-scram", credential]
    return tuple(args)


def node_ports(kafka_port: int, controller_port: int, nodes: int, *, secure: bool) -> list[int]:
    """Every port a local cluster on these base ports listens on."""
    shifts = [KAFKA_NODE_PORT_STRIDE * i for i in range(nodes)]
    ports = [kafka_port + s for s in shifts] + [controller_port + s for s in shifts]
    return ports + ([kafka_port + s + INTERNAL_PORT_OFFSET for s in shifts] if secure else [])


def free_base_ports(nodes: int, *, secure: bool, attempts: int = 100) -> tuple[int, int]:
    """(kafka_port, kafka_controller_port) whose every derived node port is free now: for tests and
    benchmarks, which never hard-code ports."""
    for _ in range(attempts):
        port, controller = free_port(), free_port()
        ports = node_ports(port, controller, nodes, secure=secure)
        if len(set(ports)) == len(ports) and max(ports) < 65536 and all(port_free(p) for p in ports):
            return port, controller
    raise BrokerError("no free set of ports for a local cluster")


class LocalKafkaCluster:
    """Provision, format, start, stop and inspect the local cluster of `settings.kafka_nodes` nodes."""

    def __init__(
        self, settings: Settings, *, start_timeout: float = 180.0, stop_timeout: float = 30.0
    ) -> None:
        self.settings = settings
        self.size = settings.kafka_nodes
        self.secure = is_secure(settings)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.root = cluster_dir(settings)
        self.tls = ClusterTls(self.root / "tls")
        self.nodes = [
            LocalKafka(settings, start_timeout=start_timeout, stop_timeout=stop_timeout, role=self._role(n))
            for n in range(1, self.size + 1)
        ]

    # -- layout ------------------------------------------------------------------------------------

    def _ports(self, node_id: int) -> tuple[int, int, int | None]:
        shift = KAFKA_NODE_PORT_STRIDE * (node_id - 1)
        port = self.settings.kafka_port + shift
        internal = port + INTERNAL_PORT_OFFSET if self.secure else None
        return port, self.settings.kafka_controller_port + shift, internal

    def _role(self, node_id: int) -> NodeRole:
        port, controller, internal = self._ports(node_id)
        voters = tuple((n, self._ports(n)[1]) for n in range(1, self.size + 1))
        tls = None
        if self.secure:
            tls = NodeTls(self.tls.node_file(node_id).resolve(), self.tls.ca_file.resolve())
        data_dir = self.root / f"node-{node_id}"
        spec = NodeSpec(
            node_id, port, controller, (data_dir / "logs").resolve(), self.settings.topic_partitions,
            voters, internal_port=internal, tls=tls,
        )  # fmt: skip
        return NodeRole(
            spec=spec,
            data_dir=data_dir,
            cluster_id_file=self.root / "cluster.id",
            bootstrap=self.bootstrap,
            probe_port=internal if internal is not None else port,
            probe_tls=self._probe_context(node_id) if self.secure else None,
            expected=frozenset(range(1, self.size + 1)),
        )

    def _probe_context(self, node_id: int) -> ClusterProbe:
        return ClusterProbe(self.tls, node_id)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{LOCALHOST}:{self._ports(n)[0]}" for n in range(1, self.size + 1))

    @property
    def data_dir(self) -> Path:
        return self.root

    @property
    def console_log(self) -> Path:
        return self.nodes[0].console_log

    @property
    def password_file(self) -> Path:
        return self.root / "sasl.password"

    @property
    def client_env_file(self) -> Path:
        return self.root / "client.env"

    def node(self, node_id: int) -> LocalKafka:
        return self.nodes[node_id - 1]

    # -- credentials -------------------------------------------------------------------------------

    @property
    def username(self) -> str:
        return self.settings.kafka_sasl_username or DEFAULT_USERNAME

    @property
    def mechanism(self) -> str:
        mechanism = self.settings.kafka_sasl_mechanism or DEFAULT_MECHANISM
        if mechanism not in SCRAM_MECHANISMS:
            raise BrokerError(f"the local Kafka authenticates with SCRAM, not {mechanism}")
        return mechanism

    def password(self) -> str:
        """The configured SCRAM password, or the one generated for this cluster on its first start."""
        if self.settings.kafka_sasl_password is not None:
            return self.settings.kafka_sasl_password.get_secret_value()
        return self.password_file.read_text().strip()

    def client_env(self) -> dict[str, str]:
        """The `SENTIRIC_*` variables a process needs to use this cluster (`sentiric up` passes them on)."""
        if not self.settings.embedded_kafka:
            return {"SENTIRIC_KAFKA_BOOTSTRAP": self.settings.bootstrap_servers}
        env = {
            "SENTIRIC_KAFKA_BOOTSTRAP": self.bootstrap,
            "SENTIRIC_TOPIC_REPLICATION": str(self.settings.topic_replication),
        }
        if self.secure:
            env |= {
                "SENTIRIC_KAFKA_SECURITY_PROTOCOL": SECURE_PROTOCOL,
                "SENTIRIC_KAFKA_SASL_MECHANISM": self.mechanism,
                "SENTIRIC_KAFKA_SASL_USERNAME": self.username,
                "SENTIRIC_KAFKA_SASL_PASSWORD": self.password(),
                "SENTIRIC_KAFKA_SSL_CA_FILE": str(self.tls.ca_file.resolve()),
            }
        return env

    def client_settings(self, **overrides: Any) -> Settings:
        """Settings of a process that uses this running cluster (as `client_env` would give it)."""
        env = self.client_env()
        values: dict[str, Any] = {k.removeprefix("SENTIRIC_").lower(): v for k, v in env.items()}
        return Settings(**(values | overrides))

    def _ensure_files(self) -> tuple[str, ...]:
        """Cluster id, CA and certificates, SCRAM password (each once); the format arguments."""
        self.root.mkdir(parents=True, exist_ok=True)
        id_file = self.root / "cluster.id"
        if not id_file.is_file():
            id_file.write_text(random_cluster_id() + "\n")
        if not self.secure:
            return ()
        self.tls.ensure(list(range(1, self.size + 1)))
        if self.settings.kafka_sasl_password is None and not self.password_file.is_file():
            _write_private(self.password_file, secrets.token_urlsafe(24) + "\n")
        return scram_format_args(self.username, self.password())

    def _write_client_env(self) -> None:
        lines = "".join(f"{k}={v}\n" for k, v in self.client_env().items())
        _write_private(self.client_env_file, lines)

    # -- process -----------------------------------------------------------------------------------

    def status(self) -> ClusterStatus:
        if not self.settings.embedded_kafka:
            return ClusterStatus(self.settings.bootstrap_servers, False, False, external=True)
        states = [n.status() for n in self.nodes]
        nodes = tuple((n.node_id, s.pid, s.answering) for n, s in zip(self.nodes, states, strict=True))
        return ClusterStatus(
            self.bootstrap,
            running=any(s.running for s in states),
            answering=all(s.answering for s in states),
            nodes=nodes,
            secure=self.secure,
        )

    def start(self, *, detach: bool = True) -> ClusterStatus:
        """Start every node that is not running and wait until the whole cluster answers."""
        if not self.settings.embedded_kafka:
            return self.status()
        protocol = self.settings.kafka_security_protocol
        if protocol not in ("PLAINTEXT", SECURE_PROTOCOL):
            raise BrokerError(
                f"the local Kafka speaks PLAINTEXT or SASL_SSL, not {protocol}: "
                "set SENTIRIC_KAFKA_BOOTSTRAP to use a cluster that speaks it"
            )
        began = time.monotonic()
        down = [n for n in self.nodes if not n.status().running]
        if not down:
            self._wait_all(began)
            self._write_client_env()
            return self.status()
        self.nodes[0].provision()
        format_args = self._ensure_files()
        with ThreadPoolExecutor(max_workers=len(down)) as pool:  # formatting starts a JVM per node
            for future in [pool.submit(n.prepare, format_args) for n in down]:
                future.result()
        try:
            for node in down:  # on this thread: see the module docstring on the parent-death signal
                node.spawn(detach=detach)
            self._wait_all(began)
        except BaseException:
            for node in down:
                node.stop()
            raise
        if not detach:
            import atexit

            atexit.register(self.stop)
        self._write_client_env()
        return _changed(self.status())

    def _wait_all(self, began: float) -> None:
        for node in self.nodes:
            remaining = max(1.0, self.start_timeout - (time.monotonic() - began))
            node.wait_until_answering(timeout=remaining)

    def stop(self) -> ClusterStatus:
        """Stop every node at once: SIGTERM to all (each begins a controlled shutdown), SIGKILL after
        `stop_timeout`. A node left without a quorum (the majority of voters already gone) cannot
        finish its controlled shutdown, which waits for the active controller: it gets
        `QUORUMLESS_GRACE_S` and is then killed (nothing acknowledged is lost: the page cache
        survives a process kill, and the next start recovers its logs)."""
        if not self.settings.embedded_kafka:
            return self.status()
        pids = {node: node.terminate() for node in self.nodes}  # all signalled within milliseconds
        alive = {node: pid for node, pid in pids.items() if pid is not None}
        if not alive:
            for node in self.nodes:
                node.stop()  # clears stale pid files
            return self.status()
        majority = self.size // 2 + 1
        deadline = time.monotonic() + self.stop_timeout
        quorumless_since: float | None = None
        while alive and time.monotonic() < deadline:
            for node, pid in list(alive.items()):
                if node.exited(pid):
                    node.finish_stop(pid, clean=True)
                    del alive[node]
            if alive and len(alive) < majority:
                quorumless_since = quorumless_since or time.monotonic()
                if time.monotonic() - quorumless_since > QUORUMLESS_GRACE_S:
                    break
            time.sleep(0.1)
        for node, pid in alive.items():
            node.finish_stop(pid, clean=False)
        return _changed(self.status())

    def kill(self, node_id: int) -> int | None:
        """SIGKILL one node (a crash: no controlled shutdown); returns its pid."""
        return self.node(node_id).kill()

    def restart(self, node_id: int, *, detach: bool = False) -> None:
        """Start one stopped or killed node again and wait until the cluster lists it."""
        node = self.node(node_id)
        node.prepare()
        node.spawn(detach=detach)
        node.wait_until_answering(timeout=self.start_timeout)

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        """Managed mode: yield the bootstrap of a running cluster; stop it on exit if we started it."""
        status = self.start(detach=False)
        try:
            yield self.bootstrap
        finally:
            if status.changed:
                self.stop()


class ClusterProbe:
    """Builds (once) the TLS context the readiness probe presents on a node's mutual-TLS listener."""

    def __init__(self, tls: ClusterTls, node_id: int) -> None:
        self._tls = tls
        self._node_id = node_id
        self._context: ssl.SSLContext | None = None

    def __call__(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = self._tls.client_context(self._node_id)
        return self._context


def _changed(status: ClusterStatus) -> ClusterStatus:
    return ClusterStatus(
        status.bootstrap, status.running, status.answering, status.nodes, status.secure, changed=True
    )


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.replace(path)


def local_client_settings(settings: Settings) -> Settings:
    """Client settings for the local SASL_SSL Kafka: what is unset comes from the cluster's files (its
    CA, the default user and mechanism, the generated password)."""
    root = cluster_dir(settings)
    update: dict[str, object] = {}
    if settings.kafka_ssl_ca_file is None:
        update["kafka_ssl_ca_file"] = ClusterTls(root / "tls").ca_file
    if settings.kafka_sasl_username is None:
        update["kafka_sasl_username"] = DEFAULT_USERNAME
    if settings.kafka_sasl_mechanism is None:
        update["kafka_sasl_mechanism"] = DEFAULT_MECHANISM
    password_file = root / "sasl.password"
    if settings.kafka_sasl_password is None and password_file.is_file():
        update["kafka_sasl_password"] = SecretStr(password_file.read_text().strip())
    return settings.model_copy(update=update) if update else settings


def local_broker(settings: Settings) -> LocalKafka | LocalKafkaCluster:
    """The local Kafka `settings` describe: the single plain broker, or a cluster (several nodes, or
    SASL_SSL)."""
    if settings.kafka_nodes == 1 and settings.kafka_security_protocol == "PLAINTEXT":
        return LocalKafka(settings)
    return LocalKafkaCluster(settings)
