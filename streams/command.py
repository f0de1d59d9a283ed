"""`sentiric worker`: run a streams worker (dialog state machine, speech workers, analytics)."""

from __future__ import annotations

import argparse

from sentiric.settings import get_settings


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
