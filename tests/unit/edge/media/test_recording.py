from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from edge.media.recording import CallRecorder, RecordingError, encode
from edge.media.storage import FileStore, StorageError, UriStore, parse_uri


def test_recorder_interleaves_caller_left_agent_right() -> None:
    recorder = CallRecorder("r1", "file:///tmp/x.wav", "wav")
    recorder.append(np.full(160, 1, np.int16), np.full(160, -2, np.int16))
    recorder.append(np.full(160, 3, np.int16), np.full(160, -4, np.int16))
    pcm = np.frombuffer(recorder.take_pcm(), "<i2").reshape(-1, 2)
    assert recorder.frames == 320
    assert pcm[:160].tolist() == [[1, -2]] * 160 and pcm[160:].tolist() == [[3, -4]] * 160


def test_wav_and_mp3_encoding() -> None:
    stereo = np.zeros((8000, 2), dtype="<i2")
    stereo[:, 0] = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16)
    wav_file = encode(stereo.tobytes(), "wav")
    assert wav_file.duration_ms == 1000 and wav_file.content_type == "audio/wav"
    with wave.open(io.BytesIO(wav_file.data)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getnframes()) == (2, 8000, 8000)
        assert wav.readframes(8000) == stereo.tobytes()
    mp3 = encode(stereo.tobytes(), "mp3")
    assert mp3.content_type == "audio/mpeg" and mp3.duration_ms == 1000
    assert mp3.data[:2] == b"\xff\xe3" or mp3.data[:3] == b"ID3"  # MPEG-2.5 frame sync at 8 kHz
    assert 2000 < len(mp3.data) < 8000  # ~32 kbit/s for one second
    with pytest.raises(RecordingError, match="unsupported recording format 'ogg'"):
        encode(b"", "ogg")
    with pytest.raises(RecordingError):
        CallRecorder("r", "file:///x", "flac")


def test_uri_parsing() -> None:
    assert parse_uri("file:///var/rec/a%20b.wav") == ("file", "", "/var/rec/a b.wav")
    assert parse_uri("s3://bucket/2026/a.mp3") == ("s3", "bucket", "2026/a.mp3")
    for bad, message in [
        ("s3://bucket", "s3://bucket/key"),
        ("file://host/x.wav", "local absolute path"),
        ("file:///var/rec/", "absolute path"),
        ("ftp://x/y", "unsupported recording URI scheme 'ftp'"),
    ]:
        with pytest.raises(StorageError, match=message):
            parse_uri(bad)


def test_file_store_writes_atomically_into_new_directories(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "rec.wav"
    UriStore(file=FileStore()).put(target.as_uri(), b"RIFF....", "audio/wav")
    assert target.read_bytes() == b"RIFF...."
    assert [p.name for p in target.parent.iterdir()] == ["rec.wav"]
