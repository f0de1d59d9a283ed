"""How every Sentiric process connects to Kafka/Redpanda: bootstrap, TLS (a private CA, mTLS), SASL.

One source for every client: `client_options(settings)` gives the keyword arguments of aiokafka's
producers, consumers and admin clients; `faust_credentials(settings)` gives the Faust app the same
security as `broker_credentials`; both build their TLS context with `ssl_context(settings)`.

- `SSL` / `SASL_SSL`: the brokers' certificates are verified against `kafka_ssl_ca_file` (a private
  CA's PEM bundle) or, unset, the system's trust store, host names included. A client certificate
  (`kafka_ssl_cert_file`, `kafka_ssl_key_file`) is presented when set, for clusters that want mTLS.
- `SASL_*`: `kafka_sasl_mechanism` PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (unset: PLAIN), with
  `kafka_sasl_username` / `kafka_sasl_password`.
- The local Kafka in SASL_SSL mode (`sentiric broker start --secure`, tests) fills what is unset
  from its own files: its CA, the user `sentiric`, its generated password, SCRAM-SHA-512.

`check_access(settings)` is the start-up check of every process: one connection to the bootstrap
brokers that tells "the log refuses us" (bad credentials, an untrusted certificate, a TLS/SASL
mismatch — fatal, `LogAccessError` with one line that says which setting to fix) from "the log is not
there yet" (not fatal: the process starts and its clients retry, as they do during an outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Iterator
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    IllegalSaslStateError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.metadata import MetadataRequest

from sentiric.settings import Settings

CHECK_TIMEOUT_S = 15.0
EXIT_LOG_ACCESS = 78  # EX_CONFIG (sysexits.h): a configuration error; restarting will not help


class LogAccessError(RuntimeError):
    """The log refuses this process (credentials, TLS trust, protocol); the message is one line."""


def effective(settings: Settings) -> Settings:
    """`settings` with what the local SASL_SSL Kafka supplies filled in (see the module docstring)."""
    if not (settings.embedded_kafka and settings.kafka_security_protocol == "SASL_SSL"):
        return settings
    from sentiric.broker.cluster import local_client_settings

    return local_client_settings(settings)


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """TLS for the log: verify the brokers (private CA or system store), present a client cert if set."""
    settings = effective(settings)
    ca = settings.kafka_ssl_ca_file
    context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    if settings.kafka_ssl_cert_file is not None:
        password = settings.kafka_ssl_key_password
        context.load_cert_chain(
            str(settings.kafka_ssl_cert_file),
            str(settings.kafka_ssl_key_file) if settings.kafka_ssl_key_file is not None else None,
            password.get_secret_value() if password is not None else None,
        )
    return context


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments shared by aiokafka producers, consumers and admin clients."""
    settings = effective(settings)
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": protocol,
        "client_id": f"sentiric-{settings.node_id}",
    }
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(settings)
    if protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism or "PLAIN"
        options["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options


def faust_credentials(settings: Settings) -> Any:
    """The Faust app's `broker_credentials` for the same settings (None for PLAINTEXT)."""
    from faust.auth import SASLCredentials, SSLCredentials

    settings = effective(settings)
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return SSLCredentials(ssl_context(settings))
    password = settings.kafka_sasl_password
    return SASLCredentials(
        username=settings.kafka_sasl_username,
        password=password.get_secret_value() if password else None,
        ssl_context=ssl_context(settings) if protocol == "SASL_SSL" else None,
        mechanism=settings.kafka_sasl_mechanism or "PLAIN",
    )  # with an ssl_context Faust speaks SASL_SSL, without it SASL_PLAINTEXT


def faust_brokers(settings: Settings) -> list[str]:
    """The Faust app's `broker` URLs for the bootstrap servers."""
    return [f"kafka://{h.strip()}" for h in effective(settings).bootstrap_servers.split(",")]


async def check_access(settings: Settings, *, within_s: float = CHECK_TIMEOUT_S) -> bool:
    """Connect (TLS, SASL) to the bootstrap brokers until one accepts us: True. False when none
    answers within `within_s` (not fatal). Raises `LogAccessError` when one answers and refuses us."""
    options = client_options(settings)
    hosts = [h.strip().rsplit(":", 1) for h in options.pop("bootstrap_servers").split(",") if h.strip()]
    options.pop("client_id")
    refused: LogAccessError | None = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    with _quiet("aiokafka"):  # our one line says it; aiokafka would log each attempt
        while loop.time() < deadline:
            for host, port in hosts:
                try:
                    async with asyncio.timeout(max(0.5, deadline - loop.time())):
                        conn = await create_conn(host, int(port), client_id="sentiric-check", **options)
                except (TimeoutError, ConnectionError) as exc:
                    if isinstance(exc, ConnectionResetError | ConnectionAbortedError):
                        refused = refused or _refusal(settings, f"{host}:{port}", exc)
                    continue
                except (OSError, KafkaError) as exc:
                    refused = _refusal(settings, f"{host}:{port}", exc)
                    continue
                try:  # a TLS-only client on a SASL listener connects, then is refused at the first request
                    await conn.send(MetadataRequest([]))
                except KafkaError as exc:
                    refused = _refusal(settings, f"{host}:{port}", exc)
                    continue
                finally:
                    conn.close()
                return True
            if refused is not None:
                raise refused
            await asyncio.sleep(0.5)
    return False


def require_access(settings: Settings, *, timeout: float = CHECK_TIMEOUT_S) -> None:
    """`check_access` for a command's start, before its event loop (raises `LogAccessError`)."""
    asyncio.run(check_access(settings, within_s=timeout))


def _refusal(settings: Settings, where: str, exc: BaseException) -> LogAccessError:
    s = effective(settings)
    protocol = s.kafka_security_protocol
    who = f"as {s.kafka_sasl_username!r} ({s.kafka_sasl_mechanism or 'PLAIN'})"
    auth_errors = (
        SaslAuthenticationFailed,
        AuthenticationFailedError,
        IllegalSaslStateError,
        UnsupportedSaslMechanismError,
    )
    if isinstance(exc, ssl.SSLCertVerificationError):
        ca = s.kafka_ssl_ca_file or "the system trust store"
        reason = (
            f"the broker's TLS certificate is not trusted ({exc.verify_message}) by {ca}: "
            "set SENTIRIC_KAFKA_SSL_CA_FILE to the CA that signed it"
        )
    elif isinstance(exc, UnsupportedSaslMechanismError):
        reason = (
            f"the broker does not offer SASL {s.kafka_sasl_mechanism or 'PLAIN'}: "
            "check SENTIRIC_KAFKA_SASL_MECHANISM"
        )
    elif isinstance(exc, auth_errors):
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        detail = text.split(": ", 1)[-1]  # the broker's reason, without aiokafka's "[Error 58] Name: "
        reason = (
            f"authentication {who} failed ({detail}): check SENTIRIC_KAFKA_SASL_USERNAME, "
            "_SASL_PASSWORD and _SASL_MECHANISM"
        )
    elif isinstance(exc, ssl.SSLError):
        reason = f"TLS with the broker failed ({exc.reason or exc}): is it an {protocol} listener?"
    else:
        detail = str(exc) or type(exc).__name__
        reason = (
            f"the broker closed the connection ({detail}): does it expect another "
            f"SENTIRIC_KAFKA_SECURITY_PROTOCOL than {protocol}?"
        )
    return LogAccessError(f"cannot use the log at {where}: {reason}")


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
