"""Nothing listens beyond loopback with a default secret.

``sentiric up``, ``sentiric api`` and ``sentiric edge`` (whose ``/ws`` gateway and gRPC MediaService bind
``sip_host``) call ``default_token_refusal`` before they start anything, and print its one line if it
says no. Loopback means an IP literal in 127.0.0.0/8 or ::1, or the name ``localhost``; any other name
counts as beyond loopback (it may resolve to anything), and so do the wildcards ``0.0.0.0`` and ``::``.
"""

from __future__ import annotations

import ipaddress

from sentiric.settings import DEFAULT_ADMIN_TOKEN, Settings


class ExposedDefaultSecret(Exception):
    """A listener beyond loopback would accept the default admin token. Not a RuntimeError: the edge
    treats those as "this optional listener could not bind" and carries on."""


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_token_refusal(settings: Settings, binds: dict[str, str]) -> str | None:
    """The error line when any of ``binds`` (what → host) is beyond loopback while the admin token is
    still the default; None when it is safe to start."""
    if settings.admin_token.get_secret_value() != DEFAULT_ADMIN_TOKEN:
        return None
    exposed = [f"{what} on {host or '*'}" for what, host in binds.items() if not is_loopback(host)]
    if not exposed:
        return None
    return (
        f"refusing to listen beyond loopback ({', '.join(exposed)}) with the default admin token "
        f"{DEFAULT_ADMIN_TOKEN!r}: set SENTIRIC_ADMIN_TOKEN to a long random secret "
        "(e.g. `openssl rand -hex 24`), or bind to 127.0.0.1"
    )


def check_bind(settings: Settings, what: str, host: str) -> None:
    """Raise ExposedDefaultSecret for a listener about to bind beyond loopback with the default token."""
    refusal = default_token_refusal(settings, {what: host})
    if refusal is not None:
        raise ExposedDefaultSecret(refusal)
