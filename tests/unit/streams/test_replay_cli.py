"""The replay command shell without a log: call selection, times, engine choice, `replay check`."""

import argparse
import asyncio
import dataclasses
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from schemas import models as m
from sentiric.settings import Settings
from streams.dialog.script import CallScript
from streams.engines.errors import EngineError
from streams.engines.knowledge import SAMPLE_PATH, KnowledgeEngine, load_knowledge
from streams.replay_cli import build_engines, build_stt, check_cmd, parse_time, select_calls
from streams.replay_golden import export_call


def test_parse_time_naive_is_utc():
    assert parse_time("2026-12-05") == datetime(2026, 12, 5, tzinfo=UTC)
    assert parse_time("2026-12-05T10:00:00+01:00").utcoffset() == timedelta(hours=1)
    with pytest.raises(argparse.ArgumentTypeError, match="not an ISO 8601"):
        parse_time("yesterday")


def invite(call_id: str, at: datetime, dialplan: str) -> list:
    s = CallScript(call_id)
    first = s.fact(m.CallInviteReceived)
    return [dataclasses.replace(first, occurred_at=at), s.fact(m.DialplanResolved, dialplan_id=dialplan)]


def test_select_calls_by_time_and_dialplan():
    day = datetime(2026, 12, 5, tzinfo=UTC)
    facts = [
        *invite("a", day - timedelta(minutes=1), "sales"),
        *invite("b", day + timedelta(hours=1), "sales"),
        *invite("c", day + timedelta(hours=2), "support"),
        *invite("d", day + timedelta(days=1), "sales"),
    ]
    assert select_calls(facts, day, day + timedelta(days=1), None) == ["b", "c"]
    assert select_calls(facts, day, None, "sales") == ["b", "d"]
    assert select_calls(facts, None, None, None) == ["a", "b", "c", "d"]


def test_engine_choice_and_its_errors():
    settings = Settings()
    knowledge = load_knowledge()
    assert build_stt(settings, "recorded", knowledge) is None
    with pytest.raises(EngineError, match="whisper model 'large' is not available"):
        build_stt(settings, "whisper/large", knowledge)
    with pytest.raises(EngineError, match="unknown stt_engine 'nope'"):
        build_stt(settings, "nope", knowledge)
    engines = build_engines(settings, "recorded", "knowledge", knowledge)
    assert engines.describe()["stt"] == "recorded" and not engines.by_decision
    with pytest.raises(EngineError, match="dialog_engine openai needs llm_url"):
        build_engines(settings, "recorded", "openai", knowledge)


def golden(tmp_path):
    s = CallScript("call-g")
    text = "what are your opening hours"
    answer = KnowledgeEngine().reply(text, [], load_knowledge())
    replied = s.replied("u1", answer.text, intent=answer.intent or "")
    facts = [*s.setup(), s.established(), s.captured("u1"), s.transcribed("u1", text),
             dataclasses.replace(replied, engine="knowledge-base"), s.ended()]  # fmt: skip
    export_call(facts, tmp_path / "golden")
    return tmp_path / "golden"


def check(directory, knowledge=None, actions=None) -> tuple[int, str]:
    args = argparse.Namespace(
        dir=directory, stt="recorded", dialog=None, knowledge=knowledge, actions=actions, report=None
    )
    out = io.StringIO()
    return asyncio.run(check_cmd(Settings(), args, out)), out.getvalue()


def test_check_passes_then_fails_after_a_knowledge_change(tmp_path):
    directory = golden(tmp_path)
    code, out = check(directory)
    assert code == 0 and "OK: 1 golden calls answer as recorded" in out, out
    data = json.loads(SAMPLE_PATH.read_text())
    data["entries"][0]["answer"] = "Always open."
    (tmp_path / "k.json").write_text(json.dumps(data))
    code, out = check(directory, tmp_path / "k.json")
    assert code == 1 and "FAILED: a decision, reply or action changed in 1 golden calls: call-g" in out, out
    assert "reply: " in out and "'Always open.'" in out


def test_check_refuses_what_it_cannot_read(tmp_path, capsys):
    assert check(tmp_path / "empty")[0] == 2
    assert "no golden calls" in capsys.readouterr().err
    directory = golden(tmp_path)
    (directory / "call-g" / "facts.jsonl").write_text("{broken\n")
    assert check(directory)[0] == 2
    assert "facts.jsonl:1:" in capsys.readouterr().err
    assert check(golden(tmp_path / "again"), tmp_path / "missing.json")[0] == 2
    assert "cannot read knowledge file" in capsys.readouterr().err


def test_check_a_golden_booking_call_with_its_actions_from_a_file(tmp_path):
    from projections.api.admin_actions import action_out
    from tests.unit.streams.test_replay_actions import BOOK, Endpoint, booking_call

    facts = asyncio.run(booking_call(Endpoint()))
    export_call(facts, tmp_path / "golden")
    actions = tmp_path / "actions.json"
    actions.write_text(json.dumps([action_out(BOOK)]))  # as GET /api/admin/actions lists it
    code, out = check(tmp_path / "golden", actions=actions)
    assert code == 0 and "OK: 1 golden calls answer as recorded" in out, out
    code, out = check(tmp_path / "golden")  # without the action the booking turns change
    assert code == 1 and "action 1 re-run:   (none)" in out, out
    (tmp_path / "bad.json").write_text('{"not": "a list"}')
    assert check(tmp_path / "golden", actions=tmp_path / "bad.json")[0] == 2
