"""Generate `schemas/models.py` — typed, frozen Python records — from the `.avsc` files.

The `.avsc` files are the reviewed artefacts; the models are derived from them so the two can never
disagree. Run `python -m schemas.codegen` after changing a schema; a unit test fails when
`models.py` is stale.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
FAMILIES = ("events", "commands", "config", "metrics", "cdr")
FAMILY_ALIASES = {
    "events": "Fact",
    "commands": "Command",
    "config": "ConfigRecord",
    "metrics": "MetricRecord",
    "cdr": "CdrRecord",
}
PRIMITIVES = {
    "string": "str",
    "int": "int",
    "long": "int",
    "boolean": "bool",
    "double": "float",
    "float": "float",
    "bytes": "bytes",
}


def load_schemas() -> dict[str, list[dict[str, Any]]]:
    """The current schemas, per family, sorted by record name."""
    return {
        family: [json.loads(p.read_text()) for p in sorted((HERE / family).glob("*.avsc"))]
        for family in FAMILIES
    }


def _py_type(avro: Any) -> tuple[str, str | None]:
    """Python annotation for an Avro type, and the conversion applied on decode (or None)."""
    if isinstance(avro, list):
        inner = [t for t in avro if t != "null"]
        if len(inner) != 1:
            raise ValueError(f"unsupported union {avro!r}")
        ann, conv = _py_type(inner[0])
        return f"{ann} | None", conv
    if isinstance(avro, dict):
        logical = avro.get("logicalType")
        if logical == "uuid":
            return "UUID", None
        if logical == "timestamp-micros":
            return "datetime", None
        if avro["type"] == "array":
            ann, _ = _py_type(avro["items"])
            return f"tuple[{ann}, ...]", "tuple"
        return _py_type(avro["type"])
    return PRIMITIVES[avro], None


def _default_literal(value: Any) -> str:
    return repr(value) if not isinstance(value, list) else "()"


def render(schemas: dict[str, list[dict[str, Any]]]) -> str:
    out = [
        '"""Typed records of the Sentiric contract.\n',
        "GENERATED from the .avsc files by `python -m schemas.codegen`; do not edit.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from dataclasses import dataclass",
        "from datetime import datetime",
        "from typing import Any, ClassVar",
        "from uuid import UUID",
        "",
    ]
    names: dict[str, list[str]] = {}
    for family, records in schemas.items():
        names[family] = []
        for rec in records:
            name = rec["name"]
            names[family].append(name)
            out += ["", "@dataclass(frozen=True, slots=True, kw_only=True)", f"class {name}:"]
            out.append(f'    """{rec["doc"]}"""')
            out.append("")
            out.append(f'    SCHEMA_NAME: ClassVar[str] = "{rec["namespace"]}.{name}"')
            out.append(f'    FAMILY: ClassVar[str] = "{family}"')
            convs: list[tuple[str, str]] = []
            for f in rec["fields"]:
                ann, conv = _py_type(f["type"])
                if conv:
                    convs.append((f["name"], conv))
                default = f" = {_default_literal(f['default'])}" if "default" in f else ""
                out.append(f"    {f['name']}: {ann}{default}")
            out.append("")
            out.append("    def to_record(self) -> dict[str, Any]:")
            items = ", ".join(f'"{f["name"]}": self.{f["name"]}' for f in rec["fields"])
            out.append(f"        return {{{items}}}")
            out.append("")
            out.append("    @classmethod")
            out.append(f"    def from_record(cls, record: dict[str, Any]) -> {name}:")
            for field_name, conv in convs:
                out.append(f'        record["{field_name}"] = {conv}(record["{field_name}"])')
            out.append("        return cls(**record)")
            out.append("")
    for family, family_names in names.items():
        alias = FAMILY_ALIASES[family]
        out.append("")
        out.append(f"{alias} = " + " | ".join(family_names))
    out.append("")
    out.append("ALL_MODELS: tuple[type[Any], ...] = (")
    for family_names in names.values():
        for n in family_names:
            out.append(f"    {n},")
    out.append(")")
    out.append("")
    return "\n".join(out)


def formatted(source: str) -> str:
    """`source` as `ruff format` writes it, so the generated file passes the lint step unchanged."""
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), "format", "--stdin-filename", str(HERE / "models.py"), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def main() -> int:
    target = HERE / "models.py"
    target.write_text(formatted(render(load_schemas())))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
