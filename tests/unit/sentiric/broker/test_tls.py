"""The local cluster's private CA: certificates a TLS client verifies for 127.0.0.1, secrets kept 0600."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from sentiric.broker.tls import ClusterTls


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> ClusterTls:
    tls = ClusterTls(tmp_path_factory.mktemp("cluster") / "tls")
    tls.ensure([1, 2, 3])
    return tls


def test_the_ca_and_one_certificate_per_node_are_written_private(ca: ClusterTls) -> None:
    assert ca.directory.stat().st_mode & 0o777 == 0o700
    for path in (ca.ca_key_file, *(ca.node_file(n) for n in (1, 2, 3))):
        assert path.stat().st_mode & 0o777 == 0o600, path
    node = ca.node_file(2).read_text()
    assert node.count("BEGIN PRIVATE KEY") == 1 and node.count("BEGIN CERTIFICATE") == 2  # key, node, CA


def test_node_certificates_name_loopback_and_serve_both_ends(ca: ClusterTls) -> None:
    root = x509.load_pem_x509_certificate(ca.ca_file.read_bytes())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert = x509.load_pem_x509_certificates(ca.node_file(1).read_bytes())[0]
    assert cert.issuer == root.subject
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_ensure_keeps_what_exists_and_adds_missing_nodes(ca: ClusterTls) -> None:
    before = {p.name: p.read_bytes() for p in ca.directory.iterdir()}
    ca.ensure([1, 2, 3, 4])
    after = {p.name: p.read_bytes() for p in ca.directory.iterdir()}
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) == {"node-4.pem"}


def test_a_mutual_tls_handshake_between_two_nodes(ca: ClusterTls) -> None:
    """Node 1 serves and requires a client certificate; node 2 connects to 127.0.0.1 and verifies it
    (host name included), as the replication and controller listeners do."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(str(ca.node_file(1)))
    server_context.load_verify_locations(str(ca.ca_file))
    server_context.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))
    peer: dict[str, object] = {}

    def serve() -> None:
        connection, _ = listener.accept()
        with server_context.wrap_socket(connection, server_side=True) as tls:
            peer.update(tls.getpeercert() or {})
            tls.sendall(tls.recv(5))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = ca.client_context(2)
    assert client.check_hostname and client.verify_mode == ssl.CERT_REQUIRED
    with socket.create_connection(listener.getsockname(), timeout=5) as raw:
        with client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"hello")
            assert tls.recv(5) == b"hello"
    thread.join(5)
    listener.close()
    assert dict(x[0] for x in peer["subject"])["commonName"] == "kafka-node-2"  # type: ignore[index]


def test_another_ca_is_not_trusted(ca: ClusterTls, tmp_path: Path) -> None:
    other = ClusterTls(tmp_path / "other")
    other.ensure([1])
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(str(ca.node_file(1)))
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, contextlib.suppress(ssl.SSLError, OSError):
            server_context.wrap_socket(connection, server_side=True).close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with socket.create_connection(listener.getsockname(), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            other.client_context(1).wrap_socket(raw, server_hostname="127.0.0.1")
    thread.join(5)
    listener.close()
