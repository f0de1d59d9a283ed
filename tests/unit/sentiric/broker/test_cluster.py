"""LocalKafkaCluster without a JVM: its layout, ports, roles, SCRAM credentials and client settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from sentiric.broker.cluster import (
    LocalKafkaCluster,
    cluster_dir,
    free_base_ports,
    local_broker,
    local_client_settings,
    node_ports,
    salted_password,
    scram_format_args,
)
from sentiric.broker.local_kafka import BrokerError, LocalKafka
from sentiric.net import port_free
from sentiric.settings import Settings


def settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "home": tmp_path / "home",
        "kafka_port": 30092,
        "kafka_controller_port": 30093,
        "kafka_nodes": 3,
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


def test_node_n_listens_ten_ports_above_node_n_minus_one(tmp_path: Path) -> None:
    cluster = LocalKafkaCluster(settings(tmp_path))
    assert cluster.bootstrap == "127.0.0.1:30092,127.0.0.1:30102,127.0.0.1:30112"
    assert cluster.bootstrap == cluster.settings.bootstrap_servers  # what every client is told
    assert [n.ports for n in cluster.nodes] == [(30092, 30093), (30102, 30103), (30112, 30113)]
    secure = LocalKafkaCluster(settings(tmp_path, kafka_security_protocol="SASL_SSL"))
    assert secure.node(2).ports == (30102, 30103, 30104)  # + the replication listener
    assert node_ports(30092, 30093, 3, secure=True) == [
        *(30092, 30102, 30112),  # clients
        *(30093, 30103, 30113),  # the quorum
        *(30094, 30104, 30114),  # replication over mutual TLS
    ]


def test_each_node_has_its_own_directory_and_the_whole_quorum(tmp_path: Path) -> None:
    cluster = LocalKafkaCluster(settings(tmp_path))
    root = tmp_path / "home" / "data" / "kafka-cluster-3"
    assert cluster.data_dir == root
    for n, node in enumerate(cluster.nodes, start=1):
        assert node.node_id == n
        assert node.data_dir == root / f"node-{n}"
        assert node.role is not None and node.role.expected == frozenset({1, 2, 3})
        assert node.role.spec.voters == ((1, 30093), (2, 30103), (3, 30113))
        assert node.role.probe_port == node.role.spec.port and node.role.probe_tls is None
        assert node.role.cluster_id_file == root / "cluster.id"


def test_plain_and_secure_clusters_keep_separate_directories(tmp_path: Path) -> None:
    plain = settings(tmp_path)
    assert cluster_dir(plain) == tmp_path / "home" / "data" / "kafka-cluster-3"
    assert cluster_dir(plain, secure=True) == tmp_path / "home" / "data" / "kafka-cluster-3-sasl"
    assert cluster_dir(plain, nodes=5) == tmp_path / "home" / "data" / "kafka-cluster-5"
    secure = LocalKafkaCluster(settings(tmp_path, kafka_security_protocol="SASL_SSL"))
    role = secure.node(3).role
    assert role is not None and role.probe_port == 30114  # readiness over mutual TLS
    assert role.probe_tls is not None and role.spec.tls is not None
    assert role.spec.tls.keystore.name == "node-3.pem" and role.spec.tls.truststore.name == "ca.pem"


def test_local_broker_is_the_single_node_unless_more_nodes_or_sasl(tmp_path: Path) -> None:
    assert type(local_broker(settings(tmp_path, kafka_nodes=1))) is LocalKafka
    assert type(local_broker(settings(tmp_path))) is LocalKafkaCluster
    secure_one = local_broker(settings(tmp_path, kafka_nodes=1, kafka_security_protocol="SASL_SSL"))
    assert isinstance(secure_one, LocalKafkaCluster) and secure_one.size == 1


def test_replication_follows_the_nodes_unless_set(tmp_path: Path) -> None:
    assert settings(tmp_path).topic_replication == 3
    assert settings(tmp_path, kafka_nodes=1).topic_replication == 1
    assert settings(tmp_path, topic_replication=2).topic_replication == 2
    assert settings(tmp_path, kafka_bootstrap="k:9092").topic_replication == 1  # a configured cluster


def test_salted_password_matches_rfc_7677() -> None:
    """RFC 7677 §3: user "user", password "pencil": the client proof and server signature it shows."""
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    salted = salted_password("SCRAM-SHA-256", "pencil", salt, 4096)
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth = f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r={nonce}"
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    signature = hmac.new(hashlib.sha256(client_key).digest(), auth.encode(), "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    assert base64.b64encode(proof) == b"dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    verifier = hmac.new(server_key, auth.encode(), "sha256").digest()
    assert base64.b64encode(verifier) == b"6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    assert len(salted_password("SCRAM-SHA-512", "pencil", salt, 4096)) == 64


def test_scram_credentials_are_formatted_salted_never_in_the_clear() -> None:
    args = scram_format_args("sentiric", "s3cret-pass", iterations=4096)
    assert args[0::2] == ("--add-scram", "--add-scram")
    for mechanism, credential in zip(("SCRAM-SHA-512", "SCRAM-SHA-256"), args[1::2], strict=True):
        pattern = rf'{mechanism}=\[name=sentiric,iterations=4096,salt="([^"]+)",saltedpassword="([^"]+)"\]'
        match = re.fullmatch(pattern, credential)
        assert match, credential
        salt, salted = (base64.b64decode(g) for g in match.groups())
        assert salted == salted_password(mechanism, "s3cret-pass", salt, 4096)
        assert "s3cret-pass" not in credential


def test_client_env_names_everything_a_process_needs(tmp_path: Path) -> None:
    plain = LocalKafkaCluster(settings(tmp_path))
    assert plain.client_env() == {
        "SENTIRIC_KAFKA_BOOTSTRAP": "127.0.0.1:30092,127.0.0.1:30102,127.0.0.1:30112",
        "SENTIRIC_TOPIC_REPLICATION": "3",
    }
    secure = LocalKafkaCluster(
        settings(tmp_path, kafka_security_protocol="SASL_SSL", kafka_sasl_password=SecretStr("pw"))
    )
    env = secure.client_env()
    assert env["SENTIRIC_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["SENTIRIC_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert (env["SENTIRIC_KAFKA_SASL_USERNAME"], env["SENTIRIC_KAFKA_SASL_PASSWORD"]) == ("sentiric", "pw")
    assert env["SENTIRIC_KAFKA_SSL_CA_FILE"] == str(secure.tls.ca_file.resolve())
    client = secure.client_settings()
    assert (client.kafka_bootstrap, client.topic_replication) == (secure.bootstrap, 3)
    assert client.kafka_sasl_password is not None and client.kafka_sasl_password.get_secret_value() == "pw"
    external = LocalKafkaCluster(settings(tmp_path, kafka_bootstrap="k:9092"))
    assert external.client_env() == {"SENTIRIC_KAFKA_BOOTSTRAP": "k:9092"}


def test_local_client_settings_come_from_the_cluster_files(tmp_path: Path) -> None:
    secure = settings(tmp_path, kafka_security_protocol="SASL_SSL")
    root = cluster_dir(secure)
    root.mkdir(parents=True)
    (root / "sasl.password").write_text("generated\n")
    filled = local_client_settings(secure)
    assert filled.kafka_ssl_ca_file == root / "tls" / "ca.pem"
    assert (filled.kafka_sasl_username, filled.kafka_sasl_mechanism) == ("sentiric", "SCRAM-SHA-512")
    assert filled.kafka_sasl_password is not None
    assert filled.kafka_sasl_password.get_secret_value() == "generated"
    mine = settings(
        tmp_path, kafka_security_protocol="SASL_SSL", kafka_sasl_username="me", kafka_sasl_password="x"
    )
    configured = local_client_settings(mine)
    assert configured.kafka_sasl_username == "me"
    assert configured.kafka_sasl_password == mine.kafka_sasl_password


def test_a_cluster_never_started_is_reported_and_stopping_it_is_a_no_op(tmp_path: Path) -> None:
    cluster = LocalKafkaCluster(settings(tmp_path, kafka_port=1, kafka_controller_port=2))
    status = cluster.status()
    assert (status.running, status.answering, status.changed) == (False, False, False)
    assert status.describe() == (
        "local Kafka cluster (3 nodes, PLAINTEXT) is not running (would listen on "
        "127.0.0.1:1,127.0.0.1:11,127.0.0.1:21)"
    )
    assert not cluster.stop().changed
    assert not (tmp_path / "home").exists()  # status and stop create nothing


def test_the_local_cluster_speaks_plaintext_or_sasl_ssl_only(tmp_path: Path) -> None:
    cluster = LocalKafkaCluster(settings(tmp_path, kafka_security_protocol="SSL"))
    with pytest.raises(BrokerError, match="the local Kafka speaks PLAINTEXT or SASL_SSL, not SSL"):
        cluster.start()


def test_free_base_ports_are_free_for_every_node() -> None:
    port, controller = free_base_ports(3, secure=True)
    ports = node_ports(port, controller, 3, secure=True)
    assert len(set(ports)) == 9 and all(port_free(p) for p in ports)
