"""The gRPC MediaService against a live engine on loopback: ports, commands on the log, live taps, and
who may call it (tokens, the recordings root)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import numpy as np
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from edge.config_table import ConfigTable
from edge.grpc_service import serve_media
from edge.media.codecs.g711 import PCMU
from edge.media.playback import load_wav
from protos import media_pb2, media_pb2_grpc
from schemas.models import ApiToken, PlayAudio, PlaybackFinished
from sentiric.auth import new_token
from sentiric.exposure import ExposedDefaultSecret
from tests.integration.edge.conftest import Authed
from tests.support.audio import correlation

from .conftest import ADMIN_TOKEN, FIXTURES, media_settings, send_rtp_stream


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
        yield Authed(media_pb2_grpc.MediaServiceStub(channel), ADMIN_TOKEN), publisher
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
    target = harness.engine.settings.recordings_root / "g4.wav"
    started = await stub.StartRecording(
        media_pb2.StartRecordingRequest(call_id="g4", output_uri=target.as_uri(), format="wav")
    )
    await asyncio.sleep(0.2)
    await stub.StopRecording(media_pb2.StopRecordingRequest(call_id="g4", recording_id=started.recording_id))
    assert target.stat().st_size > 44
    assert [type(r).__name__ for _, r in publisher.records] == ["StartRecording", "StopRecording"]
    # each command carries the service's envelope: the call's own sequence, its source, the call as trace
    start, stop = (r for _, r in publisher.records)
    assert [(r.call_id, r.seq, r.source, r.trace_id) for r in (start, stop)] == [
        ("g4", 1, "edge-1/grpc", "g4"),
        ("g4", 2, "edge-1/grpc", "g4"),
    ]
    assert start.recording_id == stop.recording_id == started.recording_id and start.format == "wav"
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


def token_record(scopes: tuple[str, ...], **extra: Any) -> tuple[str, ApiToken]:
    issued = new_token()
    now = datetime.now(UTC)
    record = ApiToken(
        event_id=uuid.uuid4(), entity_id=issued.token_id, occurred_at=now, source="test", trace_id="t",
        name="grpc-it", secret_sha256=issued.secret_sha256, scopes=scopes, created_at=now, **extra,
    )  # fmt: skip
    return issued.token, record


async def test_every_call_needs_an_admin_token(harness) -> None:
    table = ConfigTable()
    read_token, read_record = token_record(("read",))
    admin_token, admin_record = token_record(("admin",))
    old_token, old_record = token_record(("admin",), expires_at=datetime.now(UTC) - timedelta(seconds=1))
    for record in (read_record, admin_record, old_record):
        table.apply(f"apitoken:{record.entity_id}", record)
    server, port = await serve_media(
        harness.engine, TopicPublisher(), harness.engine.settings, address="127.0.0.1:0", tokens=table
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    bare = media_pb2_grpc.MediaServiceStub(channel)
    before = requests_total("AllocatePort", "UNAUTHENTICATED")
    try:
        for metadata, code in [
            ((), grpc.StatusCode.UNAUTHENTICATED),  # on loopback too
            ((("authorization", "Bearer not-a-token"),), grpc.StatusCode.UNAUTHENTICATED),
            ((("authorization", f"Bearer {old_token}"),), grpc.StatusCode.UNAUTHENTICATED),
            ((("authorization", f"Bearer {read_token}"),), grpc.StatusCode.PERMISSION_DENIED),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await bare.AllocatePort(media_pb2.AllocatePortRequest(call_id="ga"), metadata=metadata)
            assert refused.value.code() == code, metadata
            tap = bare.StreamAudio(media_pb2.StreamAudioRequest(call_id="ga"), metadata=metadata)
            with pytest.raises(grpc.aio.AioRpcError) as streamed:  # server-streaming RPCs are guarded too
                async for _ in tap:
                    pass
            assert streamed.value.code() == code
        assert harness.engine.session("ga") is None  # nothing was allocated by a refused call
        assert requests_total("AllocatePort", "UNAUTHENTICATED") - before == 3
        for token in (admin_token, ADMIN_TOKEN):  # an issued admin token, and the bootstrap one
            authed = Authed(bare, token)
            await authed.AllocatePort(media_pb2.AllocatePortRequest(call_id="ga"))
            await authed.ReleasePort(media_pb2.ReleasePortRequest(call_id="ga"))
        table.apply(f"apitoken:{admin_record.entity_id}", None)  # revoked/deleted: refused at once
        with pytest.raises(grpc.aio.AioRpcError) as revoked:
            await Authed(bare, admin_token).AllocatePort(media_pb2.AllocatePortRequest(call_id="ga"))
        assert revoked.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await channel.close()
        await server.stop(None)


async def test_beyond_loopback_without_mtls_refuses_to_start(harness, tmp_path) -> None:
    default = media_settings(tmp_path / "default", admin_token=SecretStr("change-me"))  # the default
    with pytest.raises(ExposedDefaultSecret, match=r"gRPC MediaService on 0\.0\.0\.0"):
        await serve_media(harness.engine, TopicPublisher(), default, address="0.0.0.0:0")
    # On loopback the same settings start (and still demand a token on every call).
    server, _ = await serve_media(harness.engine, TopicPublisher(), default, address="127.0.0.1:0")
    await server.stop(None)


async def test_recordings_only_under_the_root(harness, grpc_stub, tmp_path) -> None:
    stub, publisher = grpc_stub
    await stub.AllocatePort(media_pb2.AllocatePortRequest(call_id="g5"))
    root = harness.engine.settings.recordings_root
    root.mkdir(parents=True, exist_ok=True)
    (root / "link").symlink_to(tmp_path)
    try:
        for uri in (
            (tmp_path / "x.wav").as_uri(),
            f"file://{root}/../x.wav",
            (root / "link" / "x.wav").as_uri(),
            "s3://not-configured/x.wav",
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.StartRecording(media_pb2.StartRecordingRequest(call_id="g5", output_uri=uri))
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, uri
            assert "recordings root" in refused.value.details() or "bucket" in refused.value.details()
        assert publisher.records == []  # a refused command is not recorded on the log either
        assert not (tmp_path / "x.wav").exists()
    finally:
        await stub.ReleasePort(media_pb2.ReleasePortRequest(call_id="g5"))
