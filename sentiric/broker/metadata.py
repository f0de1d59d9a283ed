"""Kafka `Metadata` request and response, version 4: the readiness probe of the local broker.

Sans-IO: this module builds and parses bytes; the caller owns the socket. A broker "answers" when a
Metadata response lists at least one broker: a KRaft broker leaves itself out of the list until the
controller has unfenced it, so a non-empty list means the broker serves produce and fetch requests.

Version 4 is the oldest version both Kafka 3.x and 4.x accept (KIP-896 removed v0-v3 in 4.0) and the
newest that is not "flexible" (v9+ use compact strings and tagged fields). All integers are big-endian.
Grammar, from the Kafka protocol guide (https://kafka.apache.org/protocol#The_Messages_Metadata):

    frame           = size:INT32 payload            ; size counts the payload bytes
    request payload = header body
      header v1     = api_key:INT16(3) api_version:INT16(4) correlation_id:INT32 client_id:NULLABLE_STRING
      body v4       = topics:NULLABLE_ARRAY[name:STRING] allow_auto_topic_creation:BOOLEAN
    response payload = correlation_id:INT32 body
      body v4       = throttle_time_ms:INT32
                      brokers:ARRAY[node_id:INT32 host:STRING port:INT32 rack:NULLABLE_STRING]
                      cluster_id:NULLABLE_STRING controller_id:INT32
                      topics:ARRAY[error_code:INT16 name:STRING is_internal:BOOLEAN
                                   partitions:ARRAY[error_code:INT16 partition_index:INT32 leader_id:INT32
                                                    replica_nodes:ARRAY[INT32] isr_nodes:ARRAY[INT32]]]
    STRING = length:INT16 UTF-8 bytes; NULLABLE_STRING uses length -1 for null;
    ARRAY  = count:INT32 items; NULLABLE_ARRAY uses count -1 for null ("all topics").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

METADATA_API_KEY = 3
METADATA_VERSION = 4
SIZE_PREFIX_LENGTH = 4
NULL_LENGTH = -1

_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")


class MetadataError(ValueError):
    """A Metadata frame that cannot be parsed."""


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise MetadataError(f"truncated Metadata response: {what} needs {n} bytes at offset {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self, what: str) -> int:
        return int(_INT16.unpack(self._take(2, what))[0])

    def int32(self, what: str) -> int:
        return int(_INT32.unpack(self._take(4, what))[0])

    def boolean(self, what: str) -> bool:
        return self._take(1, what) != b"\x00"

    def nullable_string(self, what: str) -> str | None:
        length = self.int16(what)
        if length == NULL_LENGTH:
            return None
        if length < 0:
            raise MetadataError(f"negative length {length} for {what}")
        return self._take(length, what).decode("utf-8", errors="strict")

    def string(self, what: str) -> str:
        value = self.nullable_string(what)
        if value is None:
            raise MetadataError(f"null {what}")
        return value

    def count(self, what: str) -> int:
        n = self.int32(what)
        if n < 0:
            raise MetadataError(f"negative count {n} for {what}")
        return n


def _nullable_string(value: str | None) -> bytes:
    if value is None:
        return _INT16.pack(NULL_LENGTH)
    raw = value.encode("utf-8")
    return _INT16.pack(len(raw)) + raw


def _int32_array(values: tuple[int, ...]) -> bytes:
    return _INT32.pack(len(values)) + b"".join(_INT32.pack(v) for v in values)


@dataclass(frozen=True, slots=True)
class MetadataRequest:
    """Metadata v4 request; `topics=()` asks for brokers only, `None` for every topic."""

    correlation_id: int
    client_id: str | None = "sentiric-probe"
    topics: tuple[str, ...] | None = ()
    allow_auto_topic_creation: bool = False

    def __bytes__(self) -> bytes:
        payload = (
            _INT16.pack(METADATA_API_KEY)
            + _INT16.pack(METADATA_VERSION)
            + _INT32.pack(self.correlation_id)
            + _nullable_string(self.client_id)
        )
        if self.topics is None:
            payload += _INT32.pack(NULL_LENGTH)
        else:
            payload += _INT32.pack(len(self.topics)) + b"".join(_nullable_string(t) for t in self.topics)
        payload += b"\x01" if self.allow_auto_topic_creation else b"\x00"
        return _INT32.pack(len(payload)) + payload


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    node_id: int
    host: str
    port: int
    rack: str | None = None


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    error_code: int
    partition_index: int
    leader_id: int
    replica_nodes: tuple[int, ...]
    isr_nodes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TopicInfo:
    error_code: int
    name: str
    is_internal: bool
    partitions: tuple[PartitionInfo, ...]


@dataclass(frozen=True, slots=True)
class MetadataResponse:
    """Metadata v4 response payload (the bytes after the INT32 size prefix)."""

    correlation_id: int
    throttle_time_ms: int
    brokers: tuple[BrokerInfo, ...]
    cluster_id: str | None
    controller_id: int
    topics: tuple[TopicInfo, ...] = ()

    @classmethod
    def parse(cls, data: bytes) -> MetadataResponse:
        r = _Reader(data)
        correlation_id = r.int32("correlation_id")
        throttle_time_ms = r.int32("throttle_time_ms")
        brokers = tuple(
            BrokerInfo(
                node_id=r.int32("broker node_id"),
                host=r.string("broker host"),
                port=r.int32("broker port"),
                rack=r.nullable_string("broker rack"),
            )
            for _ in range(r.count("brokers"))
        )
        cluster_id = r.nullable_string("cluster_id")
        controller_id = r.int32("controller_id")
        topics = tuple(_parse_topic(r) for _ in range(r.count("topics")))
        if r.pos != len(data):
            raise MetadataError(f"{len(data) - r.pos} trailing bytes after Metadata response")
        return cls(correlation_id, throttle_time_ms, brokers, cluster_id, controller_id, topics)

    def __bytes__(self) -> bytes:
        out = [_INT32.pack(self.correlation_id), _INT32.pack(self.throttle_time_ms)]
        out.append(_INT32.pack(len(self.brokers)))
        for b in self.brokers:
            out += [_INT32.pack(b.node_id), _nullable_string(b.host), _INT32.pack(b.port)]
            out.append(_nullable_string(b.rack))
        out += [_nullable_string(self.cluster_id), _INT32.pack(self.controller_id)]
        out.append(_INT32.pack(len(self.topics)))
        for t in self.topics:
            out += [
                _INT16.pack(t.error_code),
                _nullable_string(t.name),
                b"\x01" if t.is_internal else b"\x00",
            ]
            out.append(_INT32.pack(len(t.partitions)))
            for p in t.partitions:
                out += [_INT16.pack(p.error_code), _INT32.pack(p.partition_index), _INT32.pack(p.leader_id)]
                out += [_int32_array(p.replica_nodes), _int32_array(p.isr_nodes)]
        return b"".join(out)


def _parse_topic(r: _Reader) -> TopicInfo:
    error_code = r.int16("topic error_code")
    name = r.string("topic name")
    is_internal = r.boolean("topic is_internal")
    partitions = tuple(
        PartitionInfo(
            error_code=r.int16("partition error_code"),
            partition_index=r.int32("partition_index"),
            leader_id=r.int32("leader_id"),
            replica_nodes=tuple(r.int32("replica node") for _ in range(r.count("replica_nodes"))),
            isr_nodes=tuple(r.int32("isr node") for _ in range(r.count("isr_nodes"))),
        )
        for _ in range(r.count("partitions"))
    )
    return TopicInfo(error_code, name, is_internal, partitions)


def frame_length(header: bytes) -> int:
    """The payload length announced by a frame's 4-byte size prefix."""
    if len(header) != SIZE_PREFIX_LENGTH:
        raise MetadataError(f"size prefix must be {SIZE_PREFIX_LENGTH} bytes, got {len(header)}")
    size = int(_INT32.unpack(header)[0])
    if size < 0:
        raise MetadataError(f"negative frame size {size}")
    return size
