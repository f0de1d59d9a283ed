"""Where a ``StartRecording`` may write: the one rule for both ways the command arrives (the gRPC
MediaService and the edge's command topic), so neither can be used to write anywhere else.

- ``file://`` — only strictly inside the recordings root (the ``recordings_dir`` setting, default
  ``<home>/recordings``), judged on the path with ``..`` and symlinks resolved (``os.path.realpath``
  follows every link that exists now), so neither ``file:///…/recordings/../x`` nor a link inside the
  root pointing out of it gets through;
- ``s3://`` — only to a configured bucket (``recording_s3_buckets``; none by default);
- anything else is refused (``edge.media.storage.parse_uri``).

A refusal raises ``RecordingTargetError`` (a ``StorageError``): INVALID_ARGUMENT over gRPC, a refused
command on the log. What remains: a link created inside the root after the check (that needs write
access to the recordings directory itself).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from edge.media.storage import StorageError, parse_uri

if TYPE_CHECKING:
    from sentiric.settings import Settings


class RecordingTargetError(StorageError):
    """An output URI outside what this edge may write to."""


def check_output_uri(uri: str, *, root: Path, buckets: Collection[str]) -> None:
    """Raise RecordingTargetError (or StorageError for a malformed URI) unless ``uri`` may be written."""
    scheme, bucket, path = parse_uri(uri)
    if scheme == "file":
        base = os.path.realpath(root)
        target = os.path.realpath(path)
        if os.path.commonpath([base, target]) != base or target == base:
            raise RecordingTargetError(f"recording path {path} is outside the recordings root {base}")
        return
    if bucket not in buckets:
        raise RecordingTargetError(f"recording bucket {bucket!r} is not one of recording_s3_buckets")


def allowed_output_uri(settings: Settings, uri: str) -> None:
    """``check_output_uri`` with this edge's settings."""
    check_output_uri(uri, root=settings.recordings_root, buckets=settings.recording_buckets)
