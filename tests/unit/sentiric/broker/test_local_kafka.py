"""LocalKafka without a JVM: the errors users see, the no-op modes, the probe against a fake broker."""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentiric.broker.local_kafka import (
    JAVA_MISSING,
    MAVEN_MISSING,
    BrokerError,
    LocalKafka,
    jvm_options,
    probe,
    random_cluster_id,
)
from sentiric.broker.metadata import BrokerInfo, MetadataResponse
from sentiric.settings import Settings


@pytest.fixture
def no_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with neither java nor mvn on it, and no JAVA_HOME."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    return bin_dir


def test_missing_java_is_one_clear_line(tmp_path: Path, no_java: Path) -> None:
    broker = LocalKafka(Settings(home=tmp_path / "home"))
    with pytest.raises(BrokerError) as error:
        broker.start()
    assert str(error.value) == JAVA_MISSING
    assert str(error.value) == (
        "Java 17+ is required to run the local Kafka: install openjdk-17-jre-headless, "
        "or set SENTIRIC_KAFKA_BOOTSTRAP to use an existing cluster"
    )
    assert not (tmp_path / "home").exists()  # nothing fetched, nothing formatted


def test_missing_java_is_reported_even_with_the_jars_cached(tmp_path: Path, no_java: Path) -> None:
    broker = LocalKafka(Settings(home=tmp_path / "home", cache_home=tmp_path / "cache"))
    broker.lib_dir.mkdir(parents=True)
    (broker.install_dir / ".complete").write_text("3.9.1\n")
    with pytest.raises(BrokerError, match=re.escape(JAVA_MISSING)):
        broker.start()


def test_missing_maven_is_one_clear_line_when_the_jars_are_not_cached(tmp_path: Path, no_java: Path) -> None:
    java = no_java / "java"
    java.write_text("#!/bin/sh\nexit 0\n")
    java.chmod(0o755)
    broker = LocalKafka(Settings(home=tmp_path / "home"))
    with pytest.raises(BrokerError) as error:
        broker.start()
    assert str(error.value) == MAVEN_MISSING
    assert not broker.is_provisioned()


def test_configured_bootstrap_means_nothing_is_started(tmp_path: Path, no_java: Path) -> None:
    broker = LocalKafka(Settings(home=tmp_path / "home", kafka_bootstrap="kafka.example:9092"))
    for status in (broker.start(), broker.status(), broker.stop()):
        assert status.external and not status.running and not status.changed
        assert status.describe() == (
            "using the configured Kafka at kafka.example:9092 (SENTIRIC_KAFKA_BOOTSTRAP); nothing local"
        )
    assert not (tmp_path / "home").exists()


def test_status_and_stop_without_a_broker(tmp_path: Path) -> None:
    broker = LocalKafka(Settings(home=tmp_path, kafka_port=1))
    broker.data_dir.mkdir(parents=True)
    broker.pid_file.write_text("999999999\n")  # a stale pid file names no process
    status = broker.status()
    assert (status.running, status.answering, status.pid) == (False, False, None)
    assert status.describe() == "local Kafka is not running (would listen on 127.0.0.1:1)"
    assert not broker.stop().changed
    assert not broker.pid_file.exists()


def test_cache_and_data_layout(tmp_path: Path) -> None:
    broker = LocalKafka(
        Settings(home=tmp_path / "home", cache_home=tmp_path / "cache", kafka_version="3.9.1")
    )
    assert broker.lib_dir == tmp_path / "cache" / "kafka-3.9.1" / "lib"
    assert broker.log_dir == tmp_path / "home" / "data" / "kafka" / "logs"
    assert broker.console_log == tmp_path / "home" / "data" / "kafka" / "kafka.log"
    default_cache = LocalKafka(Settings(home=tmp_path / "home"))
    assert default_cache.install_dir == tmp_path / "home" / "cache" / "kafka-3.9.1"


def test_cluster_ids_look_like_kafka_uuids() -> None:
    ids = {random_cluster_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", i) for i in ids)


def test_jvm_options_use_or_write_the_class_data_archive(tmp_path: Path) -> None:
    plain = jvm_options("256m")
    assert plain[:2] == ["-Xmx256m", "-XX:+UseSerialGC"]
    assert not any("Archive" in o for o in plain)
    archive = tmp_path / "cds.jsa"
    assert jvm_options("256m", cds_archive=archive)[-1] == f"-XX:SharedArchiveFile={archive}"
    assert jvm_options("256m", cds_dump=archive)[-1] == f"-XX:ArchiveClassesAtExit={archive}"


@pytest.fixture
def fake_broker() -> Iterator[int]:
    """A TCP server that answers one request with a canned Metadata v4 response (correlation id 1)."""
    payload = bytes(MetadataResponse(1, 0, (BrokerInfo(1, "127.0.0.1", 9),), "cluster", 1))
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(1024)
            connection.sendall(len(payload).to_bytes(4, "big") + payload)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    thread.join(timeout=5)
    server.close()


def test_probe_reads_the_brokers_from_a_metadata_answer(fake_broker: int) -> None:
    response = probe("127.0.0.1", fake_broker)
    assert response is not None
    assert response.brokers == (BrokerInfo(1, "127.0.0.1", 9),)


def test_probe_of_a_closed_port_is_none() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        assert probe("127.0.0.1", port, timeout=0.5) is None


def test_probe_over_mutual_tls_as_the_secure_cluster_is_asked(tmp_path: Path) -> None:
    """The replication listener of a secure node: TLS with a client certificate from the cluster's CA."""
    from sentiric.broker.tls import ClusterTls

    tls = ClusterTls(tmp_path / "tls")
    tls.ensure([1, 2])
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(str(tls.node_file(1)))
    server_context.load_verify_locations(str(tls.ca_file))
    server_context.verify_mode = ssl.CERT_REQUIRED
    payload = bytes(
        MetadataResponse(1, 0, (BrokerInfo(1, "127.0.0.1", 9), BrokerInfo(2, "127.0.0.1", 19)), "c", 1)
    )
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for _ in range(2):
            connection, _ = server.accept()
            with connection, contextlib.suppress(ssl.SSLError, OSError):
                with server_context.wrap_socket(connection, server_side=True) as conn:
                    conn.recv(1024)
                    conn.sendall(len(payload).to_bytes(4, "big") + payload)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = server.getsockname()[1]
    response = probe("127.0.0.1", port, tls=tls.client_context(2))
    assert response is not None and {b.node_id for b in response.brokers} == {1, 2}
    assert probe("127.0.0.1", port, timeout=2) is None  # plaintext to a TLS listener: no answer
    thread.join(timeout=5)
    server.close()
