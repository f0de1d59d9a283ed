"""`sentiric cert`: a certificate and key for local TLS (SIP over TLS, HTTPS, wss), in one command.

Made with the same private-CA code as the local Kafka's listeners (:mod:`sentiric.broker.tls`): a CA
of its own and a server certificate it signs, written to ``<home>/tls`` (or ``--dir``), mode 0700
and secrets 0600::

    ca.pem      the CA certificate: what a client trusts (baresip's sip_cafile, curl --cacert,
                a browser's imported authority)
    ca.key      the CA's private key: signs the next certificate when names change
    cert.pem    the server certificate and the CA after it (the chain a server presents)
    key.pem     the server's private key (PKCS#8, unencrypted, 0600)

The certificate names ``--name`` entries (host names and IP literals; default ``localhost`` and
``127.0.0.1``). A CA rather than one self-signed leaf because a client can then trust one file while
the server certificate is remade for new names; nothing here is for production, whose certificates
come from a real authority. Existing files are kept unless ``--force``; the CA is kept even then (a
client that trusts it goes on trusting the new certificate).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sentiric.broker.tls import LOOPBACK_NAMES, ca_certificate, leaf_certificate, pkcs8, write_private
from sentiric.settings import get_settings

ORGANIZATION = "Sentiric local TLS"


@dataclass(frozen=True, slots=True)
class LocalCertificate:
    """The files of one local TLS certificate and its CA."""

    directory: Path

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key_file(self) -> Path:
        return self.directory / "ca.key"

    @property
    def cert_file(self) -> Path:
        return self.directory / "cert.pem"

    @property
    def key_file(self) -> Path:
        return self.directory / "key.pem"

    def exists(self) -> bool:
        return self.cert_file.is_file() and self.key_file.is_file() and self.ca_file.is_file()

    def make(self, names: tuple[str, ...] = LOOPBACK_NAMES) -> None:
        """Write a certificate for ``names`` (and the CA, if there is none yet)."""
        if not names:
            raise ValueError("a certificate needs at least one name")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        if not (self.ca_file.is_file() and self.ca_key_file.is_file()):
            new_ca = ec.generate_private_key(ec.SECP256R1())
            write_private(self.ca_key_file, pkcs8(new_ca))
            ca = ca_certificate(new_ca, "Sentiric local CA", ORGANIZATION)
            self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        ca_key = serialization.load_pem_private_key(self.ca_key_file.read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{self.ca_key_file}: not an EC private key")
        ca_cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        cert = leaf_certificate(key, names[0], names, ca_key, ca_cert, organization=ORGANIZATION)
        chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, ca_cert))
        write_private(self.key_file, pkcs8(key))  # the key first: a cert without its key is useless
        self.cert_file.write_bytes(chain)


def _cert(args: argparse.Namespace) -> int:
    target = LocalCertificate(args.dir or get_settings().home / "tls")
    names = tuple(dict.fromkeys(args.name or LOOPBACK_NAMES))
    if target.exists() and not args.force:
        print(f"kept the existing certificate in {target.directory} (--force makes a new one)")
    else:
        target.make(names)
        print(f"made a certificate for {', '.join(names)} in {target.directory}")
    cert, key = target.cert_file.resolve(), target.key_file.resolve()
    print(
        "\n".join(
            [
                "settings (environment or sentiric.toml):",
                f"  SENTIRIC_SIP_TLS_CERT_FILE={cert}",
                f"  SENTIRIC_SIP_TLS_KEY_FILE={key}",
                f"  SENTIRIC_API_TLS_CERT_FILE={cert}",
                f"  SENTIRIC_API_TLS_KEY_FILE={key}",
                f"clients trust {target.ca_file.resolve()}",
            ]
        )
    )
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("cert", help="make a certificate and key for local TLS (SIP-TLS, HTTPS, wss)")
    p.add_argument("--dir", type=Path, default=None, help="where to write (default: <home>/tls)")
    p.add_argument(
        "--name",
        action="append",
        default=None,
        help="a host name or IP the certificate names (repeat; default localhost and 127.0.0.1)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing certificate (the CA stays)")
    p.set_defaults(func=_cert)
