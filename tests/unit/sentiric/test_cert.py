"""`sentiric cert`: a CA and a server certificate for the names asked, that a TLS client verifies."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

from sentiric.cert import LocalCertificate
from sentiric.cli import main


def _names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName), [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]


def test_default_names_are_loopback_and_the_key_is_private(tmp_path: Path) -> None:
    local = LocalCertificate(tmp_path / "tls")
    local.make()
    assert local.directory.stat().st_mode & 0o777 == 0o700
    assert local.key_file.stat().st_mode & 0o777 == 0o600
    assert local.ca_key_file.stat().st_mode & 0o777 == 0o600
    leaf, ca = x509.load_pem_x509_certificates(local.cert_file.read_bytes())
    assert leaf.issuer == ca.subject == x509.load_pem_x509_certificate(local.ca_file.read_bytes()).subject
    assert _names(leaf) == (["localhost"], ["127.0.0.1"])
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_names_may_be_hosts_and_addresses_of_both_families(tmp_path: Path) -> None:
    local = LocalCertificate(tmp_path)
    local.make(("edge.example", "192.0.2.5", "::1"))
    leaf = x509.load_pem_x509_certificates(local.cert_file.read_bytes())[0]
    assert _names(leaf) == (["edge.example"], ["192.0.2.5", "::1"])
    with pytest.raises(ValueError, match="at least one name"):
        local.make(())


def test_a_new_certificate_keeps_the_ca_clients_trust(tmp_path: Path) -> None:
    local = LocalCertificate(tmp_path)
    local.make()
    ca_before = local.ca_file.read_bytes()
    leaf_before = local.cert_file.read_bytes()
    local.make(("127.0.0.1",))
    assert local.ca_file.read_bytes() == ca_before
    assert local.cert_file.read_bytes() != leaf_before


def test_a_tls_client_that_trusts_the_ca_verifies_the_server(tmp_path: Path) -> None:
    local = LocalCertificate(tmp_path)
    local.make()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(local.cert_file, local.key_file)
    client_ctx = ssl.create_default_context(cafile=str(local.ca_file))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        hosts = ("localhost", "127.0.0.1")  # a name and an address, both in the certificate

        def serve() -> None:
            for _ in hosts:
                conn, _ = listener.accept()
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(tls.recv(16))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        for host in hosts:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with client_ctx.wrap_socket(raw, server_hostname=host) as tls:
                    tls.sendall(b"ping")
                    assert tls.recv(16) == b"ping"
        thread.join(5)


def test_the_command_writes_once_and_prints_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "tls"
    assert main(["cert", "--dir", str(target), "--name", "127.0.0.1"]) == 0
    first = capsys.readouterr().out
    assert "made a certificate for 127.0.0.1" in first
    assert f"SENTIRIC_SIP_TLS_CERT_FILE={target / 'cert.pem'}" in first
    assert f"SENTIRIC_API_TLS_KEY_FILE={target / 'key.pem'}" in first
    cert = (target / "cert.pem").read_bytes()
    assert main(["cert", "--dir", str(target)]) == 0
    assert "kept the existing certificate" in capsys.readouterr().out
    assert (target / "cert.pem").read_bytes() == cert
    assert main(["cert", "--dir", str(target), "--force"]) == 0
    assert (target / "cert.pem").read_bytes() != cert
