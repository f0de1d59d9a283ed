"""The gRPC MediaService against a live engine on loopback: ports, commands on the log, live taps."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import numpy as np
import pytest
from prometheus_client import REGISTRY

from edge.grpc_service import serve_media
from edge.media.codecs.g711 import PCMU
from edge.media.playback import load_wav
from protos import media_pb2, media_pb2_grpc
from schemas.models import PlayAudio, PlaybackFinished

from .conftest import FIXTURES, correlation, send_rtp_stream


class TopicPublisher:
    def __init__(self) -> None:
        self.records: list[tuple[str, Any]] = []

    def publish(self, record: Any, *, topic: str = "sentiric.calls", key: str | None = None) -> None:
        self.records.append((topic, record))


@pytest.fixture
async def grpc_stub(harness):
    publisher = TopicPublisher()
    server, port = await serve_media(
        harness.engine, publisher, harness.engine.settings, address="127.0.0.1:0"
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield media_pb2_grpc.MediaServiceStub(channel), publisher
    finally:
        await channel.close()
        await server.stop(None)


def requests_total(method: str, code: str) -> float:
    return (
        REGISTRY.get_sample_value("sentiric_media_grpc_requests_total", {"method": method, "code": code})
        or 0.0
    )


async def test_allocate_play_release_and_commands_on_the_log(harness, grpc_stub, make_caller) -> None:
    stub, publisher = grpc_stub
    caller = await make_caller()
    before = requests_total("PlayAudio", "OK")
    allocated = await stub.AllocatePort(
        media_pb2.AllocatePortRequest(call_id="g1", remote_host=caller.addr[0], remote_port=caller.addr[1])
    )
    assert allocated.rtcp_port == allocated.rtp_port + 1 and harness.engine.session("g1") is not None
    assert REGISTRY.get_sample_value("sentiric_media_active_sessions") == 1
    tone = (np.sin(2 * np.pi * 440 * np.arange(4000) / 8000) * 8000).astype(np.int16)
    reply = await stub.PlayAudio(
        media_pb2.PlayAudioRequest(call_id="g1", pcm=tone.tobytes(), sample_rate=8000),
        metadata=(("trace_id", "trace-42"),),
    )
    await harness.wait_for(PlaybackFinished, playback_id=reply.playback_id)
    ((topic, command),) = publisher.records
    assert topic == "sentiric.commands.edge-1" and isinstance(command, PlayAudio)
    assert command.playback_id == reply.playback_id and command.trace_id == "trace-42"
    await harness.engine.execute(command)  # read back from the command topic: not played twice
    await asyncio.sleep(0.1)
    assert len(harness.facts_of(PlaybackFinished)) == 1
    audio = np.concatenate([PCMU.decode(p.payload) for p in caller.packets()])
    assert correlation(audio, tone[400:-400]) > 0.9

    released = await stub.ReleasePort(media_pb2.ReleasePortRequest(call_id="g1"))
    assert released.rtp_port == allocated.rtp_port and harness.engine.session("g1") is None
    assert not harness.engine.pool.is_allocated(allocated.rtp_port)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.PlayAudio(media_pb2.PlayAudioRequest(call_id="g1", pcm=b"\0\0"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert requests_total("PlayAudio", "OK") - before == 1
    assert requests_total("PlayAudio", "NOT_FOUND") >= 1


async def test_stream_audio_taps_the_call_without_disturbing_it(harness, grpc_stub, make_caller) -> None:
    stub, _ = grpc_stub
    caller = await make_caller()
    allocated = await stub.AllocatePort(media_pb2.AllocatePortRequest(call_id="g2"))
    to = ("127.0.0.1", allocated.rtp_port)
    speech = load_wav(FIXTURES / "opening_hours_8k.wav")
    frames = [PCMU.encode(speech[i : i + 160]) for i in range(0, speech.size - 159, 160)]

    caller_tap = stub.StreamAudio(media_pb2.StreamAudioRequest(call_id="g2"))
    wideband_tap = stub.RecordAudio(media_pb2.RecordAudioRequest(call_id="g2", sample_rate=16000))
    got: list[bytes] = []
    wide: list[media_pb2.AudioFrame] = []

    async def read(stream: Any, into: list[Any], n: int) -> None:
        async for frame in stream:
            into.append(frame)
            if len(into) >= n:
                break

    readers = [
        asyncio.create_task(read(caller_tap, got, len(frames) + 60)),
        asyncio.create_task(read(wideband_tap, wide, len(frames))),
    ]
    await asyncio.sleep(0.1)
    await send_rtp_stream(caller, to, frames + [PCMU.silence()] * 20)
    await asyncio.wait_for(asyncio.gather(*readers), 10)
    caller_tap.cancel()
    wideband_tap.cancel()
    await stub.ReleasePort(media_pb2.ReleasePortRequest(call_id="g2"))

    tapped = np.frombuffer(b"".join(f.pcm for f in got), "<i2")
    assert [f.sequence for f in got] == list(range(len(got))) and got[0].sample_rate == 8000
    assert all(len(f.pcm) == 320 for f in got)
    assert correlation(tapped, PCMU.decode(PCMU.encode(speech))[800:-800]) > 0.9
    assert wide[0].sample_rate == 16000 and sum(len(f.pcm) for f in wide) > 320 * len(wide)
    # meanwhile the call's own audio to the caller went on: one packet every 20 ms, no gap
    packets = caller.packets()
    seqs = np.array([p.sequence_number for p in packets])
    assert ((np.diff(seqs) % 65536) == 1).all()
    spacing_ms = np.diff([t for t, _ in caller.received]) * 1000
    assert np.percentile(spacing_ms, 99) <= 30  # loose: a functional check; the bench measures


async def test_inject_audio_is_heard_by_the_caller(harness, grpc_stub, make_caller) -> None:
    stub, _ = grpc_stub
    caller = await make_caller()
    await stub.AllocatePort(
        media_pb2.AllocatePortRequest(call_id="g3", remote_host=caller.addr[0], remote_port=caller.addr[1])
    )
    tone = (np.sin(2 * np.pi * 700 * np.arange(16000 * 2) / 16000) * 8000).astype(np.int16)  # 2 s, 16 kHz

    async def chunks() -> Any:
        for i in range(0, tone.size, 640):  # 40 ms chunks, as fast as gRPC takes them
            yield media_pb2.InjectAudioRequest(
                call_id="g3", pcm=tone[i : i + 640].tobytes(), sample_rate=16000
            )

    reply = await stub.InjectAudio(chunks())
    await stub.ReleasePort(media_pb2.ReleasePortRequest(call_id="g3"))
    assert reply.samples_received == tone.size and reply.samples_dropped == 0
    audio = np.concatenate([PCMU.decode(p.payload) for p in caller.packets()])
    reference = (np.sin(2 * np.pi * 700 * np.arange(8000 * 2) / 8000) * 8000).astype(np.int16)
    assert correlation(audio, reference[800:-800]) > 0.9
    rms = np.sqrt((audio[: audio.size // 160 * 160].astype(np.float64).reshape(-1, 160) ** 2).mean(axis=1))
    assert 98 <= (rms > 3000).sum() <= 102  # all 2 s of it (100 frames), once


async def test_recording_and_errors_over_grpc(harness, grpc_stub, make_caller, tmp_path) -> None:
    stub, publisher = grpc_stub
    await stub.AllocatePort(media_pb2.AllocatePortRequest(call_id="g4"))
    target = tmp_path / "g4.wav"
    started = await stub.StartRecording(
        media_pb2.StartRecordingRequest(call_id="g4", output_uri=target.as_uri(), format="wav")
    )
    await asyncio.sleep(0.2)
    await stub.StopRecording(media_pb2.StopRecordingRequest(call_id="g4", recording_id=started.recording_id))
    assert target.stat().st_size > 44
    assert [type(r).__name__ for _, r in publisher.records] == ["StartRecording", "StopRecording"]
    for bad, code in [
        (
            media_pb2.StartRecordingRequest(call_id="g4", output_uri="ftp://x/y", format="wav"),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            media_pb2.StartRecordingRequest(call_id="nope", output_uri=target.as_uri()),
            grpc.StatusCode.NOT_FOUND,
        ),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.StartRecording(bad)
        assert error.value.code() == code
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.AllocatePort(media_pb2.AllocatePortRequest(call_id="g4"))
    assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS
    await stub.ReleasePort(media_pb2.ReleasePortRequest(call_id="g4"))
