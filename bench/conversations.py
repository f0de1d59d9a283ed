"""How many concurrent conversations one streams worker sustains before voice-to-voice latency doubles.

The stack of bench/voice_latency.py (private Kafka, `sentiric edge`, one worker with Whisper base,
the knowledge base and espeak-ng, tshark on the edge's RTP ports). For each level L of ``--levels``
(1, 2, 4, 8 …), sipp runs ``--rounds`` x L calls with at most L at once, started together (``-r L``):
every call waits for its greeting, asks "what are your opening hours" and listens. With ``--spread-ms``
each caller asks at a random moment of that window after its greeting (real traffic), else all at
once. Voice-to-voice per call = the caller's last voiced packet → the first audible reply packet, on the wire.

Prints p50/p95 per level with the median STT compute, the time the utterance waited before the
STT agent took it, and how many answers were prepared at the caller's pause (``early``); stops after
the first level whose p50 is more than twice level 1's.

    .venv/bin/python bench/conversations.py [--levels 1,2,4,8] [--rounds 2] [--spread-ms 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from voice_latency import Capture, bench_stack, measure, pct  # bench/ is the script's directory

from schemas.playback_ids import family_of
from schemas.turn_ids import answered_utterance
from sentiric.settings import Settings
from tests.support.sipp import SippResult


def timeline(records: list[Any]) -> str:
    """One call's question on the log, in ms from the caller's pause chunk: the pause partial, the
    end of the utterance, its final transcript, the reply's PlayAudio and PlaybackStarted — where an
    answer that was not prepared at the pause lost its time."""

    def at(kind: str, test: Callable[[Any], bool] = lambda r: True) -> int | None:
        found = [r.timestamp_ms for r in records if r.kind == kind and test(r.record)]
        return found[0] if found else None

    paused = at("UtteranceChunkCaptured", lambda r: r.pause)
    if paused is None:
        return "  no pause chunk"
    marks = {
        "pause partial": at("UtteranceTranscribed", lambda r: r.pause and not r.is_final),
        "captured": at("UtteranceCaptured"),
        "final": at("UtteranceTranscribed", lambda r: r.is_final and r.source == "stt"),
        "play": at("PlayAudio", lambda r: ":reply" in r.playback_id),
        "started": at("PlaybackStarted", lambda r: ":reply" in r.playback_id),
    }
    return "  " + "  ".join(f"{k} {'-' if v is None else v - paused:>5}" for k, v in marks.items())


def outcome(records: list[Any]) -> str:
    """What one call's caller got: ``refused <status> <reason>`` (never answered), ``answered`` (a
    reply to the question played), ``fallback`` (the edge's own prompt: no worker could serve the call)
    or ``silent`` (answered, and nothing answered the question: the failure "never silent" forbids)."""
    rejected = [r.record for r in records if r.kind == "CallRejected"]
    if rejected:
        return f"refused {rejected[0].sip_status} {rejected[0].reason}"
    if any(r.kind == "CallDegraded" for r in records):
        return "fallback"
    asked = {r.record.utterance_id for r in records if r.kind == "UtteranceCaptured"}
    replies = [
        answered_utterance(family_of(r.record.playback_id).removesuffix(":reply"))
        for r in records
        if r.kind == "PlaybackStarted" and ":reply" in r.record.playback_id
    ]
    if not asked:
        return "no question heard"
    return "answered" if asked & set(replies) else "silent"


def story(records: list[Any]) -> str:
    """A call's facts in order, ms from its first, for a caller the table leaves out."""
    if not records:
        return "no facts"
    first = records[0].timestamp_ms

    def detail(r: Any) -> str:
        x = r.record
        if r.kind == "DialogStateChanged":
            return f"{x.from_state}>{x.to_state}"
        if r.kind == "UtteranceTranscribed":
            return f"{'final' if x.is_final else 'partial'}{' pause' if x.pause else ''} {x.text!r}"
        if r.kind == "AgentReplied":
            return f"{x.reply_id} final={x.final} {x.text[:40]!r}"
        if r.kind in ("UtteranceCaptured", "UtteranceChunkCaptured"):
            pcm = np.frombuffer(x.pcm, dtype="<i2").astype(np.float64)
            rms = float(np.sqrt(np.mean(pcm**2))) if pcm.size else 0.0
            chunk = f"#{x.index}{' pause' if x.pause else ''} " if r.kind == "UtteranceChunkCaptured" else ""
            return f"{chunk}{x.start_ms}-{x.end_ms} ms, {pcm.size / x.sample_rate:.2f} s, rms {rms:.0f}"
        if r.kind in ("PlayAudio", "PlaybackStarted", "PlaybackFinished"):
            return getattr(x, "playback_id", "") + (f" {x.reason}" if r.kind == "PlaybackFinished" else "")
        return ""

    return " | ".join(
        f"{r.timestamp_ms - first} {r.kind} {detail(r)}".rstrip()
        for r in records
        if r.kind not in ("SipMessageObserved", "MediaQualityReported")
    )


def failures(result: SippResult) -> str:
    """sipp's non-zero failure counters (its -trace_stat CSV), e.g. ``FailedMaxUDPRetrans 16``."""
    last = result.stats[-1] if result.stats else {}
    failed = {
        k.removesuffix("(C)"): v for k, v in last.items() if k.startswith("Failed") and k.endswith("(C)")
    }
    return ", ".join(f"{k} {v}" for k, v in failed.items() if v not in ("", "0")) or "none counted"


async def main(args: argparse.Namespace) -> None:
    levels = [int(x) for x in args.levels.split(",")]
    with tempfile.TemporaryDirectory(prefix="sentiric-conv-") as tmp:
        workdir = Path(tmp)
        async with bench_stack(
            workdir, vad_silence_ms=args.vad_silence_ms, workers=args.workers, pause_ms=args.pause_ms
        ) as bench:
            await bench.calls(1, 1, before_ms=args.greeting_ms, after_ms=args.listen_ms)  # warm-up
            baseline: float | None = None
            head = ("calls at once", "measured", "p50 ms", "p95 ms", "stt ms", "stt wait", "early")
            print("".join(f"{h:>{w}}" for h, w in zip(head, (13, 10, 9, 9, 9, 10, 7), strict=True)))
            for level in levels:
                capture = Capture(workdir / f"wire-{level}.pcap", *bench.rtp)
                await capture.start()
                start = len(bench.log.records)
                count = level * args.rounds
                listen = args.listen_ms + level * 3000  # the last of L questions waits for L-1 transcriptions
                result = await bench.calls(
                    count, level, before_ms=args.greeting_ms, after_ms=listen, spread_ms=args.spread_ms
                )
                wire = await capture.stop()
                ids = await bench.finished(start, count)
                rows = [r for r in (measure(bench.log.of(i), wire, args.vad_silence_ms) for i in ids) if r]
                if result.returncode != 0 or len(rows) < count:
                    # every caller is served or refused: say which, and what sipp counted as failed
                    seen = [
                        r.record.call_id for r in bench.log.records[start:] if r.kind == "CallInviteReceived"
                    ]
                    got = Counter(outcome(bench.log.of(i)) for i in seen)
                    print(
                        f"{level:>13}  sipp rc={result.returncode}, {len(rows)} of {count} measured; "
                        f"the edge saw {len(seen)} calls: {dict(got)}; sipp's failures: {failures(result)}"
                    )
                    for i in seen:
                        if outcome(bench.log.of(i)) != "answered":
                            print(f"  {i}: {story(bench.log.of(i))}")
                if not rows:
                    break
                totals = [r["total (wire)"] for r in rows]
                p50 = statistics.median(totals)
                stt = statistics.median(r["stt"] for r in rows)
                wait = statistics.median(r["stt hop"] for r in rows)
                early = sum(int(r["early"]) for r in rows)
                print(
                    f"{level:>13}{len(rows):>7}/{count:<2}{p50:>9.0f}{pct(totals, 0.95):>9.0f}"
                    f"{stt:>9.0f}{wait:>10.0f}{early:>7}",
                    flush=True,
                )
                if args.timeline:
                    for i in ids:
                        print(timeline(bench.log.of(i)))
                baseline = baseline or p50
                if p50 > 2 * baseline:
                    print(f"p50 at {level} concurrent conversations is {p50 / baseline:.1f}× that at 1")
                    break


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `timeout` too stops what we started
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--levels", default="1,2,4,8")
    defaults = Settings.model_fields  # the platform's own defaults: what `make run` does
    pause = defaults["vad_pause_ms"].default
    parser.add_argument("--pause-ms", type=int, default=pause, help="SENTIRIC_VAD_PAUSE_MS (0: off)")
    parser.add_argument(
        "--workers", type=int, default=1, help="streams workers in the group (≤ 3 partitions)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="calls per level = level x rounds")
    parser.add_argument(
        "--spread-ms",
        type=int,
        default=0,
        help="each caller asks at a uniformly random moment within this long after the greeting "
        "(0: all of a level's callers ask together, the worst case)",
    )
    parser.add_argument("--vad-silence-ms", type=int, default=defaults["vad_end_silence_ms"].default)
    parser.add_argument(
        "--timeline", action="store_true", help="print each call's pause → answer timeline on the log"
    )
    parser.add_argument("--greeting-ms", type=int, default=4500)
    parser.add_argument("--listen-ms", type=int, default=8000)
    asyncio.run(main(parser.parse_args()))
