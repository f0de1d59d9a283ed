"""Deterministic sample instances of every record type, built from the schemas.

Used for the golden fixtures and for tests that push every type through the real broker.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import models
from schemas.codec import FAMILIES, HERE

SAMPLE_TIME = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _schema_of(model: type[Any]) -> dict[str, Any]:
    family = model.FAMILY
    assert family in FAMILIES
    schema: dict[str, Any] = json.loads((HERE / family / f"{model.__name__}.avsc").read_text())
    return schema


def _value(name: str, avro: Any, i: int) -> Any:
    if isinstance(avro, list):  # ["null", T]: sample the non-null branch
        return _value(name, next(t for t in avro if t != "null"), i)
    if isinstance(avro, dict):
        logical = avro.get("logicalType")
        if logical == "uuid":
            return uuid.UUID(int=0x5E171C << 64 | i)
        if logical == "timestamp-micros":
            return SAMPLE_TIME + timedelta(milliseconds=i)
        if avro["type"] == "array":
            if avro["items"] == "string":
                return (f"{name}-a", f"{name}-b")
            return (_value(name, avro["items"], i), _value(name, avro["items"], i + 1))
        return _value(name, avro["type"], i)
    return {
        "string": f"{name}-{i}",
        "int": 100 + i,
        "long": 10_000_000_000 + i,
        "boolean": i % 2 == 0,
        "double": 1.5 + i,
        "bytes": bytes(range(i % 7, i % 7 + 32)),
    }[avro]


def sample(model: type[Any], call_id: str = "5e171c00-0000-4000-8000-000000000001", n: int = 1) -> Any:
    """The n-th deterministic instance of `model`."""
    fields: dict[str, Any] = {}
    for i, f in enumerate(_schema_of(model)["fields"]):
        fields[f["name"]] = _value(f["name"], f["type"], i + 1000 * n)
    if "call_id" in fields:
        fields["call_id"] = call_id
    if "seq" in fields:
        fields["seq"] = n
    return model(**fields)


def all_samples(call_id: str = "5e171c00-0000-4000-8000-000000000001") -> list[Any]:
    return [sample(m, call_id, n) for n, m in enumerate(models.ALL_MODELS, start=1)]
