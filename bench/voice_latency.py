"""Voice-to-voice latency of a real call: the caller stops speaking → the first RTP packet of the reply.

Starts a private local Kafka, the edge (`sentiric edge`) and a streams worker (`python -m streams.app`,
Whisper base + knowledge base + espeak-ng) as subprocesses, and tshark on `lo` over the edge's RTP
ports. sipp then places ``--calls`` sequential calls (``-l 1``); each waits for the greeting, asks "what
are your opening hours" from the pcap fixture, listens a few seconds and hangs up.

Per call, from the wire (capture times) and from the log (facts' `occurred_at`, records' Kafka
timestamps = when their producer sent them, the engines' `latency_ms`):

    endpointing    caller's last voiced packet on the wire → UtteranceCaptured.occurred_at
                   (jitter-buffer playout + the VAD's end-of-speech silence, ``vad_end_silence_ms``)
    edge→log       UtteranceCaptured.occurred_at → its Kafka timestamp (the edge producer)
    stt hop        log → STT agent → log, minus the engine's compute
    stt            UtteranceTranscribed.latency_ms
    dialog hop     log → dialog-engine agent → log, minus compute
    dialog         AgentReplied.latency_ms
    tts hop        log → TTS agent → log, minus compute
    tts            SpeechSynthesized.latency_ms
    dialog machine SpeechSynthesized record → the PlayAudio command record (the dialog agent)
    edge command   PlayAudio record → PlaybackStarted.occurred_at (command consumer, resample, next tick)
    → wire         PlaybackStarted.occurred_at → first audible reply packet captured on the wire

The stages add up to the wire total. "platform overhead" = total - (stt + dialog + tts); then the same
without the configured end-of-speech silence (a policy, not a cost), and without the whole endpointing
stage (what is left is the log hops, the agents and the edge's command path). The facts-only estimate of
voice-to-voice is PlaybackStarted.occurred_at - (UtteranceCaptured.occurred_at - vad_end_silence_ms).

    .venv/bin/python bench/voice_latency.py [--calls 10] [--warmup 1] [--vad-silence-ms 500] [--pause-ms 0]

`Bench` (the stack) and `measure` (one call's breakdown) are reused by bench/conversations.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the e2e harness lives with the tests

from edge.media.codecs.g711 import PCMU_SILENCE, ulaw_decode  # noqa: E402 - after the path set-up
from schemas.playback_ids import family_of  # noqa: E402
from schemas.turn_ids import answered_utterance  # noqa: E402
from sentiric.broker.local_kafka import LocalKafka  # noqa: E402
from sentiric.settings import Settings  # noqa: E402
from tests.integration.e2e.stack import (  # noqa: E402
    PARTITIONS,
    QUESTION_PCAP,
    CallLog,
    Capture,
    Logged,
    WirePacket,
    Worker,
    caller_scenario,
    rms,
    worker_heartbeat,
)
from tests.support.sipp import SippResult, free_port, free_rtp_range, free_udp_port, run_sipp  # noqa: E402

QUESTION_MS = 3600
SPEECH_RMS = 150.0  # a caller packet louder than this is speech (the pcap's silence decodes to 0)
STAGES = (
    "endpointing",
    "edge→log",
    "stt hop",
    "stt",
    "dialog hop",
    "dialog",
    "tts hop",
    "tts",
    "dialog machine",
    "held at edge",
    "edge command",
    "→ wire",
)


def machine_cache() -> Path:
    configured = os.environ.get("SENTIRIC_CACHE_HOME")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sentiric"


@dataclass
class Bench:
    bootstrap: str
    node: str
    sip_port: int
    rtp: tuple[int, int]
    worker: Worker
    log: CallLog
    workdir: Path
    vad_silence_ms: int

    async def calls(
        self, count: int, concurrent: int, *, before_ms: int, after_ms: int, spread_ms: int = 0
    ) -> SippResult:
        """`count` calls, at most `concurrent` at once, each asking the question once: ``before_ms``
        after the answer, or with ``spread_ms`` at a moment drawn uniformly from ``before_ms`` to
        ``before_ms + spread_ms`` (sipp's uniform pause), as callers of real traffic ask."""
        scenario = caller_scenario(
            self.workdir, QUESTION_PCAP, before_ms=before_ms, pcap_ms=QUESTION_MS, after_ms=after_ms
        )
        if spread_ms > 0:
            path = Path(scenario)
            fixed = f'<pause milliseconds="{before_ms}"/>'
            spread = f'<pause distribution="uniform" min="{before_ms}" max="{before_ms + spread_ms}"/>'
            path.write_text(path.read_text().replace(fixed, spread, 1))  # noqa: ASYNC240 - before sipp starts
        per_call_s = (before_ms + spread_ms + QUESTION_MS + after_ms) / 1000 + 5
        rounds = -(-count // concurrent)
        return await run_sipp(
            self.sip_port, self.workdir / f"sipp-{count}-{concurrent}", scenario=scenario, calls=count,
            rate=concurrent, timeout_s=rounds * per_call_s + 60, extra=["-l", str(concurrent)],
        )  # fmt: skip

    async def finished(self, start: int, count: int, within_s: float = 120.0) -> list[str]:
        """The ids of the calls this edge took since record `start`, once `count` have ended."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            new = self.log.records[start:]
            ids = [r.record.call_id for r in new if r.kind == "CallInviteReceived"]
            done = {r.record.call_id for r in new if r.kind == "MediaPortReleased"}
            if len(done & set(ids)) >= count or loop.time() > deadline:
                return [i for i in ids if i in done]
            await asyncio.sleep(0.5)


@asynccontextmanager
async def bench_stack(
    workdir: Path, *, vad_silence_ms: int, workers: int = 1, pause_ms: int = 0
) -> Iterator[Bench]:
    cache = machine_cache()
    broker = LocalKafka(
        Settings(
            home=workdir / "kafka",
            cache_home=cache,
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
        )
    )
    broker.start(detach=False)
    edge: asyncio.subprocess.Process | None = None
    worker: Worker | None = None
    extra: list[Worker] = []  # more workers in the same group: the call partitions are split
    log: CallLog | None = None
    try:
        low, high = free_rtp_range()
        node, sip_port = "edge-bench", free_udp_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")},
            "SENTIRIC_KAFKA_BOOTSTRAP": broker.bootstrap,
            "SENTIRIC_HOME": str(workdir / "edge"),
            "SENTIRIC_NODE_ID": node,
            "SENTIRIC_SIP_PORT": str(sip_port),
            "SENTIRIC_SIP_TCP": "false",
            "SENTIRIC_SIP_MAX_CALLS_PER_SOURCE": "0",  # one sipp plays every caller, from one address
            "SENTIRIC_SIP_RATE_INVITE": "0",  # ... so its INVITE flood limit (10/s) would drop them
            "SENTIRIC_RTP_PORT_MIN": str(low),
            "SENTIRIC_RTP_PORT_MAX": str(high),
            "SENTIRIC_RTP_PORT_QUARANTINE_S": "1",
            "SENTIRIC_EDGE_METRICS_PORT": str(free_port()),
            "SENTIRIC_WS_PORT": "0",
            "SENTIRIC_TOPIC_PARTITIONS": str(PARTITIONS),
            "SENTIRIC_VAD_END_SILENCE_MS": str(vad_silence_ms),
            "SENTIRIC_VAD_PAUSE_MS": str(pause_ms),
            "SENTIRIC_LOG_LEVEL": "INFO",  # its "edge ready" line says when to start
        }
        edge_log = workdir / "edge.log"
        with edge_log.open("wb") as out:
            edge = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "sentiric.cli", "edge", cwd=ROOT, env=env, stdout=out, stderr=out
            )
        while b"edge ready" not in edge_log.read_bytes():
            if edge.returncode is not None:
                raise RuntimeError(f"the edge exited: {edge_log.read_text()[-2000:]}")
            await asyncio.sleep(0.2)
        worker = Worker(broker.bootstrap, workdir / "worker", cache)
        worker.start()
        for n in range(1, workers):
            extra.append(Worker(broker.bootstrap, workdir / f"worker{n + 1}", cache))
            extra[-1].start()
        await worker.ready()
        for w in extra:
            await w.ready()
        await worker_heartbeat(broker.bootstrap)  # the edge admits agent calls once it has read one
        log = CallLog(broker.bootstrap, node, alive=worker.alive)
        await log.start()
        yield Bench(broker.bootstrap, node, sip_port, (low, high), worker, log, workdir, vad_silence_ms)
    finally:
        if log is not None:
            await log.stop()
        if worker is not None:
            worker.stop()
        for w in extra:
            w.stop()
        if edge is not None and edge.returncode is None:
            edge.terminate()
            await edge.wait()
        broker.stop()


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def audible(packet: WirePacket) -> bool:
    return packet.rtp.payload_type == 0 and packet.rtp.payload.strip(bytes([PCMU_SILENCE, 0x7F])) != b""


def measure(records: list[Logged], wire: list[WirePacket], vad_silence_ms: int) -> dict[str, float] | None:
    """One call's first question → answer, by stage (ms); None when the call has no complete turn.

    An answer prepared at the caller's pause (the dialog's early turn, ``early`` = 1 in the row) is
    timed from the pause chunk: its stages ran while the end silence was still being waited for, so
    they do not add up to the total; ``held at edge`` is how long its audio waited for the utterance
    to end, and ``edge command`` counts from the later of the PlayAudio and the capture."""
    by_kind: dict[str, list[Logged]] = {}
    for r in records:
        by_kind.setdefault(r.kind, []).append(r)
    try:
        captured = by_kind["UtteranceCaptured"][0]
        uid = captured.record.utterance_id
        started = next(
            r
            for r in by_kind["PlaybackStarted"]
            if answered_utterance(family_of(r.record.playback_id).removesuffix(":reply")) == uid
        )
        reply_id = family_of(started.record.playback_id)
        turn_id = reply_id.removesuffix(":reply")
        early = turn_id != uid
        replied = next(r for r in by_kind["AgentReplied"] if r.record.reply_id == reply_id and r.record.final)
        voiced = next(r for r in by_kind["SpeechSynthesized"] if r.record.reply_id == reply_id)
        play = next(r for r in by_kind["PlayAudio"] if family_of(r.record.playback_id) == reply_id)
        if early:
            chunk = [
                r
                for r in by_kind["UtteranceChunkCaptured"]
                if r.record.utterance_id == uid and r.record.pause
            ]
            said = next(r for r in by_kind["UtteranceTranscribed"] if r.record.utterance_id == turn_id)
            heard = next(
                r
                for r in reversed(by_kind["UtteranceTranscribed"])
                if r.record.utterance_id == uid and r.record.pause and r.timestamp_ms <= said.timestamp_ms
            )
            source = max(
                (c for c in chunk if c.timestamp_ms <= heard.timestamp_ms), key=lambda c: c.timestamp_ms
            )
        else:
            heard = next(r for r in by_kind["UtteranceTranscribed"] if r.record.utterance_id == uid)
            source = captured
        port = by_kind["MediaPortAllocated"][0].record.rtp_port
    except (KeyError, StopIteration, IndexError, ValueError):
        return None
    captured_at = captured.record.occurred_at.timestamp()
    started_at = started.record.occurred_at.timestamp()
    spoken = [
        p
        for p in wire
        if p.dst[1] == port and p.at <= captured_at and rms(ulaw_decode(p.rtp.payload)) > SPEECH_RMS
    ]
    reply = [p for p in wire if p.src[1] == port and p.at >= started_at - 0.05 and audible(p)]
    if not spoken or not reply:
        return None
    eos, first = spoken[-1].at, reply[0].at
    ts = {name: r.timestamp_ms / 1000 for name, r in {"c": source, "h": heard, "r": replied}.items()}
    ts |= {"v": voiced.timestamp_ms / 1000, "p": play.timestamp_ms / 1000}
    stt, dialog, tts = heard.record.latency_ms, replied.record.latency_ms, voiced.record.latency_ms
    out = {
        "endpointing": _ms(captured_at - eos),
        "edge→log": _ms(ts["c"] - source.record.occurred_at.timestamp()),
        "stt hop": _ms(ts["h"] - ts["c"]) - stt,
        "stt": stt,
        "dialog hop": _ms(ts["r"] - ts["h"]) - dialog,
        "dialog": dialog,
        "tts hop": _ms(ts["v"] - ts["r"]) - tts,
        "tts": tts,
        "dialog machine": _ms(ts["p"] - ts["v"]),
        "held at edge": max(0.0, _ms(captured_at - ts["p"])),
        "edge command": _ms(started_at - max(ts["p"], captured_at)),
        "→ wire": _ms(first - started_at),
    }
    out["total (wire)"] = _ms(first - eos)
    out["total (facts)"] = _ms(started_at - captured_at) + vad_silence_ms
    out["engines"] = stt + dialog + tts
    out["overhead"] = out["total (wire)"] - out["engines"]
    out["overhead - vad silence"] = out["overhead"] - vad_silence_ms
    out["overhead - endpointing"] = out["overhead"] - out["endpointing"]  # the log hops and the edge
    out["early"] = 1.0 if early else 0.0
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(rows: list[dict[str, float]]) -> None:
    keys = [*STAGES, "total (wire)", "total (facts)", "engines", "overhead", "overhead - vad silence"]
    keys.append("overhead - endpointing")
    print(f"{'stage (ms)':<24}{'p50':>9}{'p95':>9}{'min':>9}{'max':>9}")
    for key in keys:
        values = [r[key] for r in rows]
        if key == "total (wire)":
            print("-" * 60)
        print(
            f"{key:<24}{statistics.median(values):>9.1f}{pct(values, 0.95):>9.1f}"
            f"{min(values):>9.1f}{max(values):>9.1f}"
        )


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="sentiric-v2v-") as tmp:
        workdir = Path(tmp)
        async with bench_stack(workdir, vad_silence_ms=args.vad_silence_ms, pause_ms=args.pause_ms) as bench:
            capture = Capture(workdir / "wire.pcap", *bench.rtp)
            await capture.start()
            start = len(bench.log.records)
            total = args.calls + args.warmup
            result = await bench.calls(total, 1, before_ms=args.greeting_ms, after_ms=args.listen_ms)
            wire = await capture.stop()
            ids = await bench.finished(start, total)
            rows: list[dict[str, float]] = []
            for index, call_id in enumerate(ids):
                row = measure(bench.log.of(call_id), wire, args.vad_silence_ms)
                if row is None:
                    print(f"call {call_id}: no complete turn measured", file=sys.stderr)
                elif index >= args.warmup:
                    rows.append(row)
            print(
                f"sipp rc={result.returncode} ok={result.last('SuccessfulCall(C)')} "
                f"failed={result.last('FailedCall(C)')}; {len(rows)} calls measured "
                f"(after {args.warmup} warm-up), vad_end_silence_ms={args.vad_silence_ms}, "
                f"vad_pause_ms={args.pause_ms}"
            )
            if rows:
                early = sum(int(r["early"]) for r in rows)
                print(f"answered from the words up to the pause (prepared early): {early} of {len(rows)}")
                report(rows)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `timeout` too stops what we started
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1, help="first calls not counted")
    defaults = Settings.model_fields  # the platform's own defaults: what `make run` does
    parser.add_argument(
        "--vad-silence-ms",
        type=int,
        default=defaults["vad_end_silence_ms"].default,
        help="the edge's end-of-speech silence",
    )
    parser.add_argument(
        "--pause-ms",
        type=int,
        default=defaults["vad_pause_ms"].default,
        help="SENTIRIC_VAD_PAUSE_MS: prepare the answer at the caller's pause (0: off)",
    )
    parser.add_argument("--greeting-ms", type=int, default=4500, help="the caller waits this before asking")
    parser.add_argument("--listen-ms", type=int, default=5000, help="the caller hangs up after this")
    asyncio.run(main(parser.parse_args()))
