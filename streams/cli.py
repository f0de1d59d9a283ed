"""`sentiric worker`: run a streams worker (dialog state machine, speech workers, analytics); the
worker's plug-in (`sentiric.plugins`): that subcommand, `sentiric replay dialog`, and the readiness
`sentiric up` waits for (the workers' heartbeats cover every call partition)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from sentiric.plugins import Registry
from sentiric.settings import Settings, get_settings


def register(registry: Registry) -> None:
    registry.command(add_parser)
    registry.replay_command(add_replay_dialog)
    registry.replay_command(_add_replay_rerun)
    registry.process("worker", ready=serving)


async def serving(settings: Settings) -> bool:
    """The workers' heartbeats cover every call partition: the edge admits agent calls now."""
    from sentiric.eventlog.connection import client_options
    from streams.heartbeat import workers_serve_all

    return await workers_serve_all(settings.topic_partitions, **client_options(settings))


def _run(args: argparse.Namespace) -> int:
    from sentiric.eventlog.connection import require_access
    from streams.app import run_worker

    settings = get_settings()
    overrides = {
        k: v
        for k, v in (("stt_engine", args.stt_engine), ("dialog_engine", args.dialog_engine))
        if v is not None
    }
    if overrides:
        settings = settings.model_copy(update=overrides)
    require_access(settings)  # wrong credentials or CA: one clear line, exit 78
    run_worker(settings)
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "worker", help="run a streams worker: dialog, speech (STT/dialog/TTS), KPIs"
    )
    parser.add_argument("--stt-engine", choices=["whisper", "pocketsphinx"], default=None,
                        help="override SENTIRIC_STT_ENGINE")  # fmt: skip
    parser.add_argument("--dialog-engine", choices=["knowledge", "openai"], default=None,
                        help="override SENTIRIC_DIALOG_ENGINE")  # fmt: skip
    parser.set_defaults(func=_run)


def _add_replay_rerun(replay: Any) -> None:
    """`sentiric replay rerun|golden|check` (`streams.replay_cli`)."""
    from streams.replay_cli import add_replay_commands

    add_replay_commands(replay)


def add_replay_dialog(replay: Any) -> None:
    """`sentiric replay dialog <call_id>`, under the `replay` subcommands."""
    import asyncio

    def run(args: argparse.Namespace) -> int:
        return asyncio.run(replay_dialog_cmd(get_settings(), args))

    dialog = replay.add_parser(
        "dialog", help="re-run the dialog state machine over a call and diff decisions"
    )
    dialog.add_argument("call_id")
    dialog.set_defaults(func=run)


async def replay_dialog_cmd(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Re-run the dialog state machine over a recorded call; print where its decisions differ."""
    from sentiric.eventlog.connection import client_options
    from sentiric.eventlog.consumer import read_call
    from streams.replay_dialog import replay_dialog

    records = await read_call(args.call_id, include_commands=True, **client_options(settings))
    if not records:
        print(f"no records for call {args.call_id}", file=sys.stderr)
        return 1
    differences = replay_dialog([d.record for d in records])
    for difference in differences:
        print(difference, file=out)
    print(
        f"{len(records)} records re-run: "
        + (f"{len(differences)} differences" if differences else "decisions identical to the record"),
        file=out,
    )
    return 1 if differences else 0
