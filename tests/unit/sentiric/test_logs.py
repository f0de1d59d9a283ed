import json
import logging

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


def test_stdlib_logging_goes_through_the_same_pipeline_with_the_bound_call_id(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    configure(Settings(env="production", log_level="INFO"), service="sentiric-edge")
    bind_call("call-7")
    try:
        logging.getLogger("edge.media.session").info("RTP from %s", "192.0.2.1")
        logging.getLogger("aiokafka").info("a library's chatter")  # libraries: WARNING and above
        logging.getLogger("aiokafka").warning("a library's warning")
    finally:
        unbind_call()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 2
    own, library = lines
    assert own["message"] == "RTP from 192.0.2.1" and own["logger"] == "edge.media.session"
    assert own["call_id"] == "call-7" and own["trace_id"] == "call-7"
    assert own["level"] == "info" and own["service"] == "sentiric-edge" and "timestamp" in own
    assert library["message"] == "a library's warning" and library["level"] == "warning"
    assert library["call_id"] == "call-7"


def test_a_stdlib_exception_is_one_json_line_with_its_traceback(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    configure(Settings(env="production"), service="sentiric-worker")
    try:
        raise ValueError("bad record")
    except ValueError:
        logging.getLogger("streams.agents.speech").exception("stt failed")
    (line,) = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["message"] == "stt failed" and "ValueError: bad record" in record["exception"]
