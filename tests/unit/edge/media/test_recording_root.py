"""Recordings only under the recordings root (symlinks and .. resolved) or to a configured bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.media.recording_root import RecordingTargetError, allowed_output_uri, check_output_uri
from edge.media.storage import StorageError
from sentiric.settings import Settings


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "recordings" / "2026").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "recordings" / "escape").symlink_to(tmp_path / "outside")
    (tmp_path / "recordings" / "inner").symlink_to(tmp_path / "recordings" / "2026")
    return tmp_path / "recordings"


def check(uri: str, root: Path) -> None:
    check_output_uri(uri, root=root, buckets={"calls"})


@pytest.mark.parametrize(
    "relative",
    ["a.wav", "2026/a.wav", "new/dir/a.mp3", "inner/a.wav", "2026/../b.wav"],
)
def test_inside_the_root(root: Path, relative: str) -> None:
    check(f"file://{root}/{relative}", root)


@pytest.mark.parametrize(
    "uri",
    [
        "file:///etc/cron.d/x.wav",
        "file://{root}/../outside/a.wav",
        "file://{root}/2026/../../outside/a.wav",
        "file://{root}/escape/a.wav",  # a link inside the root that points out of it
        "file://{root}",  # the root itself is not a file in it
        "file://{root}-sibling/a.wav",  # a prefix match is not containment
        "s3://other-bucket/a.wav",
    ],
)
def test_outside_is_refused(root: Path, uri: str) -> None:
    with pytest.raises(RecordingTargetError):
        check(uri.format(root=root), root)


@pytest.mark.parametrize("uri", ["ftp://x/y.wav", "file://host/x.wav", "http://x/y", "s3://bucket-only"])
def test_malformed_uris(root: Path, uri: str) -> None:
    with pytest.raises(StorageError):
        check(uri, root)


def test_allowed_bucket_and_settings(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, recording_s3_buckets="calls, archive")
    assert settings.recordings_root == tmp_path / "recordings"
    allowed_output_uri(settings, "s3://archive/2026/a.mp3")
    allowed_output_uri(settings, (tmp_path / "recordings" / "a.wav").as_uri())
    with pytest.raises(RecordingTargetError):
        allowed_output_uri(Settings(home=tmp_path), "s3://calls/a.wav")  # no bucket configured
    moved = Settings(home=tmp_path, recordings_dir=tmp_path / "rec")
    with pytest.raises(RecordingTargetError):
        allowed_output_uri(moved, (tmp_path / "recordings" / "a.wav").as_uri())
