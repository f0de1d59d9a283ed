"""One source of connection settings for every Kafka client: aiokafka's options and Faust's credentials."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed, UnsupportedSaslMechanismError
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import AuthProtocol, SASLMechanism

from sentiric.broker.cluster import cluster_dir
from sentiric.broker.tls import ClusterTls
from sentiric.eventlog.connection import (
    LogAccessError,
    _refusal,
    check_access,
    client_options,
    effective,
    faust_brokers,
    faust_credentials,
    ssl_context,
)
from sentiric.net import free_port
from sentiric.settings import Settings


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> ClusterTls:
    tls = ClusterTls(tmp_path_factory.mktemp("ca") / "tls")
    tls.ensure([1])
    return tls


def secured(ca: ClusterTls, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "kafka_bootstrap": "k1:9093,k2:9093",
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "sentiric",
        "kafka_sasl_password": "pw",
        "kafka_ssl_ca_file": ca.ca_file,
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


def ca_subjects(context: ssl.SSLContext) -> list[str]:
    return [dict(x[0] for x in c["subject"]).get("commonName", "") for c in context.get_ca_certs()]


def test_plaintext_is_just_the_bootstrap() -> None:
    options = client_options(Settings(kafka_bootstrap="k1:9092,k2:9092", node_id="edge-7"))
    assert options == {
        "bootstrap_servers": "k1:9092,k2:9092",
        "security_protocol": "PLAINTEXT",
        "client_id": "sentiric-edge-7",
    }
    assert faust_credentials(Settings(kafka_bootstrap="k:9092")) is None
    assert faust_brokers(Settings(kafka_bootstrap="k1:9092, k2:9092")) == [
        "kafka://k1:9092",
        "kafka://k2:9092",
    ]


def test_sasl_ssl_with_scram_and_a_private_ca(ca: ClusterTls) -> None:
    options = client_options(secured(ca))
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == ("SCRAM-SHA-512", "sentiric")
    assert options["sasl_plain_password"] == "pw"
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert ca_subjects(context) == ["Sentiric local Kafka CA"]  # the private CA, not the system store


def test_without_a_ca_file_the_system_store_verifies(ca: ClusterTls) -> None:
    context = ssl_context(secured(ca, kafka_ssl_ca_file=None))
    assert "Sentiric local Kafka CA" not in ca_subjects(context)
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_a_client_certificate_is_presented_when_set(ca: ClusterTls, tmp_path: Path) -> None:
    node = ca.node_file(1)  # key and chain in one file
    assert isinstance(ssl_context(secured(ca, kafka_ssl_cert_file=node)), ssl.SSLContext)
    key, chain = tmp_path / "client.key", tmp_path / "client.pem"
    text = node.read_text()
    split = text.index("-----BEGIN CERTIFICATE-----")
    key.write_text(text[:split])
    chain.write_text(text[split:])
    assert isinstance(
        ssl_context(secured(ca, kafka_ssl_cert_file=chain, kafka_ssl_key_file=key)), ssl.SSLContext
    )
    with pytest.raises(ssl.SSLError):
        ssl_context(secured(ca, kafka_ssl_cert_file=chain))  # a certificate without its key


def test_sasl_defaults_to_plain() -> None:
    options = client_options(Settings(kafka_bootstrap="k:9092", kafka_security_protocol="SASL_PLAINTEXT"))
    assert options["sasl_mechanism"] == "PLAIN" and "ssl_context" not in options


def test_faust_gets_the_same_security(ca: ClusterTls) -> None:
    credentials = faust_credentials(secured(ca))
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol is AuthProtocol.SASL_SSL
    assert credentials.mechanism is SASLMechanism.SCRAM_SHA_512
    assert (credentials.username, credentials.password) == ("sentiric", "pw")
    assert credentials.ssl_context is not None and ca_subjects(credentials.ssl_context) == [
        "Sentiric local Kafka CA"
    ]
    sha256 = faust_credentials(
        secured(ca, kafka_sasl_mechanism="SCRAM-SHA-256", kafka_security_protocol="SASL_PLAINTEXT")
    )
    assert sha256.protocol is AuthProtocol.SASL_PLAINTEXT and sha256.mechanism is SASLMechanism.SCRAM_SHA_256
    tls_only = faust_credentials(secured(ca, kafka_security_protocol="SSL"))
    assert isinstance(tls_only, SSLCredentials) and tls_only.protocol is AuthProtocol.SSL


def test_the_local_secure_cluster_fills_in_its_ca_and_credentials(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, kafka_nodes=3, kafka_security_protocol="SASL_SSL")
    root = cluster_dir(settings)
    ClusterTls(root / "tls").ensure([1])
    (root / "sasl.password").write_text("generated\n")
    options = client_options(settings)
    assert options["bootstrap_servers"] == "127.0.0.1:19092,127.0.0.1:19102,127.0.0.1:19112"
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == ("SCRAM-SHA-512", "sentiric")
    assert options["sasl_plain_password"] == "generated"
    assert ca_subjects(options["ssl_context"]) == ["Sentiric local Kafka CA"]
    external = Settings(kafka_bootstrap="k:9093", kafka_security_protocol="SASL_SSL")
    assert effective(external) is external  # a configured cluster is never filled from local files


def test_refusals_name_the_setting_to_fix(ca: ClusterTls) -> None:
    settings = secured(ca)
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    untrusted.verify_message = "self-signed certificate in certificate chain"
    message = str(_refusal(settings, "k1:9093", untrusted))
    assert message.startswith("cannot use the log at k1:9093: the broker's TLS certificate is not trusted")
    assert "SENTIRIC_KAFKA_SSL_CA_FILE" in message
    denied = SaslAuthenticationFailed("Authentication failed due to invalid credentials with SASL mechanism")
    message = str(_refusal(settings, "k1:9093", denied))
    assert (
        "authentication as 'sentiric' (SCRAM-SHA-512) failed (Authentication failed due to invalid" in message
    )
    assert "[Error" not in message and "pw" not in message.split("failed (")[0]
    mechanism = str(_refusal(settings, "k1:9093", UnsupportedSaslMechanismError("x")))
    assert "does not offer SASL SCRAM-SHA-512: check SENTIRIC_KAFKA_SASL_MECHANISM" in mechanism
    closed = str(_refusal(settings, "k1:9093", KafkaConnectionError("Connection at k1:9093 closed")))
    assert "another SENTIRIC_KAFKA_SECURITY_PROTOCOL than SASL_SSL" in closed
    assert all("\n" not in m for m in (message, mechanism, closed))


async def test_nobody_listening_is_not_a_refusal() -> None:
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}")
    assert await check_access(settings, within_s=1.0) is False  # not fatal: the clients retry


def test_log_access_error_is_a_runtime_error() -> None:
    assert issubclass(LogAccessError, RuntimeError)
