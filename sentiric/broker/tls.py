"""A private certificate authority for the local Kafka's TLS listeners, made with `cryptography`.

Written once per local cluster under `<cluster dir>/tls/` (mode 0700, files 0600) and reused on every
start; nothing here is meant for a production cluster, whose certificates come from its operator:

    ca.pem               the CA certificate: the brokers' truststore and the clients' CA file
    ca.key               the CA's private key (PKCS#8 PEM, unencrypted, 0600): signs node certificates
    node-<id>.pem        a node's private key (PKCS#8) and its certificate chain (node, CA): the
                         broker's PEM keystore (`ssl.keystore.type=PEM`, KIP-651) and the client
                         certificate the node and the readiness probe present on the mutual-TLS listeners

Keys are EC P-256 (fast to make and to handshake; every JDK 17 and OpenSSL speak it). Node
certificates name `127.0.0.1` and `localhost` (the brokers listen on loopback only and verify each
other's host name, `ssl.endpoint.identification.algorithm=https`) and allow server and client use.
Keys are stored unencrypted, protected by their file mode: Kafka's PEM keystore decrypts only the
algorithms the JDK's SecretKeyFactory knows, and JDK 17 has no PBES2 (what `cryptography` writes), so
an encrypted key would need a legacy cipher, and its password would sit in server.properties anyway.
"""

from __future__ import annotations

import datetime
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = datetime.timedelta(days=3650)
NODE_VALIDITY = datetime.timedelta(days=825)  # the longest a browser-style client still accepts
LOOPBACK_NAMES = ("localhost", "127.0.0.1")
ORGANIZATION = "Sentiric local Kafka"


@dataclass(frozen=True, slots=True)
class ClusterTls:
    """The files of one local cluster's private CA."""

    directory: Path

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key_file(self) -> Path:
        return self.directory / "ca.key"

    def node_file(self, node_id: int) -> Path:
        return self.directory / f"node-{node_id}.pem"

    def ensure(self, node_ids: list[int]) -> None:
        """Create the CA (once) and a certificate for every node that has none yet."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        ca_key: PrivateKeyTypes  # generated here (EC), then read back as whatever the file holds
        if not (self.ca_file.is_file() and self.ca_key_file.is_file()):
            ca_key = ec.generate_private_key(ec.SECP256R1())
            write_private(self.ca_key_file, pkcs8(ca_key))
            ca = ca_certificate(ca_key, "Sentiric local Kafka CA", ORGANIZATION)
            self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
            for stale in self.directory.glob("node-*.pem"):  # signed by a CA that is gone
                stale.unlink()
        ca_key = serialization.load_pem_private_key(self.ca_key_file.read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        ca_cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        for node_id in node_ids:
            if self.node_file(node_id).is_file():
                continue
            key = ec.generate_private_key(ec.SECP256R1())
            cert = leaf_certificate(
                key, f"kafka-node-{node_id}", LOOPBACK_NAMES, ca_key, ca_cert, organization=ORGANIZATION
            )
            chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, ca_cert))
            write_private(self.node_file(node_id), pkcs8(key) + chain)

    def client_context(self, node_id: int) -> ssl.SSLContext:
        """A TLS client context that trusts the CA and presents a node's certificate (the mutual-TLS
        listeners: the readiness probe connects as that node)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(self.node_file(node_id)))
        return context


def pkcs8(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_private(path: Path, data: bytes) -> None:
    """Write a secret so that it is never readable by others, not even for an instant."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def subject_names(names: Sequence[str]) -> list[x509.GeneralName]:
    """Subject alternative names: an IP literal as an iPAddress entry (what TLS clients match an
    address against, RFC 6125 §6.2.1), anything else as a dNSName."""
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def ca_certificate(key: ec.EllipticCurvePrivateKey, common_name: str, organization: str) -> x509.Certificate:
    """A self-signed CA that may sign end-entity certificates only (path length 0)."""
    now = datetime.datetime.now(datetime.UTC)
    name = _name(common_name, organization)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def leaf_certificate(
    key: ec.EllipticCurvePrivateKey,
    common_name: str,
    names: Sequence[str],
    ca_key: ec.EllipticCurvePrivateKey,
    ca: x509.Certificate,
    *,
    organization: str,
) -> x509.Certificate:
    """An end-entity certificate for ``names`` (host names and IP literals), signed by ``ca``, good
    for both ends of a TLS connection."""
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + NODE_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(subject_names(names)), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
