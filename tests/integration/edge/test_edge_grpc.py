"""The edge process serves the gRPC MediaService: a started ``EdgeApp`` answers AllocatePort, PlayAudio
and ReleasePort over real gRPC, the PlayAudio lands on its command topic, and stop() closes the port."""

from __future__ import annotations

import asyncio
import socket

import grpc
import numpy as np
import pytest

from edge.media.codecs.g711 import PCMU
from edge.media.rtp.packet import RtpPacket
from protos import media_pb2, media_pb2_grpc
from schemas.models import PlayAudio
from sentiric.eventlog.consumer import read_partition_until_end

from .conftest import StartEdge


async def test_edge_serves_media_service(start_edge: StartEdge, kafka: str) -> None:
    app = await start_edge()
    assert app.grpc_port > 0
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind(("127.0.0.1", 0))
    caller.setblocking(False)
    host, port = caller.getsockname()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}")
    try:
        stub = media_pb2_grpc.MediaServiceStub(channel)
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
