"""Where webhooks may be delivered: public addresses only (no SSRF into the platform's own network),
unless the ``webhook_allow_private_targets`` setting allows private ones.

Refused: loopback, RFC 1918 private, link-local (169.254/16, fe80::/10, which holds cloud metadata
services), unspecified, multicast, reserved and documentation ranges, CGNAT 100.64/10, IPv6 ULA
fc00::/7 — everything ``ipaddress`` does not call global — including those addresses wrapped in IPv6
(IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``).

Checked twice:

- at registration (``check_url``, the admin API answers 422): an IP literal, or every address the name
  resolves to;
- at every delivery (``GuardedTransport``): the name is resolved again, every address checked, and the
  connection pinned to the checked address (the URL's own host name kept for ``Host``, TLS SNI and the
  certificate check). A name that resolved to a public address at registration and resolves to
  127.0.0.1 now (DNS rebinding) is refused, and there is no second lookup between check and connect.

Redirects are not followed (httpx's default), so a 3xx cannot lead a delivery elsewhere. With the check
on, proxy environment variables (``HTTP_PROXY``…) are ignored: a proxy would resolve the name itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

RESOLVE_TIMEOUT_S: Final = 5.0
NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


class TargetRefused(httpx.TransportError):
    """A webhook URL whose host is (or resolves to) an address deliveries may not go to."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(address: str | IpAddress) -> str | None:
    """Why deliveries may not go to this address, or None for a public one."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            why = refusal(inner)
            return f"{why} (inside {ip})" if why else None
    for kind in ("loopback", "link_local", "private", "unspecified", "multicast", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return f"{ip} is a {kind.replace('_', '-')} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IP literals as themselves)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError, UnicodeError) as exc:
        raise TargetRefused(f"cannot resolve {host!r}: {str(exc) or type(exc).__name__}") from None
    addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    if not addresses:
        raise TargetRefused(f"{host!r} resolves to no address")
    return addresses


async def checked_addresses(host: str, port: int, resolver: Resolver = resolve) -> list[str]:
    """The addresses of ``host``, all public; raises TargetRefused naming the first that is not."""
    host = host.strip("[]")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = await resolver(host, port)
    for address in addresses:
        why = refusal(address)
        if why is not None:
            shown = f"{host!r} resolves to {why}" if address != host else why
            raise TargetRefused(f"{shown}; set webhook_allow_private_targets to allow it")
    return addresses


async def check_url(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> None:
    """At registration: raises TargetRefused unless deliveries may go to ``url``."""
    if allow_private:
        return
    parts = urlsplit(url)
    if not parts.hostname:
        raise TargetRefused(f"no host in {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    await checked_addresses(parts.hostname, port, resolver)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that connects only to checked public addresses (see the module docstring)."""

    def __init__(self, *, resolver: Resolver = resolve, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._resolver = resolver

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        addresses = await checked_addresses(host, request.url.port or _default_port(request), self._resolver)
        pinned = addresses[0]
        if pinned != host:
            if request.url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
            request.url = request.url.copy_with(host=pinned)  # the Host header keeps the name
        return await super().handle_async_request(request)


def _default_port(request: httpx.Request) -> int:
    return 443 if request.url.scheme == "https" else 80


def webhook_client(*, allow_private: bool) -> httpx.AsyncClient:
    """The HTTP client deliveries use: guarded unless private targets are allowed."""
    if allow_private:
        return httpx.AsyncClient()
    return httpx.AsyncClient(transport=GuardedTransport(), trust_env=False)
