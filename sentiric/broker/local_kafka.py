"""A real single-node Apache Kafka (KRaft) on 127.0.0.1, fetched once from Maven Central.

The embedded default of the log, for `sentiric up`, `sentiric broker start` and the integration tests:

    <cache_dir>/kafka-<version>/lib/*.jar      kafka_2.13 and its runtime dependencies (one-time mvn fetch)
    <cache_dir>/kafka-<version>/.complete      written only after the fetch succeeded
    <data_dir>/kafka/logs/                     log.dirs: topics, the KRaft metadata log, meta.properties
    <data_dir>/kafka/server.properties         rendered on every start (see properties.py)
    <data_dir>/kafka/kafka.log                 the JVM's stdout and stderr (the previous run: kafka.log.1)
    <data_dir>/kafka/kafka.pid                 the broker's pid while it runs

The storage is formatted once (`meta.properties` present means formatted), so a restart keeps every
topic and offset. Readiness is a Kafka Metadata request on the PLAINTEXT port that lists this broker
(see metadata.py): a KRaft broker leaves itself out of Metadata until the controller has unfenced it.

`LocalKafka` is also one node of the local cluster (cluster.py): given a `NodeRole` it runs under the
cluster's directory with the cluster's id, voters and TLS files, and is ready when the Metadata answer
(over mutual TLS on its replication listener, in secure mode) lists every node of the cluster.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sentiric.broker.metadata import SIZE_PREFIX_LENGTH, MetadataRequest, MetadataResponse, frame_length
from sentiric.broker.properties import (
    LOCALHOST,
    NODE_ID,
    NodeSpec,
    render_log4j_properties,
    render_node_properties,
    render_server_properties,
)
from sentiric.net import port_free
from sentiric.settings import Settings

JAVA_MISSING = (
    "Java 17+ is required to run the local Kafka: install openjdk-17-jre-headless, "
    "or set SENTIRIC_KAFKA_BOOTSTRAP to use an existing cluster"
)
MAVEN_MISSING = (
    "Maven is required once to fetch the local Kafka from Maven Central: install maven, "
    "or set SENTIRIC_KAFKA_BOOTSTRAP to use an existing cluster"
)
KAFKA_MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
MAVEN_FETCH_TIMEOUT = 900.0
PROBE_INTERVAL = 0.2
LOG_TAIL_LINES = 30


class BrokerError(RuntimeError):
    """The local broker cannot be provisioned, started or stopped; the message is one line for users."""


def jvm_options(heap: str, *, cds_archive: Path | None = None, cds_dump: Path | None = None) -> list[str]:
    """JVM flags for a quick start on a small machine (measured on 2 cores, medians of 3-4 runs).

    - Serial GC: one developer's traffic fits in a small young generation, and G1's concurrent threads
      compete with the JIT on 2 cores while the broker starts (cold start 2.7 s against 3.0 s with G1).
    - AppCDS (a dynamic class-data-sharing archive of the ~6,000 classes the broker loads): the first
      run writes it at exit (`-XX:ArchiveClassesAtExit`), later runs map it (`-XX:SharedArchiveFile`).
      Medians of 4 runs: cold start 2.75 s -> 1.55 s and warm 2.5 s -> 1.3 s on an idle machine;
      5.5 s -> 2.7 s and 3.6 s -> 2.5 s with the 2 cores busy (A/B interleaved). A JVM that cannot
      use the archive (another build) warns in kafka.log and starts without it.
    - Tiered compilation stays in full (C1+C2): C1 alone (`TieredStopAtLevel=1`) gave mixed results
      within the noise and makes a long-running broker slower.
    """
    options = [
        f"-Xmx{heap}",
        "-XX:+UseSerialGC",
        "-XX:+ExitOnOutOfMemoryError",
        "-XX:+IgnoreUnrecognizedVMOptions",  # the CDS flags need JDK 13+; an older JVM runs without
        "-Djava.awt.headless=true",
    ]
    if cds_archive is not None:
        options.append(f"-XX:SharedArchiveFile={cds_archive}")
    elif cds_dump is not None:
        options.append(f"-XX:ArchiveClassesAtExit={cds_dump}")
    return options


def random_cluster_id() -> str:
    """A Kafka `Uuid` as StorageTool's `random-uuid` prints it: 16 random bytes, base64url, no padding.

    Like Kafka's `Uuid.randomUuid()` it never starts with '-' (which a command line would take for an
    option); generating it here saves starting a JVM.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """What `start`, `stop` and `status` report."""

    bootstrap: str
    running: bool
    answering: bool
    pid: int | None = None
    external: bool = False  # SENTIRIC_KAFKA_BOOTSTRAP is set: nothing local is managed
    changed: bool = False  # this call started or stopped the broker (False for a no-op)

    def describe(self) -> str:
        if self.external:
            return f"using the configured Kafka at {self.bootstrap} (SENTIRIC_KAFKA_BOOTSTRAP); nothing local"
        if not self.running:
            return f"local Kafka is not running (would listen on {self.bootstrap})"
        state = "answering" if self.answering else "not answering yet"
        return f"local Kafka is running, pid {self.pid}, at {self.bootstrap}, {state}"


def probe(
    host: str, port: int, *, timeout: float = 1.0, tls: ssl.SSLContext | None = None
) -> MetadataResponse | None:
    """One Metadata round trip (over TLS with `tls`); None when nothing answers (refused, reset, timed
    out, a failed handshake, garbage)."""
    request = MetadataRequest(correlation_id=1)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            wrapped = tls.wrap_socket(raw, server_hostname=host) if tls is not None else None
            with wrapped or contextlib.nullcontext():  # the TLS socket owns the connection once made
                sock = wrapped or raw
                sock.sendall(bytes(request))
                size = frame_length(_recv_exactly(sock, SIZE_PREFIX_LENGTH))
                response = MetadataResponse.parse(_recv_exactly(sock, size))
    except (OSError, ValueError):  # ssl.SSLError is an OSError
        return None
    return response if response.correlation_id == request.correlation_id else None


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    chunks: list[bytes] = []
    while n:
        chunk = sock.recv(min(n, 1 << 16))
        if not chunk:
            raise ConnectionResetError("connection closed mid-frame")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True, slots=True)
class NodeRole:
    """What makes a `LocalKafka` one node of a local cluster (cluster.py builds these)."""

    spec: NodeSpec
    data_dir: Path
    cluster_id_file: Path  # every node of a cluster is formatted with the same id
    bootstrap: str  # the cluster's, for messages
    probe_port: int = 0  # where readiness is asked: the client port, or the mutual-TLS one
    probe_tls: Callable[[], ssl.SSLContext] | None = None
    expected: frozenset[int] = field(default_factory=frozenset)  # node ids a ready node lists


class LocalKafka:
    """Provision, format, start, stop and inspect the local broker described by `settings` (or, given
    a `role`, one node of the local cluster)."""

    def __init__(
        self,
        settings: Settings,
        *,
        start_timeout: float = 90.0,
        stop_timeout: float = 30.0,
        role: NodeRole | None = None,
    ) -> None:
        self.settings = settings
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.role = role
        self._process: subprocess.Popen[bytes] | None = None

    # -- layout ------------------------------------------------------------------------------------

    @property
    def install_dir(self) -> Path:
        return self.settings.cache_dir / f"kafka-{self.settings.kafka_version}"

    @property
    def lib_dir(self) -> Path:
        return self.install_dir / "lib"

    @property
    def node_id(self) -> int:
        return self.role.spec.node_id if self.role else NODE_ID

    @property
    def data_dir(self) -> Path:
        return self.role.data_dir if self.role else self.settings.data_dir / "kafka"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    @property
    def console_log(self) -> Path:
        return self.data_dir / "kafka.log"

    @property
    def server_properties(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log4j_properties(self) -> Path:
        return self.data_dir / "log4j.properties"

    @property
    def cds_pending(self) -> Path:
        """Names the CDS archive the running broker writes at exit, to be published by `stop`."""
        return self.data_dir / "cds.pending"

    @property
    def bootstrap(self) -> str:
        return self.role.bootstrap if self.role else self.settings.bootstrap_servers

    @property
    def ports(self) -> tuple[int, ...]:
        """Every port this node listens on."""
        if self.role is None:
            return (self.settings.kafka_port, self.settings.kafka_controller_port)
        spec = self.role.spec
        return tuple(p for p in (spec.port, spec.controller_port, spec.internal_port) if p is not None)

    # -- provisioning ------------------------------------------------------------------------------

    def java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").is_file():
            return str(Path(java_home) / "bin" / "java")
        found = shutil.which("java")
        if found is None:
            raise BrokerError(JAVA_MISSING)
        return found

    def is_provisioned(self) -> bool:
        return (self.install_dir / ".complete").is_file()

    def provision(self) -> bool:
        """Fetch the jars once; True if this call fetched them. Safe against concurrent callers."""
        if self.is_provisioned():
            return False
        self.java()  # fail on the missing JVM before a long download
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError(MAVEN_MISSING)
        self.settings.cache_dir.mkdir(parents=True, exist_ok=True)
        lock_path = self.settings.cache_dir / f"kafka-{self.settings.kafka_version}.lock"
        with lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.is_provisioned():  # another process fetched while we waited
                return False
            shutil.rmtree(self.install_dir, ignore_errors=True)  # a half download from an earlier try
            self.lib_dir.mkdir(parents=True)
            with resources.as_file(resources.files("sentiric.broker") / "pom.xml") as pom:
                command = [
                    mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(pom),
                    f"-Dkafka.version={self.settings.kafka_version}",
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={self.lib_dir}",
                    "-DincludeScope=runtime",
                ]  # fmt: skip
                try:
                    done = subprocess.run(
                        command, capture_output=True, text=True, timeout=MAVEN_FETCH_TIMEOUT, check=False
                    )
                except subprocess.TimeoutExpired as exc:
                    raise BrokerError(
                        f"fetching Kafka {self.settings.kafka_version} from Maven Central timed out "
                        f"after {MAVEN_FETCH_TIMEOUT:.0f} s"
                    ) from exc
            if done.returncode != 0:
                errors = [ln for ln in (done.stdout + done.stderr).splitlines() if "ERROR" in ln]
                reason = errors[0].strip() if errors else f"mvn exited with {done.returncode}"
                raise BrokerError(
                    f"fetching Kafka {self.settings.kafka_version} from Maven Central failed: {reason}"
                )
            if not any(self.lib_dir.glob("kafka_2.13-*.jar")):
                raise BrokerError(f"Maven finished but no kafka_2.13 jar is in {self.lib_dir}")
            (self.install_dir / ".complete").write_text(self.settings.kafka_version + "\n")
        return True

    def _classpath(self) -> str:
        return str(self.lib_dir / "*")

    def cds_archive(self) -> Path:
        """The class-data-sharing archive for this JVM build (an archive only fits the JVM that wrote it)."""
        java = Path(self.java()).resolve()
        libjvm = java.parent.parent / "lib" / "server" / "libjvm.so"
        stat = (libjvm if libjvm.is_file() else java).stat()
        key = hashlib.sha256(f"{java}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
        return self.install_dir / f"cds-{key}.jsa"

    def _cds_options(self) -> list[str]:
        """Use the archive when there is one; otherwise have this run write it (published by `stop`)."""
        self._discard_pending_cds()
        archive = self.cds_archive()
        if archive.is_file():
            return jvm_options(self.settings.kafka_heap, cds_archive=archive)
        dump = archive.with_name(f"{archive.name}.{uuid.uuid4().hex[:8]}.tmp")
        self.cds_pending.write_text(f"{dump}\n")
        return jvm_options(self.settings.kafka_heap, cds_dump=dump)

    def _discard_pending_cds(self) -> None:
        with contextlib.suppress(OSError):
            Path(self.cds_pending.read_text().strip()).unlink(missing_ok=True)
        self.cds_pending.unlink(missing_ok=True)

    def _publish_pending_cds(self) -> None:
        """After a clean exit the JVM has written the archive: move it into place atomically."""
        try:
            dump = Path(self.cds_pending.read_text().strip())
        except OSError:
            return
        if dump.is_file() and dump.stat().st_size > 0:
            dump.replace(self.cds_archive())
        self.cds_pending.unlink(missing_ok=True)

    def _write_config(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.role is not None:
            text = render_node_properties(self.role.spec)
        else:
            text = render_server_properties(
                port=self.settings.kafka_port,
                controller_port=self.settings.kafka_controller_port,
                log_dir=self.log_dir.resolve(),
                partitions=self.settings.topic_partitions,
            )
        # 0600: in secure mode it holds the key password
        fd = os.open(self.server_properties, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        self.log4j_properties.write_text(render_log4j_properties())

    def is_formatted(self) -> bool:
        return (self.log_dir / "meta.properties").is_file()

    def format_storage(self, extra_args: tuple[str, ...] = ()) -> bool:
        """Format the log directory once (`extra_args`: e.g. `--add-scram`); True if it formatted now."""
        if self.is_formatted():
            return False
        self._write_config()
        archive = self.cds_archive()
        options = jvm_options(self.settings.kafka_heap, cds_archive=archive if archive.is_file() else None)
        cluster_id = self.role.cluster_id_file.read_text().strip() if self.role else random_cluster_id()
        command = [
            self.java(), *options, "-cp", self._classpath(),
            f"-Dlog4j.configuration={self.log4j_properties.resolve().as_uri()}",
            STORAGE_TOOL_CLASS, "format", "-t", cluster_id, "-c", str(self.server_properties), *extra_args,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0 or not self.is_formatted():
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise BrokerError(
                f"formatting {self.log_dir} failed: {detail[-1] if detail else done.returncode}"
            )
        return True

    # -- process -----------------------------------------------------------------------------------

    def _read_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _pid_alive(pid):
            return None
        try:  # the pid may have been reused since: make sure it is our broker
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return pid
        if KAFKA_MAIN_CLASS.encode() in cmdline and str(self.server_properties).encode() in cmdline:
            return pid
        return None

    def status(self) -> BrokerStatus:
        if not self.settings.embedded_kafka:
            return BrokerStatus(self.bootstrap, running=False, answering=False, external=True)
        pid = self._read_pid()
        answering = pid is not None and self._answers()
        return BrokerStatus(self.bootstrap, running=pid is not None, answering=answering, pid=pid)

    def _answers(self) -> bool:
        """This node answers Metadata and lists itself (unfenced), and, in a cluster, every node: a
        broker is unfenced only by an active controller, so a full list also means the quorum has a
        leader and every node has caught up with the metadata log."""
        if self.role is None:
            response = probe(LOCALHOST, self.settings.kafka_port)
            return response is not None and any(b.node_id == NODE_ID for b in response.brokers)
        tls = self.role.probe_tls() if self.role.probe_tls is not None else None
        response = probe(LOCALHOST, self.role.probe_port, tls=tls)
        if response is None:
            return False
        listed = {b.node_id for b in response.brokers}
        return self.node_id in listed and self.role.expected <= listed

    def start(self, *, detach: bool = True) -> BrokerStatus:
        """Start the broker and wait until it answers; a no-op when it already runs.

        `detach=True` leaves it running after this process exits (`sentiric broker start`); with
        `detach=False` (managed mode, `sentiric up`) it is stopped when this interpreter exits. Either
        way it gets its own session, so a Ctrl-C in the terminal reaches only the supervisor, which
        then stops the broker cleanly.
        """
        if not self.settings.embedded_kafka:
            return self.status()
        current = self.status()
        if current.running:
            if not current.answering:
                self._wait_until_answering(current.pid)
            return BrokerStatus(self.bootstrap, running=True, answering=True, pid=current.pid)
        self.provision()
        self.prepare()
        pid = self.spawn(detach=detach)
        try:
            self._wait_until_answering(pid)
        except BaseException:
            self.stop()
            raise
        return BrokerStatus(self.bootstrap, running=True, answering=True, pid=pid, changed=True)

    def prepare(self, format_args: tuple[str, ...] = ()) -> None:
        """Check the ports, format the storage once, write the configuration (jars provisioned)."""
        self.java()
        for port in self.ports:
            if not port_free(port):
                raise BrokerError(
                    f"port {LOCALHOST}:{port} is in use by another process: set SENTIRIC_KAFKA_PORT and "
                    "SENTIRIC_KAFKA_CONTROLLER_PORT, or SENTIRIC_KAFKA_BOOTSTRAP to use that broker"
                )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.format_storage(format_args)
        self._write_config()

    def spawn(self, *, detach: bool) -> int:
        """Start the JVM (prepared) without waiting for it; returns its pid. See `start` on `detach`."""
        if self.console_log.exists():
            self.console_log.replace(self.console_log.with_name("kafka.log.1"))
        command = [
            self.java(), *self._cds_options(), "-cp", self._classpath(),
            f"-Dlog4j.configuration={self.log4j_properties.resolve().as_uri()}",
            f"-Dkafka.logs.dir={self.data_dir.resolve()}",
            KAFKA_MAIN_CLASS, str(self.server_properties),
        ]  # fmt: skip
        if not detach:
            command = self._with_parent_death_signal(command)
        with self.console_log.open("ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        self._process = process
        self.pid_file.write_text(f"{process.pid}\n")
        if not detach:
            atexit.register(self.stop)
        return process.pid

    def kill(self) -> int | None:
        """SIGKILL the node, as a crash would (no controlled shutdown); returns the pid it killed."""
        pid = self._read_pid()
        if pid is None and self._process is not None and self._process.poll() is None:
            pid = self._process.pid
        if pid is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self._wait_exit(pid, 10.0)
        self._discard_pending_cds()
        self.pid_file.unlink(missing_ok=True)
        self._reap()
        return pid

    @staticmethod
    def _with_parent_death_signal(command: list[str]) -> list[str]:
        """Managed mode: the broker gets SIGTERM when its parent dies, even by SIGKILL, so a killed
        supervisor or test run leaves no orphan. util-linux `setpriv` sets PR_SET_PDEATHSIG and execs
        java in place (same pid). Linux ties the signal to the starting *thread*: start a managed broker
        from the main thread or one that lives as long as the broker should."""
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            return command
        return [setpriv, "--pdeathsig", "TERM", "--", *command]

    def wait_until_answering(self, pid: int | None = None, *, timeout: float | None = None) -> None:
        self._wait_until_answering(pid if pid is not None else self._read_pid(), timeout=timeout)

    def _wait_until_answering(self, pid: int | None, *, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (self.start_timeout if timeout is None else timeout)
        while True:
            if self._answers():
                return
            exited = self._process.poll() if self._process is not None else None
            if exited is not None or (pid is not None and not _pid_alive(pid)):
                code = f" with code {exited}" if exited is not None else ""
                raise BrokerError(f"Kafka exited{code} during start; {self._log_tail()}")
            if time.monotonic() > deadline:
                who = "Kafka" if self.role is None else f"Kafka node {self.node_id}"
                raise BrokerError(
                    f"{who} did not answer on {self.bootstrap} within "
                    f"{self.start_timeout if timeout is None else timeout:.0f} s; {self._log_tail()}"
                )
            time.sleep(PROBE_INTERVAL)

    def _log_tail(self) -> str:
        try:
            lines = self.console_log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        except OSError:
            return f"no log at {self.console_log}"
        return f"last lines of {self.console_log}:\n" + "\n".join(lines)

    def stop(self) -> BrokerStatus:
        """SIGTERM (a controlled shutdown), then SIGKILL after `stop_timeout`; a no-op when stopped."""
        if not self.settings.embedded_kafka:
            return self.status()
        pid = self.terminate()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            self._reap()
            return BrokerStatus(self.bootstrap, running=False, answering=False)
        self.finish_stop(pid, clean=self._wait_exit(pid, self.stop_timeout))
        return BrokerStatus(self.bootstrap, running=False, answering=False, pid=pid, changed=True)

    def terminate(self) -> int | None:
        """Send SIGTERM (begin a controlled shutdown) without waiting; the pid, or None if not running."""
        pid = self._read_pid()
        if pid is None and self._process is not None and self._process.poll() is None:
            pid = self._process.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        return pid

    def exited(self, pid: int) -> bool:
        return self._wait_exit(pid, 0.0)

    def finish_stop(self, pid: int, *, clean: bool) -> None:
        """After `terminate`: publish the class-data archive of a clean exit, or SIGKILL the JVM."""
        if clean:
            self._publish_pending_cds()
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_exit(pid, 10.0)
            self._discard_pending_cds()
        self.pid_file.unlink(missing_ok=True)
        self._reap()

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None and self._process.pid == pid:
                if self._process.poll() is not None:
                    return True
            elif not _pid_alive(pid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def _reap(self) -> None:
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=1)
            self._process = None

    def client_env(self) -> dict[str, str]:
        """The `SENTIRIC_*` variables a process needs to use this broker (`sentiric up` passes them on)."""
        if not self.settings.embedded_kafka:
            return {"SENTIRIC_KAFKA_BOOTSTRAP": self.settings.bootstrap_servers}
        return {
            "SENTIRIC_KAFKA_BOOTSTRAP": self.bootstrap,
            "SENTIRIC_TOPIC_REPLICATION": str(self.settings.topic_replication),
        }

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        """Managed mode: yield the bootstrap address of a running broker; stop it on exit if we started it."""
        status = self.start(detach=False)
        try:
            yield self.bootstrap
        finally:
            if status.changed:
                self.stop()
