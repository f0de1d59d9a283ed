"""Call recording end to end: caller left, agent right, stored to file:// (WAV) and s3:// (MP3, moto)."""

from __future__ import annotations

import io
import socket
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path

import av
import boto3
import numpy as np
import pytest
from moto.server import ThreadedMotoServer

from edge.media.codecs.g711 import PCMU
from edge.media.codecs.resample import resample
from edge.media.engine import MediaCommandError
from edge.media.playback import load_wav
from edge.media.storage import S3Store, UriStore
from schemas.envelope import envelope
from schemas.models import PlayAudio, RecordingFinished, StartRecording, StopRecording
from tests.support.audio import correlation

from .conftest import FIXTURES, send_rtp_stream

S3_CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "test", "aws_secret_access_key": "test"}


@pytest.fixture
def moto_s3() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


async def record_a_call(
    harness, make_caller, call_id: str, uri: str, fmt: str
) -> tuple[np.ndarray, np.ndarray]:
    """Caller speaks the fixture while the agent plays a tone; returns (speech, tone)."""
    caller = await make_caller()
    session = await harness.open_session(call_id, caller.addr, dtmf_payload_type=None)
    port = session.local_port
    recording_id = str(uuid.uuid4())
    await harness.engine.execute(
        StartRecording(
            **envelope(call_id, seq=1, source="test"), recording_id=recording_id, output_uri=uri, format=fmt
        )
    )
    tone = (np.sin(2 * np.pi * 523 * np.arange(8000 * 2) / 8000) * 7000).astype(np.int16)
    await harness.engine.execute(
        PlayAudio(
            **envelope(call_id, seq=2, source="test"),
            playback_id="tone",
            pcm=tone.tobytes(),
            sample_rate=8000,
            barge_in=False,
        )
    )
    speech = load_wav(FIXTURES / "opening_hours_8k.wav")
    padded = np.concatenate([speech, np.zeros(1600, dtype=np.int16)])
    frames = [PCMU.encode(padded[i : i + 160]) for i in range(0, padded.size - 159, 160)]
    await send_rtp_stream(caller, ("127.0.0.1", port), frames)
    await harness.engine.execute(
        StopRecording(**envelope(call_id, seq=3, source="test"), recording_id=recording_id)
    )
    await session.close()
    return speech, tone


async def test_wav_recording_to_a_file_uri(harness, make_caller, tmp_path: Path) -> None:
    target = harness.engine.settings.recordings_root / "rec" / "call.wav"  # only under the root
    speech, tone = await record_a_call(harness, make_caller, "call-rec", target.as_uri(), "wav")
    (finished,) = harness.facts_of(RecordingFinished)
    assert finished.uri == target.as_uri() and finished.format == "wav"
    assert finished.size_bytes == target.stat().st_size
    with wave.open(str(target)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert abs(finished.duration_ms - stereo.shape[0] // 8) <= 1
    assert finished.duration_ms >= speech.size // 8
    left, right = stereo[:, 0], stereo[:, 1]
    assert correlation(left, PCMU.decode(PCMU.encode(speech))) > 0.9
    assert correlation(right, tone[800:-800]) > 0.9
    assert correlation(left, tone[800:-800]) < 0.3  # the channels are not mixed


async def test_mp3_recording_to_s3(harness, make_caller, moto_s3: str) -> None:
    boto3.client("s3", endpoint_url=moto_s3, **S3_CREDENTIALS).create_bucket(Bucket="recordings")
    harness.engine.store = UriStore(s3=S3Store(moto_s3, **S3_CREDENTIALS))
    speech, _ = await record_a_call(
        harness, make_caller, "call-s3", "s3://recordings/2026/call-s3.mp3", "mp3"
    )
    (finished,) = harness.facts_of(RecordingFinished)
    assert finished.uri == "s3://recordings/2026/call-s3.mp3" and finished.format == "mp3"
    obj = boto3.client("s3", endpoint_url=moto_s3, **S3_CREDENTIALS).get_object(
        Bucket="recordings", Key="2026/call-s3.mp3"
    )
    data = obj["Body"].read()
    assert len(data) == finished.size_bytes and obj["ContentType"] == "audio/mpeg"
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name.startswith("mp3") and stream.channels == 2
        rate = stream.codec_context.sample_rate
        planes = [f.to_ndarray() for f in container.decode(stream)]  # planar float: (2, samples)
    left = np.concatenate([p[0] for p in planes])
    left16 = resample((left * 32767).astype(np.int16), rate, 8000)
    assert correlation(left16, speech[800:-800]) > 0.8  # lossy at 32 kbit/s, still the caller


async def test_commands_from_the_log_cannot_write_outside_the_root(
    harness, make_caller, tmp_path: Path
) -> None:
    """The rule the gRPC service applies holds for StartRecording read from the command topic too."""
    caller = await make_caller()
    await harness.open_session("call-out", caller.addr)
    root = harness.engine.settings.recordings_root
    root.mkdir(parents=True, exist_ok=True)
    (root / "escape").symlink_to(tmp_path)
    for n, uri in enumerate(
        [
            (tmp_path / "out.wav").as_uri(),
            f"file://{root}/../out.wav",
            (root / "escape" / "out.wav").as_uri(),
            "s3://someone-elses-bucket/out.wav",
        ]
    ):
        fields = {"recording_id": f"r{n}", "output_uri": uri, "format": "wav"}
        command = StartRecording(**envelope("call-out", seq=n + 1, source="test"), **fields)
        with pytest.raises(MediaCommandError, match=r"outside the recordings root|not one of"):
            await harness.engine.execute(command)
    assert not (tmp_path / "out.wav").exists()
    assert harness.engine.session("call-out").recorders == {}
