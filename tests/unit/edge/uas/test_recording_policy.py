"""The recording policy (facts in, actions out) and the retention sweep's choice of files."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from edge.uas.dialplan import Plan
from edge.uas.recording_policy import Record, RecordingPolicy, expired
from schemas import models as m
from streams.dialog.script import CallScript

RECORDED = Plan("rec", "*", "agent", record=True, record_format="mp3", record_retention_days=30)
PLAIN = Plan("plain", "*", "agent")
NOW = datetime(2026, 12, 5, 21, 0, tzinfo=UTC)


def test_a_recorded_plan_records_once_from_the_ack() -> None:
    policy, s = RecordingPolicy({"rec": RECORDED, "plain": PLAIN}.get), CallScript()
    assert policy.observe(s.fact(m.DialplanResolved, dialplan_id="rec"), NOW) == []
    (rec,) = policy.observe(s.fact(m.CallEstablished), NOW)
    assert isinstance(rec, Record) and rec.format == "mp3"
    assert rec.relative_path == f"policy/retain-30d/2026-12-05/{s.call_id}.mp3"
    assert policy.observe(s.fact(m.CallEstablished), NOW) == []
    t = CallScript()
    policy.observe(t.fact(m.DialplanResolved, dialplan_id="plain"), NOW)
    assert policy.observe(t.fact(m.CallEstablished), NOW) == []
    u = CallScript()
    policy.observe(u.fact(m.DialplanResolved, dialplan_id="rec"), NOW)
    policy.observe(u.fact(m.CallEnded), NOW)  # ended before the ACK: nothing to record
    assert policy.calls == {}


def test_expired_files_are_those_older_than_their_directory_allows(tmp_path: Path) -> None:
    now = 1_000_000_000.0
    old7 = tmp_path / "policy/retain-7d/2026-11-01/a.wav"
    new7 = tmp_path / "policy/retain-7d/2026-12-04/b.wav"
    kept = tmp_path / "policy/retain-0d/2020-01-01/c.wav"
    other = tmp_path / "operator-x.wav"
    for path, age_days in ((old7, 8), (new7, 1), (kept, 4000), (other, 4000)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
        os.utime(path, (now - age_days * 86400, now - age_days * 86400))
    assert list(expired(tmp_path, now)) == [old7]
    assert list(expired(tmp_path / "none", now)) == []
