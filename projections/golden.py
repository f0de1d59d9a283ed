"""Golden calls as files a user commits (`sentiric replay golden add`, the dashboard's golden button
`POST /api/calls/{id}/golden`; read back by `sentiric replay check`).

Pure of the log and of the engines (facts in, files out), so both the replay commands in `streams/`
and the API in `projections/` use it.

Layout of a golden directory, one sub-directory per call::

    DIR/<call_id>/facts.jsonl          the call's facts in log order, one JSON object per line
    DIR/<call_id>/utterance-001.wav    the caller's audio of each UtteranceCaptured (mono 16-bit PCM)

A line is `schemas.codec.to_json_dict` of the fact (`type`, then its fields: UUIDs as text, times as
ISO 8601), with each bytes field replaced by a reference: `{"$wav": "utterance-001.wav"}` for a
caller's utterance, `{"$base64": …}` for small bytes (the INVITE as received), and `{"$omitted": N}`
for the agent's synthesized speech (N bytes; re-made by TTS, not needed to re-run a call, and the
bulk of a call's size). Lines are sorted-key JSON and WAV files are written byte for byte the same
for the same call, so exporting twice gives no diff in the user's repository.

Commands are left out: a re-run reads facts only. SRTP keys are never on the log, so never here.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import uuid
import wave
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from schemas import models as m
from schemas.codec import to_json_dict

FACTS: Final = "facts.jsonl"
_BY_NAME: Final = {cls.__name__: cls for cls in m.ALL_MODELS}


class GoldenError(ValueError):
    """A golden directory that cannot be read back: the file and what is wrong with it."""


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return buf.getvalue()


def read_wav(data: bytes) -> tuple[bytes, int]:
    """(PCM, sample rate) of a mono 16-bit WAV file."""
    with wave.open(io.BytesIO(data), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise GoldenError(f"not mono 16-bit PCM: {w.getnchannels()} channels, {w.getsampwidth()} bytes")
        return w.readframes(w.getnframes()), w.getframerate()


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: a `replay check` reading the directory meanwhile never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)


def call_dir_name(call_id: str) -> str:
    """The call's directory name: the call id itself, refused if it is not one plain path component (a
    call id is wire data; the export must never write outside its directory)."""
    if (
        not call_id
        or call_id in (".", "..")
        or len(call_id) > 200
        or any(c in call_id for c in "/\\\x00")
        or not call_id.isprintable()
    ):
        raise GoldenError(f"call id {call_id!r} cannot name a directory")
    return call_id


def export_call(facts: Sequence[Any], directory: Path) -> Path:
    """Write one call's facts (log order) under `directory/<call_id>/`; returns that directory."""
    if not facts:
        raise GoldenError("no facts to export")
    call_dir = directory / call_dir_name(str(facts[0].call_id))
    call_dir.mkdir(parents=True, exist_ok=True)
    for old in call_dir.glob("utterance-*.wav"):
        old.unlink()
    lines: list[str] = []
    n = 0
    for fact in facts:
        if isinstance(fact, m.Command):
            continue
        obj = to_json_dict(fact, include_audio=False)
        for name, value in fact.to_record().items():
            if not isinstance(value, bytes):
                continue
            del obj[f"{name}_bytes"]
            if isinstance(fact, m.UtteranceCaptured) and name == "pcm":
                n += 1
                filename = f"utterance-{n:03d}.wav"
                _write(call_dir / filename, wav_bytes(value, fact.sample_rate))
                obj[name] = {"$wav": filename}
            elif isinstance(fact, m.SpeechSynthesized):
                obj[name] = {"$omitted": len(value)}
            else:
                obj[name] = {"$base64": base64.b64encode(value).decode("ascii")}
        lines.append(json.dumps(obj, sort_keys=True, ensure_ascii=False))
    _write(call_dir / FACTS, ("\n".join(lines) + "\n").encode("utf-8"))
    return call_dir


def _restore(cls: type[Any], obj: dict[str, Any], call_dir: Path) -> Any:
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in obj:
            continue
        value, kind = obj[f.name], str(f.type)
        if isinstance(value, dict) and "$wav" in value:
            value, _rate = read_wav((call_dir / Path(value["$wav"]).name).read_bytes())
        elif isinstance(value, dict) and "$base64" in value:
            value = base64.b64decode(value["$base64"])
        elif isinstance(value, dict) and "$omitted" in value:
            value = b""
        elif value is not None and kind.startswith("UUID"):
            value = uuid.UUID(value)
        elif value is not None and kind.startswith("datetime"):
            value = datetime.fromisoformat(value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def load_call(call_dir: Path) -> list[Any]:
    """A golden call's facts, as models, in their recorded order."""
    path = call_dir / FACTS
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GoldenError(f"{path}: {exc.strerror}") from None
    out: list[Any] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            cls = _BY_NAME[obj["type"]]
            out.append(_restore(cls, obj, call_dir))
        except KeyError as exc:
            raise GoldenError(f"{path}:{number}: unknown type or missing field {exc}") from None
        except (ValueError, TypeError, OSError, wave.Error) as exc:
            raise GoldenError(f"{path}:{number}: {exc}") from None
    return out


def golden_calls(directory: Path) -> list[Path]:
    """The call directories of a golden directory (those with a facts file), by name."""
    return sorted(p.parent for p in directory.glob(f"*/{FACTS}"))
