"""Golden calls as files: exported, read back equal, stable byte for byte, bad files a clear error."""

import json

import pytest

from projections.golden import GoldenError, export_call, golden_calls, load_call, read_wav
from schemas import models as m
from streams.dialog.script import CallScript


def a_call() -> list:
    s = CallScript("call-g")
    pcm = bytes(range(256)) * 4
    return [
        *s.setup(),
        s.established(),
        s.fact(m.UtteranceCaptured, utterance_id="u/1", pcm=pcm, sample_rate=8000),
        s.transcribed("u/1", "opening hours"),
        s.replied("u/1", "nine to six"),
        s.synthesized("u/1:reply", "nine to six"),
        s.ended(),
    ]


def test_round_trip(tmp_path):
    facts = a_call()
    call_dir = export_call(facts, tmp_path)
    assert golden_calls(tmp_path) == [call_dir]
    wav = (call_dir / "utterance-001.wav").read_bytes()
    assert read_wav(wav) == (facts[5].pcm, 8000)
    back = load_call(call_dir)
    synthesized = next(i for i, f in enumerate(facts) if isinstance(f, m.SpeechSynthesized))
    for i, (a, b) in enumerate(zip(facts, back, strict=True)):
        if i == synthesized:  # the agent's audio is left out (re-made by TTS)
            assert b.pcm == b"" and b.text == a.text
        else:
            assert a == b


def test_export_is_stable(tmp_path):
    a = export_call(a_call(), tmp_path / "a")
    b = export_call(a_call(), tmp_path / "b")
    for name in ("facts.jsonl", "utterance-001.wav"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    line = json.loads((a / "facts.jsonl").read_text().splitlines()[5])
    assert line["pcm"] == {"$wav": "utterance-001.wav"}


def test_a_broken_file_names_its_line(tmp_path):
    call_dir = export_call(a_call(), tmp_path)
    lines = (call_dir / "facts.jsonl").read_text().splitlines()
    lines[2] = lines[2].replace('"type": "MediaPortAllocated"', '"type": "NoSuchFact"')
    (call_dir / "facts.jsonl").write_text("\n".join(lines))
    with pytest.raises(GoldenError, match=r"facts.jsonl:3: unknown type"):
        load_call(call_dir)
    (call_dir / "facts.jsonl").write_text("{not json\n")
    with pytest.raises(GoldenError, match=r"facts.jsonl:1:"):
        load_call(call_dir)


def test_a_missing_directory(tmp_path):
    with pytest.raises(GoldenError, match="No such file"):
        load_call(tmp_path / "nope")


@pytest.mark.parametrize("call_id", ["", ".", "..", "../escape", "a/b", "a\\b", "nul\x00", "line\nbreak"])
def test_a_call_id_that_is_not_one_path_component_is_refused(tmp_path, call_id):
    facts = [f.__class__(**{**f.to_record(), "call_id": call_id}) for f in a_call()[:2]]
    with pytest.raises(GoldenError, match="cannot name a directory"):
        export_call(facts, tmp_path / "golden")
    assert not (tmp_path / "golden").exists() or not any((tmp_path / "golden").iterdir())
