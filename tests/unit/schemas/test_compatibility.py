"""The contract's compatibility gate: every stored fixture of every schema version decodes today.

A breaking schema change — removing a field without default, changing a type, renaming a record — makes
one of these fail. Also checks each frozen old schema against the current one in both directions.
"""

import io
import json
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from schemas import models
from schemas.codec import FAMILIES, HERE, MARKER, Codec, default_codec, schema_fingerprint
from schemas.fixtures import FIXTURES, fixture_path
from schemas.samples import sample

FIXTURE_FILES = sorted(FIXTURES.rglob("*.bin"))
HISTORY_FILES = sorted((HERE / "history").rglob("*.avsc"))
ENVELOPE = ["event_id", "call_id", "seq", "occurred_at", "source", "trace_id"]


def test_every_current_schema_has_a_golden_fixture():
    codec = default_codec()
    missing = [m.__name__ for m in models.ALL_MODELS if not fixture_path(m, codec.fingerprint_of(m)).exists()]
    assert missing == [], "run `python -m schemas.fixtures` and commit the new fixtures"


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_every_fixture_decodes_with_the_current_schemas(path: Path):
    record = default_codec().decode(path.read_bytes())
    assert type(record).__name__ == path.name.split(".")[0]
    expected = json.loads(path.with_suffix(".json").read_text())
    from schemas.codec import to_json_dict

    actual = to_json_dict(record)
    # Fields added since the fixture was written take their defaults; every old field keeps its value.
    assert {k: actual[k] for k in expected} == expected


def _check_both_ways(old: dict, new: dict) -> None:
    model = getattr(models, old["name"])
    record = sample(model).to_record()
    for writer, reader in ((new, old), (old, new)):
        w, r = parse_schema(writer), parse_schema(reader)
        buf = io.BytesIO()
        written = {f["name"] for f in writer["fields"]}
        schemaless_writer(buf, w, {k: v for k, v in record.items() if k in written})
        buf.seek(0)
        schemaless_reader(buf, w, r)


def test_frozen_versions_are_backward_and_forward_compatible():
    # schemas/history/ holds every released earlier version; empty until the first change ships.
    for path in HISTORY_FILES:
        old = json.loads(path.read_text())
        current_path = HERE / path.parent.name / f"{old['name']}.avsc"
        assert current_path.exists(), f"{old['name']} was removed from the contract"
        _check_both_ways(old, json.loads(current_path.read_text()))


def _current(name: str) -> dict:
    return json.loads((HERE / "events" / f"{name}.avsc").read_text())


def test_an_old_writer_version_decodes_into_todays_model_with_defaults():
    # Simulate yesterday's CallEnded, before `talk_ms` (which has a default) existed.
    new = _current("CallEnded")
    old = dict(new, fields=[f for f in new["fields"] if f["name"] != "talk_ms"])
    _check_both_ways(old, new)
    codec = Codec([json.loads(p.read_text()) for f in FAMILIES for p in (HERE / f).glob("*.avsc")], [old])
    record = sample(models.CallEnded).to_record()
    buf = io.BytesIO()
    buf.write(MARKER + schema_fingerprint(old))
    schemaless_writer(buf, parse_schema(old), {k: v for k, v in record.items() if k != "talk_ms"})
    decoded = codec.decode(buf.getvalue())
    assert decoded.talk_ms == 0 and decoded.reason == record["reason"]


def test_a_breaking_change_is_caught():
    new = _current("CallEnded")
    broken = dict(new, fields=[dict(f, type="int") if f["name"] == "reason" else f for f in new["fields"]])
    with pytest.raises(Exception):  # noqa: B017 - fastavro raises several types for resolution errors
        _check_both_ways(broken, new)


@pytest.mark.parametrize("family", FAMILIES)
def test_schema_files_follow_the_conventions(family: str):
    for path in sorted((HERE / family).glob("*.avsc")):
        schema = json.loads(path.read_text())
        assert schema["name"] == path.stem
        assert schema["namespace"] == f"sentiric.{family}"
        assert schema["doc"]
        names = [f["name"] for f in schema["fields"]]
        assert all(f.get("doc") for f in schema["fields"]), path.name
        if family in ("events", "commands"):
            assert names[: len(ENVELOPE)] == ENVELOPE, path.name


def test_design_names_every_fact_and_command():
    facts = {
        "CallInviteReceived",
        "DialplanResolved",
        "CallRejected",
        "MediaPortAllocated",
        "CallAnswered",
        "CallEstablished",
        "PlaybackStarted",
        "PlaybackFinished",
        "UtteranceCaptured",
        "UtteranceTranscribed",
        "AgentReplied",
        "SpeechSynthesized",
        "DtmfReceived",
        "MediaQualityReported",
        "RecordingFinished",
        "CallTransferred",
        "CallEnded",
        "MediaPortReleased",
        "CallCancelled",
    }
    commands = {"PlayAudio", "StopPlayback", "StartRecording", "StopRecording", "Hangup"}
    have = {m.__name__ for m in models.ALL_MODELS}
    assert facts <= have and commands <= have
