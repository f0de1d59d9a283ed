"""`sentiric replay rerun`, `replay golden add`, `replay check` and `replay export`: the shell around
`streams.replay_rerun` (engines over recorded turns), `streams.replay_diff` (what changed),
`streams.replay_report` (how it reads), `streams.replay_golden` (calls as files) and
`streams.replay_export` (a call as pcap and WAV).

The live system is never touched: the log is read by a consumer without a group (assigned partitions,
no commits), nothing is produced, and the engines run in this process.

Exit codes: 0 done (for `check`: no decision, reply or action call changed), 1 `check` found a changed
decision, reply or action call, 2 nothing to do or bad input (no such call, unreadable golden
directory, unknown engine, unreadable actions file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from schemas import models as m
from sentiric.settings import Settings, get_settings
from streams.engines.dialog import DialogEngine
from streams.engines.errors import EngineError
from streams.engines.stt import SpeechToText
from streams.replay_diff import CallDiff, compare, summarize
from streams.replay_golden import GoldenError, export_call, golden_calls, load_call
from streams.replay_report import call_lines, write_report
from streams.replay_rerun import recorded_turns, recording, rerun_turns

RECORDED = "recorded"


@dataclass(frozen=True, slots=True)
class RerunEngines:
    stt: SpeechToText | None
    dialog: DialogEngine
    knowledge: tuple[m.KnowledgeEntry, ...]
    by_decision: bool
    """Compare replies by decision only: a generative engine (openai, remote) words them anew."""
    actions: tuple[m.Action, ...] = ()
    """The agent actions; their endpoints are never called (`streams.replay_actions`)."""

    def describe(self) -> dict[str, str]:
        return {
            "stt": self.stt.name if self.stt is not None else RECORDED,
            "dialog": self.dialog.name,
            "knowledge": f"{len(self.knowledge)} entries",
            "actions": f"{len(self.actions)} (answered from the recordings)",
            "compared": "by decision" if self.by_decision else "by decision and reply text",
        }


def build_stt(settings: Settings, spec: str, knowledge: Sequence[m.KnowledgeEntry]) -> SpeechToText | None:
    """`recorded` (keep the recorded transcripts), `whisper[/base]`, `pocketsphinx`, `remote`."""
    engine, _, model = spec.partition("/")
    if engine == RECORDED:
        return None
    if engine == "whisper":
        if model not in ("", "base"):
            raise EngineError(f"whisper model {model!r} is not available (the embedded one is base)")
        from streams.engines.whisper import WhisperSTT

        return WhisperSTT(settings.cache_dir)
    if engine == "pocketsphinx":  # its grammar is the phrasings of the knowledge the re-run uses
        from streams.engines.pocketsphinx_grammar import PocketsphinxGrammarSTT

        return PocketsphinxGrammarSTT(p for e in knowledge for p in e.phrasings)
    if model:
        raise EngineError(f"stt engine {engine!r} takes no model")
    from streams.engines.factory import build_stt as configured

    return configured(settings.model_copy(update={"stt_engine": engine}))


def build_engines(
    settings: Settings,
    stt: str | None,
    dialog: str | None,
    knowledge: Sequence[m.KnowledgeEntry],
    actions: Sequence[m.Action] = (),
) -> RerunEngines:
    from streams.engines.factory import build_dialog

    if dialog is not None:
        settings = settings.model_copy(update={"dialog_engine": dialog})
    engine = build_dialog(settings)
    from streams.engines.knowledge import KnowledgeEngine

    return RerunEngines(
        build_stt(settings, stt or settings.stt_engine, knowledge),
        engine,
        tuple(knowledge),
        by_decision=not isinstance(engine, KnowledgeEngine),
        actions=tuple(actions),
    )


def knowledge_from_file(settings: Settings, path: Path | None) -> list[m.KnowledgeEntry]:
    from streams.engines.knowledge import SAMPLE_PATH, load_knowledge

    try:
        return load_knowledge(path or settings.knowledge_file or SAMPLE_PATH)
    except (OSError, ValueError, KeyError) as exc:
        raise EngineError(f"cannot read knowledge file {path}: {exc}") from None


async def config_from_log(settings: Settings) -> tuple[list[m.KnowledgeEntry], list[m.Action]]:
    """The knowledge and the actions the live workers use now: `sentiric.config` read to its end (no
    group); without a config topic, the configured knowledge file and no actions."""
    from sentiric.eventlog.config_view import ConfigView
    from sentiric.eventlog.connection import client_options
    from streams.agents.actions import ActionStore
    from streams.agents.config import KnowledgeStore

    store = KnowledgeStore(settings.knowledge_file)
    action_store = ActionStore()
    view = ConfigView(name="replay-knowledge")
    view.subscribe(store.apply)
    view.subscribe(action_store.apply)
    try:
        await view.start(**client_options(settings))
    except Exception as exc:  # no config topic yet: the workers use the file too
        print(f"config topic not readable ({exc!r}); using the knowledge file", file=sys.stderr)
    finally:
        await view.stop()
    return list(store.entries()), list(action_store.actions())


def actions_from_file(path: Path) -> list[m.Action]:
    """Actions as `GET /api/admin/actions` lists them (a JSON array of objects with `id`, `name`,
    `description`, `parameters`, `triggers`, ...): the stub answers their calls, so no URL or
    secret is needed."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(items, list):
            raise ValueError("not a JSON array of actions")
        out = []
        for item in items:
            event_id = uuid.uuid4()
            out.append(m.Action(
                event_id=event_id, entity_id=str(item["id"]), occurred_at=datetime.now(UTC), source="replay",
                trace_id=str(event_id), name=str(item["name"]), description=str(item["description"]),
                parameters=json.dumps(item["parameters"]), url=str(item.get("url", "")), secret="",
                timeout_s=float(item.get("timeout_s", 5.0)), retries=int(item.get("retries", 1)),
                triggers=tuple(str(t) for t in item["triggers"]),
                confirm_text=str(item.get("confirm_text", "")), done_text=str(item.get("done_text", "")),
                fallback_text=str(item.get("fallback_text", "")),
                language=str(item.get("language", "en-US")), enabled=bool(item.get("enabled", True)),
            ))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"cannot read actions file {path}: {exc}") from None
    return out


def parse_time(text: str) -> datetime:
    """ISO 8601 date or date-time; naive means UTC."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def select_calls(
    facts: Sequence[Any], since: datetime | None, until: datetime | None, dialplan: str | None
) -> list[str]:
    """Ids of the calls whose INVITE arrived in [since, until) and that `dialplan` served, in order."""
    dialplans: dict[str, str] = {}
    invited: list[tuple[str, datetime]] = []
    for fact in facts:
        if isinstance(fact, m.CallInviteReceived):
            invited.append((fact.call_id, fact.occurred_at))
        elif isinstance(fact, m.DialplanResolved):
            dialplans[fact.call_id] = fact.dialplan_id
    out = []
    for call_id, at in sorted(invited, key=lambda x: x[1]):
        if (since and at < since) or (until and at >= until):
            continue
        if dialplan is not None and dialplans.get(call_id) != dialplan:
            continue
        if call_id not in out:
            out.append(call_id)
    return out


async def offsets_since(topic: str, partitions: list[int], since: datetime, **client: Any) -> dict[int, int]:
    """Per partition, the first offset whose record time is at or after `since` (ListOffsets by time;
    the end when nothing is that recent). A call's facts follow its INVITE, so no selected call is cut."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    tps = [TopicPartition(topic, p) for p in partitions]
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **client)  # no group: nothing committed
    await consumer.start()
    try:
        found = await consumer.offsets_for_times(dict.fromkeys(tps, int(since.timestamp() * 1000)))
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {tp.partition: (found[tp].offset if found.get(tp) is not None else ends[tp]) for tp in tps}


async def read_calls(settings: Settings, args: argparse.Namespace) -> dict[str, list[Any]]:
    """The facts of the calls named or selected, by call id, each in log order."""
    from sentiric.eventlog import topics
    from sentiric.eventlog.connection import client_options
    from sentiric.eventlog.consumer import partition_counts, partition_for, read_partition_until_end

    client = client_options(settings)
    counts = await partition_counts(lambda _names: [topics.CALLS], **client)
    n = counts.get(topics.CALLS, 0)
    if not n:
        return {}
    wanted = list(args.call_ids)
    partitions = sorted({partition_for(c, n) for c in wanted}) if wanted else list(range(n))
    starts = dict.fromkeys(partitions, 0)
    if not wanted and args.since is not None:  # a day of calls: not the whole retention
        starts = await offsets_since(topics.CALLS, partitions, args.since, **client)
    parts = await asyncio.gather(
        *(read_partition_until_end(topics.CALLS, p, start_offset=starts[p], **client) for p in partitions)
    )
    facts = [d.record for part in parts for d in part if not isinstance(d.record, m.Command)]
    if not wanted:
        wanted = select_calls(facts, args.since, args.until, args.dialplan)
    by_call: dict[str, list[Any]] = {c: [] for c in wanted}
    for fact in facts:
        if fact.call_id in by_call:
            by_call[fact.call_id].append(fact)
    return by_call


async def rerun_calls(
    calls: dict[str, list[Any]], engines: RerunEngines, language: str, out: TextIO
) -> tuple[list[CallDiff], float, int]:
    """(the differences per call, seconds taken, turns re-run), printing each call as it is done."""
    diffs: list[CallDiff] = []
    start = time.perf_counter()
    for call_id, facts in calls.items():
        rec = recording(call_id, facts, language)
        made = await rerun_turns(rec, engines.stt, engines.dialog, engines.knowledge, actions=engines.actions)
        diff = compare(call_id, recorded_turns(rec), made, by_decision=engines.by_decision)
        diffs.append(diff)
        for line in call_lines(diff):
            print(line, file=out)
    return diffs, time.perf_counter() - start, sum(len(d.turns) for d in diffs)


async def rerun_cmd(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    if not args.call_ids and args.since is None and args.until is None and args.dialplan is None:
        print("name call ids, or select calls with --since/--until/--dialplan", file=sys.stderr)
        return 2
    calls = await read_calls(settings, args)
    missing = [c for c, facts in calls.items() if not facts]
    if missing or not calls:
        print(f"no records for call(s) {', '.join(missing) or '(none selected)'}", file=sys.stderr)
        return 2
    try:
        knowledge, actions = await config_from_log(settings)
        if args.knowledge is not None:
            knowledge = knowledge_from_file(settings, args.knowledge)
        if args.actions is not None:
            actions = actions_from_file(args.actions)
        engines = build_engines(settings, args.stt, args.dialog, knowledge, actions)
        diffs, seconds, turns = await rerun_calls(calls, engines, settings.language, out)
    except EngineError as exc:
        print(f"replay rerun: {exc}", file=sys.stderr)
        return 2
    print(summarize(diffs), file=out)
    print(f"re-run in {seconds:.2f} s ({turns / seconds if seconds else 0:.1f} turns/s)", file=out)
    if args.report:
        write_report(args.report, diffs, engines.describe())
        print(f"report written to {args.report}", file=out)
    return 0


async def golden_add_cmd(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    calls = await read_calls(settings, args)
    for call_id, facts in calls.items():
        if not facts:
            print(f"no records for call {call_id}", file=sys.stderr)
            return 2
        call_dir = export_call(facts, args.dir)
        print(f"golden call {call_id}: {len(facts)} facts → {call_dir}", file=out)
    return 0


async def export_cmd(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """`<id>.pcap` (SIP recorded or rebuilt, RTP rebuilt, labelled so) and `<id>.wav` (both sides)."""
    from streams.replay_export import RECORDED_SIP, ExportError, packets_of, pcapng_bytes, wav_bytes

    args.call_ids = [args.call_id]
    calls = await read_calls(settings, args)
    facts = calls.get(args.call_id) or []
    if not facts:
        print(f"no records for call {args.call_id}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        packets = packets_of(facts)
        pcap, wav = pcapng_bytes(packets), wav_bytes(facts)
    except ExportError as exc:
        print(f"replay export: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.call_id}.pcap").write_bytes(pcap)
    (args.out / f"{args.call_id}.wav").write_bytes(wav)
    seconds = time.perf_counter() - start
    sip = RECORDED_SIP if any(p.comment.startswith(RECORDED_SIP) for p in packets) else "SIP rebuilt"
    print(
        f"{args.out / args.call_id}.pcap: {len(packets)} packets ({sip}, RTP rebuilt from recorded audio)",
        file=out,
    )
    print(f"{args.out / args.call_id}.wav: caller left, agent right; exported in {seconds:.2f} s", file=out)
    return 0


async def check_cmd(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Re-run every golden call of a directory; 1 when a decision, a reply or an action call changed."""
    dirs = golden_calls(args.dir)
    if not dirs:
        print(f"no golden calls in {args.dir}", file=sys.stderr)
        return 2
    try:
        calls = {d.name: load_call(d) for d in dirs}
        knowledge = knowledge_from_file(settings, args.knowledge)
        actions = actions_from_file(args.actions) if args.actions is not None else []
        engines = build_engines(settings, args.stt, args.dialog, knowledge, actions)
        diffs, _seconds, _turns = await rerun_calls(calls, engines, settings.language, out)
    except (GoldenError, EngineError) as exc:
        print(f"replay check: {exc}", file=sys.stderr)
        return 2
    print(summarize(diffs), file=out)
    if args.report:
        write_report(args.report, diffs, engines.describe())
    failed = [
        d.call_id
        for d in diffs
        if any(t.decision_changed or t.reply_changed or t.actions_changed for t in d.turns)
    ]
    if failed:
        what = "a decision, reply or action changed"
        print(f"FAILED: {what} in {len(failed)} golden calls:", *failed, file=out)
        return 1
    print(f"OK: {len(diffs)} golden calls answer as recorded", file=out)
    return 0


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stt", metavar="ENGINE[/MODEL]",
                        help="whisper[/base], pocketsphinx, remote, or recorded (keep the recorded "
                        "transcripts); default: SENTIRIC_STT_ENGINE")  # fmt: skip
    parser.add_argument("--dialog", metavar="ENGINE", help="knowledge, openai or remote; default: "
                        "SENTIRIC_DIALOG_ENGINE")  # fmt: skip
    parser.add_argument("--knowledge", type=Path, metavar="FILE",
                        help="knowledge JSON file instead of the live config")  # fmt: skip
    parser.add_argument("--actions", type=Path, metavar="FILE",
                        help="actions JSON file (as GET /api/admin/actions lists them) instead of the "
                        "live config; their calls are answered from the recording")  # fmt: skip
    parser.add_argument("--report", metavar="OUT.json|OUT.html", help="write a report")


def add_replay_commands(replay: Any) -> None:
    """`sentiric replay rerun|golden|check`, under the `replay` subcommands."""

    def run(cmd: Any) -> Any:
        return lambda args: asyncio.run(cmd(get_settings(), args))

    rerun = replay.add_parser("rerun", help="re-run recorded calls through chosen engines and diff the turns")
    rerun.add_argument("call_ids", nargs="*", metavar="CALL_ID")
    rerun.add_argument("--since", type=parse_time, help="calls whose INVITE came at or after (ISO 8601)")
    rerun.add_argument("--until", type=parse_time, help="calls whose INVITE came before (ISO 8601)")
    rerun.add_argument("--dialplan", help="only calls this dialplan served")
    _engine_options(rerun)
    rerun.set_defaults(func=run(rerun_cmd))

    golden = replay.add_parser("golden", help="golden calls: recorded calls kept as files")
    gsub = golden.add_subparsers(dest="golden_command", required=True)
    add = gsub.add_parser("add", help="export calls (facts and caller audio) into a golden directory")
    add.add_argument("call_ids", nargs="+", metavar="CALL_ID")
    add.add_argument("--dir", type=Path, default=Path("golden-calls"), help="default: ./golden-calls")
    add.set_defaults(func=run(golden_add_cmd), since=None, until=None, dialplan=None)

    export = replay.add_parser("export", help="write <id>.pcap (SIP and rebuilt RTP) and <id>.wav")
    export.add_argument("call_id")
    export.add_argument("--out", type=Path, default=Path("."), help="directory (default: here)")
    export.set_defaults(func=run(export_cmd), since=None, until=None, dialplan=None)

    check = replay.add_parser("check", help="re-run golden calls without a log; exit 1 if a reply changed")
    check.add_argument("dir", type=Path, metavar="DIR")
    _engine_options(check)
    check.set_defaults(func=run(check_cmd))
