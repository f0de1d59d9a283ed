"""Webhook targets: which addresses are refused, at registration and at delivery (DNS rebinding)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from projections.webhook_targets import GuardedTransport, TargetRefused, check_url, refusal, resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.0.10",
        "169.254.169.254", "0.0.0.0", "100.64.0.1", "100.127.255.254", "224.0.0.1", "239.1.1.1",
        "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1",
        "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
        "2002:7f00:1::1", "2002:a00:1::", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",
    ],
)  # fmt: skip
def test_refused_addresses(address: str) -> None:
    assert refusal(address) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address: str) -> None:
    assert refusal(address) is None


def resolver_of(*addresses: str):
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def test_check_url() -> None:
    for url in ("http://127.0.0.1:9/hook", "http://[::1]/", "https://10.0.0.8/x", "http://169.254.169.254/"):
        with pytest.raises(TargetRefused):
            await check_url(url, allow_private=False)
        await check_url(url, allow_private=True)
    await check_url("https://hooks.example/x", allow_private=False, resolver=resolver_of("93.184.215.14"))
    with pytest.raises(TargetRefused, match=r"resolves to 127\.0\.0\.1"):
        await check_url("https://evil.example/x", allow_private=False, resolver=resolver_of("127.0.0.1"))
    with pytest.raises(TargetRefused):  # one private address among public ones is enough
        mixed = resolver_of("8.8.8.8", "10.0.0.1")
        await check_url("https://mixed.example/", allow_private=False, resolver=mixed)


async def test_delivery_rechecks_after_resolution() -> None:
    """Registered while the name was public; now it resolves to loopback: the delivery never connects."""
    transport = GuardedTransport(resolver=resolver_of("127.0.0.1"))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(TargetRefused, match="loopback"):
            await client.post("https://rebound.example/hook", content=b"{}")
        with pytest.raises(TargetRefused):
            await client.post("http://[::ffff:7f00:1]:8080/hook", content=b"{}")


async def test_a_resolution_failure_without_a_message_is_named_by_its_type(monkeypatch) -> None:
    # asyncio.wait_for's timeout is a TimeoutError with no message: the refusal still says what failed
    async def times_out(*args: object, **kwargs: object) -> list[object]:
        raise TimeoutError

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", times_out)
    with pytest.raises(TargetRefused) as refused:
        await resolve("hooks.example.com", 443)
    assert str(refused.value) == "cannot resolve 'hooks.example.com': TimeoutError"
