"""The API over HTTPS and /ws over wss when a certificate is configured (`sentiric cert`): a token
request works through a verifying client, plain HTTP on the TLS port fails, the sign-in cookie carries
Secure, and a wss session on the real broker answers; ws:// to it fails."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage

from edge.facts import FactRecorder
from edge.ws import protocol as p
from edge.ws.server import WebService
from projections.api.app import create_app
from projections.api.services import ApiConfig
from projections.cli import https_options
from sentiric.cert import LocalCertificate
from sentiric.eventlog import topics as log_topics
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.producer import EventProducer
from sentiric.net import free_port
from sentiric.settings import Settings

from .conftest import Env

ADMIN = "https-it-admin-token-0123456789"
BOOT = {"Authorization": f"Bearer {ADMIN}"}


@contextlib.asynccontextmanager
async def serve_https(app: Any, settings: Settings) -> AsyncIterator[str]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=settings.api_port, log_level="warning", **https_options(settings)
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"https://localhost:{settings.api_port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def tls_platform(env: Env, tmp_path: Path) -> AsyncIterator[tuple[str, str, LocalCertificate]]:
    cert = LocalCertificate(tmp_path / "tls")
    cert.make()
    await ensure_topics(log_topics.platform_topics(partitions=3, calls_retention_ms=86_400_000), **env.client)
    settings = Settings(
        kafka_bootstrap=env.kafka, home=tmp_path / "edge", admin_token=ADMIN, api_port=free_port(),
        node_id=f"edge-https-{uuid.uuid4().hex[:6]}",
        api_tls_cert_file=cert.cert_file, api_tls_key_file=cert.key_file,
    )  # fmt: skip
    config = ApiConfig(
        dsn=env.dsn, client=env.client, admin_token=ADMIN, topics=env.topics, run_webhooks=False
    )
    async with serve_https(create_app(config), settings) as api:
        async with EventProducer(**env.client) as producer:
            web = WebService(
                settings, FactRecorder(producer, settings.node_id), config_topic=env.topics.config, port=0
            )
            await web.start()
            try:
                yield api, f"wss://localhost:{web.port}/ws", cert
            finally:
                await web.stop()


async def test_https_api_wss_and_a_secure_cookie(tls_platform: tuple[str, str, LocalCertificate]) -> None:
    api, ws_url, cert = tls_platform
    trust = ssl.create_default_context(cafile=str(cert.ca_file))
    async with httpx.AsyncClient(base_url=api, verify=trust, timeout=30) as http:
        assert (await http.get("/api/calls", headers=BOOT)).status_code == 200
        assert (await http.get("/api/calls")).status_code == 401  # TLS is no substitute for the token
        r = await http.post("/signin", data={"token": ADMIN, "next": "/"}, headers={"Origin": api})
        assert r.status_code == 303
        assert "secure" in r.headers["set-cookie"].lower().split("; ")
    plain = api.replace("https://", "http://")
    with pytest.raises(httpx.TransportError):  # the TLS port speaks no plain HTTP
        async with httpx.AsyncClient(timeout=10) as http:
            await http.get(f"{plain}/healthz")
    async with httpx.AsyncClient(timeout=10) as http:  # nor is the certificate trusted by default
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{api}/healthz")
    # wss: a web call opens (its first message is the session info), with the admin token.
    async with connect(ws_url, ssl=trust, additional_headers=BOOT, origin=api) as ws:
        info = p.SessionInfo.parse(await asyncio.wait_for(ws.recv(), 30))
        assert info is not None
    with pytest.raises(InvalidMessage):  # ws:// to the wss port: no valid HTTP answer, no session
        async with connect(ws_url.replace("wss://", "ws://"), additional_headers=BOOT, open_timeout=10):
            pass
