"""Where finished recordings go: ``file://`` paths and ``s3://bucket/key`` objects.

URI forms::

    file:///var/lib/sentiric/rec/call-1.wav      absolute path (RFC 8089)
    s3://recordings/2026/call-1.mp3              bucket "recordings", key "2026/call-1.mp3"

Blocking by design (boto3, file writes): the media engine calls ``put`` through ``asyncio.to_thread``
so the 20 ms clock never waits on a disk or a network. S3 credentials and region come from boto3's
usual chain (environment, config files); ``endpoint_url`` points at an S3-compatible server (MinIO,
Ceph, moto) instead of AWS.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit


class StorageError(ValueError):
    """An output URI this layer cannot write to (unknown scheme, missing bucket or path)."""


class RecordingStore(Protocol):
    def put(self, uri: str, data: bytes, content_type: str) -> None: ...


def parse_uri(uri: str) -> tuple[str, str, str]:
    """(scheme, bucket or "", path or key), checked."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StorageError(f"file URI must name a local absolute path: {uri}")
        path = unquote(parts.path)
        if not path.startswith("/") or path.endswith("/"):
            raise StorageError(f"file URI must name a file by absolute path: {uri}")
        return "file", "", path
    if parts.scheme == "s3":
        key = unquote(parts.path.lstrip("/"))
        if not parts.netloc or not key:
            raise StorageError(f"s3 URI must be s3://bucket/key: {uri}")
        return "s3", parts.netloc, key
    raise StorageError(f"unsupported recording URI scheme {parts.scheme!r}: {uri}")


class FileStore:
    """Writes to a temporary name beside the target, then renames, so readers never see half a file."""

    def put(self, uri: str, data: bytes, content_type: str) -> None:
        _, _, path = parse_uri(uri)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
        partial.write_bytes(data)
        os.replace(partial, target)


class S3Store:
    def __init__(self, endpoint_url: str | None = None, **client_kwargs: Any) -> None:
        self.endpoint_url = endpoint_url
        self._client_kwargs = client_kwargs
        self._client: Any = None
        self._lock = threading.Lock()

    def _s3(self) -> Any:
        with self._lock:  # boto3 client creation is not thread-safe; the client itself is
            if self._client is None:
                import boto3  # imported lazily: a node that never records to S3 does not pay for it

                self._client = boto3.session.Session().client(
                    "s3", endpoint_url=self.endpoint_url, **self._client_kwargs
                )
            return self._client

    def put(self, uri: str, data: bytes, content_type: str) -> None:
        _, bucket, key = parse_uri(uri)
        self._s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)


class UriStore:
    """Dispatches on the URI scheme."""

    def __init__(self, s3: S3Store | None = None, file: FileStore | None = None) -> None:
        self.s3 = s3 or S3Store()
        self.file = file or FileStore()

    def put(self, uri: str, data: bytes, content_type: str) -> None:
        scheme, _, _ = parse_uri(uri)
        (self.file if scheme == "file" else self.s3).put(uri, data, content_type)
