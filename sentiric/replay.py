"""`sentiric replay`: read calls back from the log, decoded.

- `replay call <call_id>`: one call's timeline in order (facts and the commands sent to its edge).
- `replay tail`: follow the live call topic (every partition, a `TopicFollower`).
- `replay dialog <call_id>` (the worker's plug-in, `streams.cli`) and `replay rebuild` (the read side's,
  `projections.cli`, an alias of `sentiric projections rebuild`) are added from above (`sentiric.plugins`).
Output is one line per record (time, type, key fields), or with `--json` one JSON object per line.
Two kinds read as a call's story: each ``SipMessageObserved`` is a rung of the SIP ladder (an arrow
between the edge and the peer, then the Request- or Status-Line) and each ``MediaQualityReported`` a
point of the media-quality timeline (jitter, loss, MOS); the line of an answer's `PlaybackStarted` ends
with the latency of each of the answer's stages (`sentiric.turn_stages`, the call page's figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from aiokafka import ConsumerRecord

from schemas import models as m
from schemas.codec import default_codec, to_json_dict, type_name
from schemas.playback_ids import family_of
from sentiric.eventlog import topics
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.consumer import Decoded, decode_message, partition_counts, read_call
from sentiric.eventlog.follower import TopicFollower
from sentiric.plugins import AddParser
from sentiric.settings import Settings, get_settings
from sentiric.turn_stages import StageIndex, answer_stages, stages_line

ENVELOPE_FIELDS = frozenset({"event_id", "call_id", "seq", "occurred_at", "source", "trace_id"})


def ladder_rung(record: Any) -> str:
    """``edge ◀── 192.0.2.10:5062  INVITE sip:1000@… SIP/2.0  (udp, 812 B)``: one SIP message."""
    if record.truncated:
        return f"edge ─┄─ {record.remote_addr}  {record.first_line}"
    arrow = "◀──" if record.direction == "in" else "──▶"
    cut = f" of {record.size}" if record.size > len(record.raw) else ""
    size = f"{record.transport}, {len(record.raw)}{cut} B"
    return f"edge {arrow} {record.remote_addr}  {record.first_line}  ({size})"


def quality_point(record: Any) -> str:
    """``jitter 1.2 ms  loss 0.5% (3 of 600)  MOS 4.38  rtt 20.0 ms  final``: one quality report."""
    rtt = "" if record.rtt_ms is None else f"  rtt {record.rtt_ms:.1f} ms"
    return (
        f"jitter {record.jitter_ms:.1f} ms  loss {record.loss_fraction * 100:.1f}% "
        f"({record.packets_lost} of {record.packets_received + record.packets_lost})  "
        f"MOS {record.mos:.2f}{rtt}{'  final' if record.final else ''}"
    )


STORY_LINES = {"SipMessageObserved": ladder_rung, "MediaQualityReported": quality_point}


def format_line(decoded: Decoded) -> str:
    """`2026-01-02T03:04:05.678Z  #3   CallEnded  reason=caller_bye hangup_by=caller ...`"""
    record = decoded.record
    when = record.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    kind = "cmd " if decoded.topic.startswith(topics.COMMANDS_PREFIX) else "fact"
    story = STORY_LINES.get(type_name(record))
    if story is not None:
        return f"{when}  {kind} #{record.seq:<4} {type_name(record):<22} {story(record)}"
    parts = []
    for key, value in record.to_record().items():
        if key in ENVELOPE_FIELDS or value is None:
            continue
        if isinstance(value, bytes):
            value = f"<{len(value)} bytes>"
        elif isinstance(value, str) and len(value) > 60:
            value = value[:57].replace("\r\n", " ").replace("\n", " ") + "..."
        elif isinstance(value, str):
            value = value.replace("\r\n", " ").replace("\n", " ")
        parts.append(f"{key}={value}")
    return f"{when}  {kind} #{record.seq:<4} {type_name(record):<22} {' '.join(parts)}"


def json_line(decoded: Decoded, *, include_audio: bool = False) -> str:
    obj = to_json_dict(decoded.record, include_audio=include_audio)
    obj["log"] = {"topic": decoded.topic, "partition": decoded.partition, "offset": decoded.offset}
    return json.dumps(obj, separators=(",", ":"))


def emit(decoded: Decoded, args: argparse.Namespace, out: TextIO) -> None:
    print(json_line(decoded, include_audio=args.audio) if args.json else format_line(decoded), file=out)


async def replay_call(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    records = await read_call(args.call_id, include_commands=not args.facts_only, **client_options(settings))
    if not records:
        print(f"no records for call {args.call_id}", file=sys.stderr)
        return 1
    if args.json:
        for decoded in records:
            emit(decoded, args, out)
        return 0
    # one line per record still: an answer's stages go on the line of its playback's start
    by = StageIndex.of(records)
    timed: dict[str, str] = {}
    for d in records:
        stages = answer_stages(d, by) if isinstance(d.record, m.AgentReplied) and d.record.final else None
        if stages is not None:
            timed[d.record.reply_id] = stages_line(stages)
    for decoded in records:
        line = format_line(decoded)
        started = decoded.record.playback_id if isinstance(decoded.record, m.PlaybackStarted) else None
        if started is not None and started.endswith("#0"):
            started = family_of(started)  # a streamed reply's stages go on its first piece's line
        if started is not None and started in timed:
            line += f"  | {timed[started]}"
        print(line, file=out)
    return 0


async def replay_tail(
    settings: Settings,
    args: argparse.Namespace,
    out: TextIO = sys.stdout,
    ready: asyncio.Event | None = None,
) -> int:
    client = client_options(settings)
    counts = await partition_counts(lambda _names: [topics.CALLS], **client)
    if not counts:
        print(f"topic {topics.CALLS} does not exist yet", file=sys.stderr)
        return 1
    codec = default_codec()
    done = asyncio.Event()
    seen = 0

    def on_record(msg: ConsumerRecord[bytes, bytes]) -> None:
        nonlocal seen
        if done.is_set():
            return
        decoded = decode_message(msg, codec, None)
        if decoded is None or (args.call and decoded.record.call_id != args.call):
            return
        emit(decoded, args, out)
        out.flush()
        seen += 1
        if args.limit and seen >= args.limit:
            done.set()

    # Every partition, from the end (or the beginning: then what is there is printed before start()
    # returns); positions are resolved before start() returns, so every record produced after is seen.
    follower = TopicFollower(
        topics.CALLS, on_record, name="replay-tail", from_beginning=args.from_beginning, **client
    )
    await follower.start()
    try:
        if ready is not None:
            ready.set()
        print("following sentiric.calls (Ctrl-C to stop)", file=sys.stderr, flush=True)
        await done.wait()  # --limit reached, or Ctrl-C
    finally:
        await follower.stop()
    return 0


def add_parser(sub: Any, extra: Iterable[AddParser] = ()) -> None:
    """`sentiric replay …`; `extra`: the subcommands plug-ins add (`sentiric.plugins`)."""
    replay = sub.add_parser("replay", help="read calls back from the log")
    rsub = replay.add_subparsers(dest="replay_command", required=True)

    call = rsub.add_parser("call", help="one call's decoded timeline, in order")
    call.add_argument("call_id")
    call.add_argument("--json", action="store_true", help="one JSON object per line")
    call.add_argument("--audio", action="store_true", help="include PCM (base64) in --json output")
    call.add_argument("--facts-only", action="store_true", help="leave out the commands sent to the edge")
    call.set_defaults(func=lambda a: asyncio.run(replay_call(get_settings(), a)))

    tail = rsub.add_parser("tail", help="follow the live call topic, decoded")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.add_argument("--audio", action="store_true", help="include PCM (base64) in --json output")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    tail.add_argument("--call", help="only this call_id")
    tail.add_argument("--limit", type=int, default=0, help="stop after this many records")
    tail.set_defaults(func=lambda a: _run_tail(a))

    for add in extra:
        add(rsub)


def _run_tail(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(replay_tail(get_settings(), args))
    except KeyboardInterrupt:
        return 0
