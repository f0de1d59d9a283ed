"""Golden fixtures: one encoded sample per record type and schema version, never rewritten.

`python -m schemas.fixtures` adds a fixture for every current schema version that has none. Old fixtures
stay forever: the compatibility test decodes every one of them with today's schemas, so a change that
breaks an old message fails CI. When a schema changes, copy its previous `.avsc` into
`schemas/history/<family>/` so its fixtures still name a known writer schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from schemas import models
from schemas.codec import HERE, default_codec, to_json_dict
from schemas.samples import sample

FIXTURES = HERE / "golden"


def fixture_path(model: type[Any], fingerprint: bytes) -> Path:
    family: str = model.FAMILY
    return FIXTURES / family / f"{model.__name__}.{fingerprint.hex()}.bin"


def write_missing() -> list[Path]:
    codec = default_codec()
    written = []
    for model in models.ALL_MODELS:
        path = fixture_path(model, codec.fingerprint_of(model))
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        record = sample(model)
        path.write_bytes(codec.encode(record))
        path.with_suffix(".json").write_text(
            json.dumps(to_json_dict(record), indent=2, sort_keys=True) + "\n"
        )
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_missing():
        print(f"wrote {p}")
    sys.exit(0)
