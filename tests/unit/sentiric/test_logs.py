import json

import structlog

from sentiric.logs import bind_call, configure, unbind_call
from sentiric.settings import Settings


def test_production_logs_are_json_with_call_ids(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    configure(Settings(env="production"), service="sentiric-edge")
    bind_call("call-1", "trace-9")
    try:
        structlog.get_logger("t").info("call answered", codec="PCMU")
    finally:
        unbind_call()
    structlog.get_logger("t").info("no call here")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["message"] == "call answered" and first["service"] == "sentiric-edge"
    assert first["level"] == "info" and first["call_id"] == "call-1" and first["trace_id"] == "trace-9"
    assert "timestamp" in first and first["codec"] == "PCMU"
    assert "call_id" not in second


def test_development_logs_are_readable_lines(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    configure(Settings(env="development"), service="sentiric-api")
    structlog.get_logger("t").warning("hello", port=1)
    err = capsys.readouterr().err
    assert "hello" in err and "port=1" in err
    assert not err.lstrip().startswith("{")
