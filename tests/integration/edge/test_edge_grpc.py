"""The edge process serves the gRPC MediaService: a started ``EdgeApp`` answers AllocatePort, PlayAudio
and ReleasePort over real gRPC, the PlayAudio lands on its command topic, and stop() closes the port.
Every call carries a token: the bootstrap admin token, or one issued on the config topic (which the edge
follows: a revoked token is refused as soon as the edge reads the record)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import uuid
from datetime import UTC, datetime

import grpc
import numpy as np
import pytest

from edge.media.codecs.g711 import PCMU
from edge.media.rtp.packet import RtpPacket
from protos import media_pb2, media_pb2_grpc
from schemas.models import ApiToken, PlayAudio
from sentiric.auth import new_token
from sentiric.eventlog import topics
from sentiric.eventlog.consumer import read_partition_until_end
from sentiric.eventlog.producer import EventProducer

from .conftest import Authed, StartEdge

ADMIN_TOKEN = "edge-grpc-it-admin-token-0123"


async def test_edge_serves_media_service(start_edge: StartEdge, kafka: str) -> None:
    app = await start_edge(admin_token=ADMIN_TOKEN)
    assert app.grpc_port > 0
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind(("127.0.0.1", 0))
    caller.setblocking(False)
    host, port = caller.getsockname()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}")
    try:
        stub = Authed(media_pb2_grpc.MediaServiceStub(channel), ADMIN_TOKEN)
        allocated = await stub.AllocatePort(
            media_pb2.AllocatePortRequest(call_id="edge-g1", remote_host=host, remote_port=port)
        )
        assert app.settings.rtp_port_min <= allocated.rtp_port <= app.settings.rtp_port_max
        tone = (np.sin(2 * np.pi * 440 * np.arange(1600) / 8000) * 8000).astype(np.int16)
        reply = await stub.PlayAudio(
            media_pb2.PlayAudioRequest(call_id="edge-g1", pcm=tone.tobytes(), sample_rate=8000)
        )
        assert reply.playback_id
        loop = asyncio.get_running_loop()
        packets: list[RtpPacket] = []
        while len(packets) < 5:
            data = await asyncio.wait_for(loop.sock_recv(caller, 2048), 5.0)
            packets.append(RtpPacket.parse(data))
        assert all(p.payload_type == 0 and len(p.payload) == 160 for p in packets)
        assert any(np.abs(PCMU.decode(p.payload)).max() > 1000 for p in packets)
        released = await stub.ReleasePort(media_pb2.ReleasePortRequest(call_id="edge-g1"))
        assert released.rtp_port == allocated.rtp_port
        assert app.engine.session("edge-g1") is None
    finally:
        await channel.close()
        caller.close()
    await app.producer.flush()
    parts = await asyncio.gather(
        *(
            read_partition_until_end(app.settings.commands_topic, p, bootstrap_servers=kafka)
            for p in range(app.settings.topic_partitions)
        )
    )
    played = [d.record for part in parts for d in part if isinstance(d.record, PlayAudio)]
    assert [c.playback_id for c in played] == [reply.playback_id]

    bound = app.grpc_port
    await app.stop()
    probe = grpc.aio.insecure_channel(f"127.0.0.1:{bound}")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await media_pb2_grpc.MediaServiceStub(probe).ReleasePort(
                media_pb2.ReleasePortRequest(call_id="x"), timeout=1.0
            )
        assert gone.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        await probe.close()


async def test_edge_follows_issued_and_revoked_tokens(start_edge: StartEdge, kafka: str) -> None:
    app = await start_edge(admin_token=ADMIN_TOKEN)
    issued = new_token()
    now = datetime.now(UTC)
    record = ApiToken(
        event_id=uuid.uuid4(), entity_id=issued.token_id, occurred_at=now, source="test", trace_id="t",
        name="edge-grpc-it", secret_sha256=issued.secret_sha256, scopes=("admin",), created_at=now,
    )  # fmt: skip
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}")
    stub = Authed(media_pb2_grpc.MediaServiceStub(channel), issued.token)
    request = media_pb2.ReleasePortRequest(call_id="never-allocated")

    async def code() -> grpc.StatusCode:
        try:
            await stub.ReleasePort(request)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    async def until(expected: grpc.StatusCode) -> None:
        for _ in range(200):  # the edge's config follower applies the record within a few polls
            if await code() == expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"never {expected}")

    try:
        assert await code() == grpc.StatusCode.UNAUTHENTICATED  # not issued yet
        async with EventProducer(bootstrap_servers=kafka) as producer:
            await producer.publish_and_wait(record, topic=topics.CONFIG)
            await until(grpc.StatusCode.NOT_FOUND)  # authenticated: the RPC itself answers
            revoked = dataclasses.replace(record, event_id=uuid.uuid4(), secret_sha256="", revoked=True)
            await producer.publish_and_wait(revoked, topic=topics.CONFIG)
            await until(grpc.StatusCode.UNAUTHENTICATED)
    finally:
        await channel.close()


async def test_edge_metrics_need_a_token(start_edge: StartEdge) -> None:
    app = await start_edge(admin_token=ADMIN_TOKEN)

    async def get(*headers: str) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", app.metrics_port)
        writer.write("\r\n".join(("GET /metrics HTTP/1.1", "Host: edge", *headers, "", "")).encode())
        await writer.drain()
        response = await reader.read()
        writer.close()
        return response

    assert (await get()).startswith(b"HTTP/1.0 401 ")
    assert (await get("Authorization: Bearer wrong")).startswith(b"HTTP/1.0 401 ")
    served = await get(f"Authorization: Bearer {ADMIN_TOKEN}")
    assert served.startswith(b"HTTP/1.0 200 ") and b"sentiric_sip_invites_received_total" in served
