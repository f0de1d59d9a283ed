"""``bench/fuzz_edge.py --quick`` against a live edge (its own process, a private local Kafka, a private
network namespace): the campaign must keep working — every phase sends what it says, the edge answers
every probe and every real call, and the exit status agrees with what it found.

The full campaign (a million SIP messages) is a bench script, not part of the suite. The short run
must find nothing: no crash (an ERROR record with a traceback, a last-resort handler, a dead edge), no
unanswered probe, no invalid answer — the findings of the first full run (bench/fuzz_findings/) are
fixed, and a new one fails this test with its signature in the message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_quick_campaign_against_a_live_edge(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "fuzz_edge.py"),
            "--quick",
            "--seed",
            "11",
            "--no-triage",
            "--json",
            str(summary_path),
            "--findings",
            str(tmp_path / "findings"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert summary_path.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    s = json.loads(summary_path.read_text())
    assert "fuzz campaign summary" in proc.stdout
    assert s["sip"]["sent"] == 3000 and s["sip"]["by_kind"].get("tcp") == 300
    assert s["generator_errors"] == []
    assert s["sip"]["answers_to_responses"] == 0  # a UAS never answers a response
    assert s["sip"]["syncs_lost"] == 0
    assert s["rtp"]["sent"] == 2000 and s["rtp"]["calls"] == 3 and s["rtp"]["bye"] == [200, 200, 200]
    assert s["ws"]["frames"] == 300 and s["ws"]["refused"] is None and s["ws"]["connections"] > 1
    assert s["edge_alive"] is True
    assert s["probes"]["sent"] > 10 and s["probes"]["unanswered"] == 0
    assert s["probes"]["answered"] == s["probes"]["sent"]
    assert s["rss_mib"]["before"] > 0 and s["rss_mib"]["after"] > 0
    assert s["crashes"] == 0 and s["crash_signatures"] == {}, s["crash_signatures"]
    assert s["sip"]["invalid_responses"] == 0, s["sip"]["invalid_by_problem"]
    assert proc.returncode == 0, proc.stdout[-3000:]
