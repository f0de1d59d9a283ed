"""`sentiric replay rerun`, `replay golden add` and `replay check` on a call made through the platform.

One private broker for the module; the edge in this process, a streams worker subprocess with the
embedded engines (Whisper base, the sample knowledge base, hibari), sipp as the caller asking for the
opening hours (the e2e harness, `tests/integration/e2e/stack.py`). Once the call has ended, edge and
worker are stopped and the replay commands run as a user runs them, as subprocesses reading the log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from edge.media.codecs.g711 import ulaw_decode
from edge.media.codecs.resample import resample
from schemas import models as m
from streams.engines.knowledge import SAMPLE_PATH
from tests.integration.e2e.stack import (
    QUESTION_PCAP,
    ROOT,
    TSHARK,
    CallLog,
    Worker,
    caller_scenario,
    is_,
    served,
    settled,
    start_edge,
)
from tests.support.sipp import run_sipp

QUESTION_MS = 3600  # the pcap: 0.2 s silence, 1.86 s question, 1.5 s silence
NEW_HOURS = "We are open every day from eight until eight."


@dataclass(frozen=True)
class Recorded:
    bootstrap: str
    call_id: str
    cache: Path
    home: Path
    transcript: str
    reply: str
    utterance: m.UtteranceCaptured


@pytest.fixture(scope="module")
async def recorded(
    fresh_kafka: str, tmp_path_factory: pytest.TempPathFactory, machine_cache_dir: Path
) -> AsyncIterator[Recorded]:
    home = tmp_path_factory.mktemp("replay")
    edge = await start_edge(fresh_kafka, home / "edge", require_worker=True)
    worker = Worker(fresh_kafka, home / "worker", machine_cache_dir)
    log = CallLog(fresh_kafka, edge.settings.node_id, alive=worker.alive)
    try:
        worker.start()
        await log.start()
        await worker.ready()
        await served(edge)
        scenario = caller_scenario(home, QUESTION_PCAP, before_ms=5000, pcap_ms=QUESTION_MS, after_ms=15000)
        await settled(edge)
        result = await run_sipp(edge.sip_port, home, scenario=scenario, timeout_s=90)
        assert result.returncode == 0, result.describe()
        invite = await log.wait_for(is_(m.CallInviteReceived, source=edge.settings.node_id), "INVITE")
        call_id = invite.record.call_id
        await log.wait_for(is_(m.MediaPortReleased, call_id=call_id), "MediaPortReleased")
        facts = [r.record for r in log.of(call_id)]
    finally:
        await log.stop()
        await edge.stop()
        worker.stop()
    heard = next(
        f for f in facts if isinstance(f, m.UtteranceTranscribed) and f.source == "stt" and f.is_final
    )
    answer = next(f for f in facts if isinstance(f, m.AgentReplied) and f.source == "dialog-engine")
    assert answer.intent == "hours", (heard.text, answer)
    captured = next(f for f in facts if isinstance(f, m.UtteranceCaptured))
    yield Recorded(fresh_kafka, call_id, machine_cache_dir, home, heard.text, answer.text, captured)


async def replay(rec: Recorded, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")}
    env |= {
        "SENTIRIC_KAFKA_BOOTSTRAP": rec.bootstrap,
        "SENTIRIC_CACHE_HOME": str(rec.cache),
        "SENTIRIC_HOME": str(rec.home / "cli"),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sentiric.cli", "replay", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 300)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


def changed_knowledge(path: Path) -> Path:
    data = json.loads(SAMPLE_PATH.read_text())
    for entry in data["entries"]:
        if entry["entity_id"] == "hours":
            entry["answer"] = NEW_HOURS
    path.write_text(json.dumps(data))
    return path


async def test_the_same_engines_give_no_differences(recorded: Recorded, tmp_path: Path) -> None:
    report = tmp_path / "same.json"
    code, out = await replay(recorded, "rerun", recorded.call_id, "--stt", "whisper", "--report", str(report))
    assert code == 0, out
    assert "1 calls, 1 turns re-run: no differences (WER 0.0%)" in out, out
    data = json.loads(report.read_text())
    assert data["summary"]["turns"] == 1 and data["summary"]["turns_changed"] == 0
    (turn,) = data["calls"][0]["turns"]
    assert turn["rerun"]["stt_engine"] == "faster-whisper-base" and turn["rerun"]["stt_ms"] > 0
    assert turn["rerun"]["intent"] == "hours"
    # the knowledge the live workers use (read from the config topic) and the recorded transcripts
    code, out = await replay(recorded, "rerun", recorded.call_id, "--stt", "recorded")
    assert code == 0 and "no differences" in out, out


async def test_a_changed_knowledge_entry_shows_exactly_the_changed_reply(
    recorded: Recorded, tmp_path: Path
) -> None:
    knowledge = changed_knowledge(tmp_path / "knowledge.json")
    report = tmp_path / "changed.html"
    code, out = await replay(
        recorded, "rerun", recorded.call_id, "--stt", "recorded", "--knowledge", str(knowledge),
        "--report", str(report),
    )  # fmt: skip
    assert code == 0, out
    assert "1 turns changed in 1 calls (0 transcripts, 0 decisions, 1 replies)" in out, out
    assert f"reply: {recorded.reply!r} → {NEW_HOURS!r}" in out, out
    page = report.read_text()
    assert NEW_HOURS in page and "<table>" in page


async def test_pocketsphinx_instead_of_whisper_scores_the_transcripts(
    recorded: Recorded, tmp_path: Path
) -> None:
    report = tmp_path / "sphinx.json"
    code, out = await replay(
        recorded, "rerun", recorded.call_id, "--stt", "pocketsphinx", "--report", str(report)
    )
    assert code == 0, out
    (turn,) = json.loads(report.read_text())["calls"][0]["turns"]
    assert turn["recorded"]["stt_engine"] == "faster-whisper-base"
    assert turn["rerun"]["stt_engine"] == "pocketsphinx-grammar"
    assert isinstance(turn["wer"], float)
    print(f"whisper {recorded.transcript!r}, sphinx {turn['rerun']['transcript']!r}: WER {turn['wer']:.2f}")
    if turn["transcript_changed"]:
        assert f"transcript (WER {turn['wer']:.1%})" in out, out
    else:  # the grammar holds the question word for word: the same words, WER 0
        assert turn["wer"] == 0.0
    # A knowledge base without that phrasing: the grammar can only hear another one, scored by WER.
    data = json.loads(SAMPLE_PATH.read_text())
    hours = next(e for e in data["entries"] if e["entity_id"] == "hours")
    hours["phrasings"] = ["when are you open", "what time do you open"]
    narrow = tmp_path / "narrow.json"
    narrow.write_text(json.dumps(data))
    code, out = await replay(
        recorded, "rerun", recorded.call_id, "--stt", "pocketsphinx", "--knowledge", str(narrow),
        "--report", str(report),
    )  # fmt: skip
    assert code == 0, out
    (turn,) = json.loads(report.read_text())["calls"][0]["turns"]
    assert turn["transcript_changed"] and 0 < turn["wer"] <= 1.0, turn
    assert f"transcript (WER {turn['wer']:.1%}): {recorded.transcript!r} → " in out, out
    print(f"narrow grammar: {turn['rerun']['transcript']!r}, WER {turn['wer']:.2f}")


async def test_golden_check_passes_unchanged_and_fails_after_a_knowledge_change(
    recorded: Recorded, tmp_path: Path
) -> None:
    golden = tmp_path / "golden"
    code, out = await replay(recorded, "golden", "add", recorded.call_id, "--dir", str(golden))
    assert code == 0, out
    call_dir = golden / recorded.call_id
    assert (call_dir / "facts.jsonl").exists() and (call_dir / "utterance-001.wav").exists()
    # no log from here on: a broker address nothing listens on
    offline = dataclasses.replace(recorded, bootstrap="127.0.0.1:9")
    code, out = await replay(offline, "check", str(golden), "--stt", "whisper")
    assert code == 0, out
    assert "OK: 1 golden calls answer as recorded" in out
    knowledge = changed_knowledge(tmp_path / "knowledge.json")
    code, out = await replay(offline, "check", str(golden), "--stt", "whisper", "--knowledge", str(knowledge))
    assert code == 1, out
    assert f"FAILED: a decision, reply or action changed in 1 golden calls: {recorded.call_id}" in out


def tshark(*args: str) -> list[str]:
    result = subprocess.run([TSHARK, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line.strip()]


async def test_export_writes_a_pcap_tshark_decodes_and_a_wav(recorded: Recorded, tmp_path: Path) -> None:
    code, out = await replay(recorded, "export", recorded.call_id, "--out", str(tmp_path))
    assert code == 0, out
    pcap, wav_path = tmp_path / f"{recorded.call_id}.pcap", tmp_path / f"{recorded.call_id}.wav"
    # SIP: the dialog as the edge recorded it (SipMessageObserved), each packet labelled so, in order
    rows = tshark("-r", str(pcap), "-Y", "sip", "-T", "fields", "-e", "sip.Method", "-e", "sip.Status-Code",
                  "-e", "sip.CSeq.method", "-e", "frame.comment")  # fmt: skip
    sip = [r.split("\t") for r in rows]
    assert all("SIP recorded (SipMessageObserved #" in r[3] for r in sip), rows
    dialog = [r[0] or f"{r[1]} {r[2]}" for r in sip if r[1] not in ("100", "180")]
    assert list(dict.fromkeys(dialog)) == ["INVITE", "200 INVITE", "ACK", "BYE", "200 BYE"], rows
    assert "(SIP recorded, RTP rebuilt from recorded audio)" in out, out
    # RTP: the SDP in the capture sets the streams up; tshark decodes them as PCMU
    streams = tshark("-r", str(pcap), "-q", "-z", "rtp,streams")
    assert sum(" g711U " in line for line in streams) == 2, streams
    rows = tshark("-r", str(pcap), "-Y", "rtp", "-T", "fields", "-e", "udp.dstport", "-e", "rtp.seq",
                  "-e", "rtp.payload", "-e", "frame.comment")  # fmt: skip
    fields = [r.split("\t") for r in rows]
    to_edge = [f for f in fields if "RTP rebuilt from UtteranceCaptured" in f[3]]
    to_caller = [f for f in fields if "RTP rebuilt from SpeechSynthesized" in f[3]]
    assert len(to_edge) + len(to_caller) == len(fields) and to_edge and to_caller
    assert len({f[0] for f in to_edge}) == 1 and {f[0] for f in to_edge}.isdisjoint(f[0] for f in to_caller)
    heard = np.concatenate([ulaw_decode(bytes.fromhex(r[2].replace(":", ""))) for r in to_edge]).astype(float)
    u = recorded.utterance
    stored = np.frombuffer(u.pcm, dtype="<i2")
    if u.sample_rate != 8000:
        stored = resample(stored.astype(np.int16), u.sample_rate, 8000)
    n = min(heard.size, stored.size)
    assert abs(heard.size - stored.size) <= 160
    corr = np.corrcoef(heard[:n], stored[:n].astype(float))[0, 1]
    assert corr > 0.99, corr  # the stored utterance, through µ-law
    with wave.open(str(wav_path)) as w:
        assert (w.getnchannels(), w.getframerate()) == (2, 8000)
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    assert np.abs(frames[:, 0]).max() > 1000 and np.abs(frames[:, 1]).max() > 1000  # both sides spoke
    assert b"inline:" not in pcap.read_bytes().replace(b"inline:[redacted]", b"")


async def test_a_day_of_calls_is_selected_by_time_and_dialplan(recorded: Recorded) -> None:
    today = datetime.now(UTC).date().isoformat()
    code, out = await replay(
        recorded, "rerun", "--since", today, "--dialplan", "default", "--stt", "recorded"
    )
    assert code == 0, out
    assert f"call {recorded.call_id}: 1 turns, 0 changed" in out, out
    assert "1 calls, 1 turns re-run: no differences" in out, out
    later = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    code, out = await replay(recorded, "rerun", "--since", later, "--stt", "recorded")
    assert code == 2 and "(none selected)" in out, out
    code, out = await replay(recorded, "rerun", "--since", today, "--dialplan", "no-such-plan")
    assert code == 2, out
