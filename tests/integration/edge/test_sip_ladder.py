"""The SIP ladder on the real broker: a sipp call's every message recorded as SipMessageObserved, in
order and with its direction, readable by `sentiric replay call`; a peer flooding its dialog with
OPTIONS and INFO stops at the per-call cap (one truncated marker) and is still served to the end."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from schemas.models import SipMessageObserved
from tests.support.sipp import run_sipp

from .conftest import StartEdge, metric, node_facts

ROOT = Path(__file__).resolve().parents[3]
TSHARK = shutil.which("tshark") or "tshark"  # installed on the CI box; a missing one fails, never skips

INVITE_TO_ACK = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uac_flood">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=sendrecv
    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
"""
IN_DIALOG = """  <send retrans="500"><![CDATA[
      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <recv response="200"/>
"""


def flood_scenario(path: Path, messages: int) -> Path:
    """INVITE, ACK, ``messages`` in-dialog OPTIONS and INFO (alternating), then BYE: a sipp scenario."""
    body = [INVITE_TO_ACK]
    for i in range(messages):
        body.append(IN_DIALOG.format(method="OPTIONS" if i % 2 == 0 else "INFO", cseq=2 + i))
    body.append(IN_DIALOG.format(method="BYE", cseq=2 + messages))
    path.write_text("".join(body) + "</scenario>\n")
    return path


def ladder(records: list[Any]) -> list[SipMessageObserved]:
    return [r for r in records if isinstance(r, SipMessageObserved)]


def rung(r: SipMessageObserved) -> str:
    """``in INVITE`` / ``out 200 INVITE``: the direction, the method or the status and its CSeq method."""
    text = r.raw.decode("latin-1")
    cseq = next(line for line in text.split("\r\n") if line.lower().startswith("cseq:")).split()[-1]
    first = r.first_line.split(" ")
    return f"{r.direction} {first[1]} {cseq}" if first[0] == "SIP/2.0" else f"{r.direction} {first[0]}"


async def replay(kafka: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sentiric.cli", "replay", *args, cwd=ROOT,
        env={**env, "SENTIRIC_KAFKA_BOOTSTRAP": kafka},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode(errors="replace")
    return out.decode()


async def test_a_sipp_call_records_its_ladder_in_order(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    app = await start_edge(sip_ring_ms=200)  # 180 Ringing, then the 200 after 0.2 s
    result = await run_sipp(app.sip_port, tmp_path, calls=1, extra=["-d", "300"])
    assert result.returncode == 0, result.describe()
    ((call_id, records),) = (await node_facts(app, kafka, 1)).items()
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    rungs = [rung(r) for r in ladder(records)]
    print("ladder:", rungs)
    # sipp retransmits nothing on loopback; the edge's 100 Trying is sent only when it has not answered
    expected = [
        "in INVITE",
        "out 100 INVITE",
        "out 180 INVITE",
        "out 200 INVITE",
        "in ACK",
        "in BYE",
        "out 200 BYE",
    ]
    assert [r for r in rungs if r != "out 100 INVITE"] == [e for e in expected if e != "out 100 INVITE"], (
        rungs
    )
    first = ladder(records)[0]
    assert first.transport == "udp" and first.local_addr == f"127.0.0.1:{app.sip_port}"
    assert first.remote_addr.startswith("127.0.0.1:") and first.size == len(first.raw)
    assert all(r.remote_addr == first.remote_addr for r in ladder(records))
    names = [type(r).__name__ for r in records]
    assert names.index("CallInviteReceived") < names.index("SipMessageObserved")
    assert names[-1] == "MediaPortReleased"  # the ladder's last rung came before the port went back
    timeline = await replay(kafka, "call", call_id, "--facts-only")
    arrows = [line.split("SipMessageObserved", 1)[1].split()[:3] for line in timeline.splitlines()
              if " SipMessageObserved " in line]  # fmt: skip
    assert arrows[0] == ["edge", "◀──", first.remote_addr] and ["edge", "──▶", first.remote_addr] in arrows
    assert len(arrows) == len(rungs), timeline
    # the pcap carries the recorded ladder: tshark reads the same dialog, each packet labelled recorded
    out = await replay(kafka, "export", call_id, "--out", str(tmp_path / "export"))
    assert "(SIP recorded, RTP rebuilt from recorded audio)" in out, out
    pcap = tmp_path / "export" / f"{call_id}.pcap"
    fields = ["ip.src", "udp.srcport", "sip.Method", "sip.Status-Code", "frame.comment"]
    command = [TSHARK, "-r", str(pcap), "-Y", "sip", "-T", "fields", *(x for f in fields for x in ("-e", f))]
    tshark = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=120)
    assert tshark.returncode == 0, tshark.stderr
    rows = [line.split("\t") for line in tshark.stdout.splitlines() if line.strip()]
    edge_port = str(app.sip_port)
    read = [f"{'out' if r[1] == edge_port else 'in'} {r[2] or r[3]}" for r in rows]
    assert read == [" ".join(x.split()[:2]) for x in rungs], (read, rungs)
    assert all(r[4].startswith("SIP recorded (SipMessageObserved #") for r in rows), rows


async def test_a_dialog_flood_stops_at_the_cap_and_the_call_is_served(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    app = await start_edge(sip_ladder_max_messages=40)
    before = metric("sentiric_sip_ladder_unrecorded_total")
    scenario = flood_scenario(tmp_path / "uac_flood.xml", 60)
    result = await run_sipp(app.sip_port, tmp_path, scenario=str(scenario), calls=1, timeout_s=90)
    assert result.returncode == 0, result.describe()
    assert result.last("SuccessfulCall(C)") == 1
    ((_, records),) = (await node_facts(app, kafka, 1)).items()
    rungs = ladder(records)
    assert len(rungs) == 41 and rungs[-1].truncated and not any(r.truncated for r in rungs[:-1])
    assert rungs[-1].raw == b"" and rungs[-1].size > 0
    got = [rung(r) for r in rungs[:-1]]
    assert got[:2] == ["in INVITE", "out 200 INVITE"] and "in OPTIONS" in got and "in INFO" in got
    assert "in BYE" not in got  # past the cap: counted, not recorded
    # INVITE, 200, ACK, 60 requests and their 200s, BYE and its 200: all but the 40 counted
    assert metric("sentiric_sip_ladder_unrecorded_total") - before >= 3 + 120 + 2 - 40
    ended = next(r for r in records if type(r).__name__ == "CallEnded")
    assert (ended.reason, ended.hangup_by) == ("caller_bye", "caller")
