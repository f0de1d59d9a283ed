"""Avro single-object encoding of Sentiric records (Avro 1.11 spec, "Single-object encoding").

Wire format of every message value on every Sentiric topic::

    +------+------+----------------------------------+---------------------------+
    | 0xC3 | 0x01 | CRC-64-AVRO fingerprint (8 bytes, | Avro binary body          |
    |   marker    |  little-endian) of the writer's   | (schemaless, per writer's |
    |             |  Parsing Canonical Form           |  schema)                  |
    +------+------+----------------------------------+---------------------------+

A message names its own schema, so no registry is needed: the schemas ship with the package. The
reader looks the fingerprint up among the current schemas and the frozen earlier versions kept in
`schemas/history/`, and resolves the writer's schema against the current one (Avro schema
resolution), so an old message decodes into today's model.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from fastavro import schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from schemas import models

MARKER = b"\xc3\x01"
FINGERPRINT_LENGTH = 8
HEADER_LENGTH = len(MARKER) + FINGERPRINT_LENGTH
HERE = Path(__file__).parent
FAMILIES = ("events", "commands", "config", "metrics", "cdr")


class CodecError(ValueError):
    """A message that is not a decodable Sentiric record."""


@dataclass(frozen=True, slots=True)
class _WriterSchema:
    name: str
    fingerprint: bytes
    parsed: dict[str, Any]


def schema_fingerprint(schema: dict[str, Any]) -> bytes:
    """CRC-64-AVRO of the schema's Parsing Canonical Form, as the 8 little-endian bytes on the wire."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def _parse_record(raw: dict[str, Any]) -> dict[str, Any]:
    """fastavro's parsed form of a record schema (``parse_schema`` is typed for any schema: a name, a
    union list or a dict; a record's is always the dict)."""
    return cast(dict[str, Any], parse_schema(raw))


class Codec:
    """Encodes models to single-object bytes and decodes any known writer version back to models."""

    def __init__(self, current: Iterable[dict[str, Any]], history: Iterable[dict[str, Any]] = ()) -> None:
        by_name = {m.SCHEMA_NAME: m for m in models.ALL_MODELS}
        self._model_by_name: dict[str, type[Any]] = {}
        self._reader_by_name: dict[str, dict[str, Any]] = {}
        self._writer_by_model: dict[type[Any], _WriterSchema] = {}
        self._writers: dict[bytes, _WriterSchema] = {}
        for raw in current:
            full = f"{raw['namespace']}.{raw['name']}"
            parsed = _parse_record(raw)
            ws = _WriterSchema(full, schema_fingerprint(raw), parsed)
            model = by_name[full]
            self._model_by_name[full] = model
            self._reader_by_name[full] = parsed
            self._writer_by_model[model] = ws
            self._writers[ws.fingerprint] = ws
        for raw in history:
            full = f"{raw['namespace']}.{raw['name']}"
            fp = schema_fingerprint(raw)
            self._writers.setdefault(fp, _WriterSchema(full, fp, _parse_record(raw)))

    @classmethod
    def from_directory(cls, root: Path = HERE) -> Codec:
        current = [json.loads(p.read_text()) for f in FAMILIES for p in sorted((root / f).glob("*.avsc"))]
        history = [json.loads(p.read_text()) for p in sorted((root / "history").rglob("*.avsc"))]
        return cls(current, history)

    def fingerprint_of(self, model: type[Any]) -> bytes:
        return self._writer_by_model[model].fingerprint

    def known_fingerprints(self) -> frozenset[bytes]:
        return frozenset(self._writers)

    def encode(self, record: Any) -> bytes:
        try:
            ws = self._writer_by_model[type(record)]
        except KeyError:
            raise CodecError(f"not a Sentiric record: {type(record).__name__}") from None
        buf = io.BytesIO()
        buf.write(MARKER)
        buf.write(ws.fingerprint)
        schemaless_writer(buf, ws.parsed, record.to_record())
        return buf.getvalue()

    def decode(self, data: bytes) -> Any:
        if len(data) < HEADER_LENGTH:
            raise CodecError(f"message of {len(data)} bytes is shorter than the {HEADER_LENGTH}-byte header")
        if data[:2] != MARKER:
            raise CodecError(f"bad single-object marker {data[:2].hex()} (expected c301)")
        fp = bytes(data[2:HEADER_LENGTH])
        ws = self._writers.get(fp)
        if ws is None:
            raise CodecError(f"unknown schema fingerprint {fp.hex()}")
        reader = self._reader_by_name.get(ws.name)
        if reader is None:
            raise CodecError(f"schema {ws.name} is no longer part of the contract")
        body = io.BytesIO(data[HEADER_LENGTH:])
        try:
            record = schemaless_reader(body, ws.parsed, reader if reader is not ws.parsed else None)
        except Exception as exc:  # fastavro raises EOFError, ValueError, UnicodeDecodeError, ...
            raise CodecError(f"corrupt {ws.name} body: {type(exc).__name__}: {exc}") from None
        if body.tell() != len(data) - HEADER_LENGTH:
            raise CodecError(
                f"corrupt {ws.name} body: {len(data) - HEADER_LENGTH - body.tell()} trailing bytes"
            )
        try:
            return self._model_by_name[ws.name].from_record(record)
        except (TypeError, ValueError) as exc:
            raise CodecError(f"corrupt {ws.name} body: {exc}") from None


_default: Codec | None = None


def default_codec() -> Codec:
    global _default
    if _default is None:
        _default = Codec.from_directory()
    return _default


def encode(record: Any) -> bytes:
    return default_codec().encode(record)


def decode(data: bytes) -> Any:
    return default_codec().decode(data)


def type_name(record: Any) -> str:
    """Short type name, e.g. `CallEnded`."""
    return type(record).__name__


def to_json_dict(record: Any, *, include_audio: bool = True) -> dict[str, Any]:
    """A JSON-ready dict: UUIDs as text, times as ISO 8601, bytes as base64 (or their length)."""
    out: dict[str, Any] = {"type": type_name(record)}
    for key, value in record.to_record().items():
        if isinstance(value, UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, bytes):
            if not include_audio:
                out[f"{key}_bytes"] = len(value)
                continue
            value = base64.b64encode(value).decode("ascii")
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out
