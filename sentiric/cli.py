"""`sentiric`: one console command for every process.

sentiric up                 the whole platform on embedded defaults (broker, PostgreSQL, edge,
                            streams, API), supervised in one process tree
sentiric broker start|stop|status
sentiric edge | worker | api
sentiric replay call <id> | tail | ...
sentiric config             the effective settings, secrets masked
sentiric cert               a certificate and key for local TLS (SIP over TLS, HTTPS, wss)
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

import structlog

from sentiric import __version__
from sentiric.eventlog.connection import EXIT_LOG_ACCESS, LogAccessError
from sentiric.logs import configure
from sentiric.settings import get_settings

# Each process or tool registers its own subcommands: module -> `add_parser(subparsers)`.
COMMAND_MODULES = (
    "sentiric.broker.command",
    "sentiric.cert",
    "sentiric.replay",
    "sentiric.supervisor",
    "edge.command",
    "streams.command",
    "projections.command",
)


def _config(args: argparse.Namespace) -> int:
    print(json.dumps(get_settings().masked(), indent=2, default=str))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sentiric", description="Sentiric voice-AI telephony platform")
    parser.add_argument("--version", action="version", version=f"sentiric {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    config = sub.add_parser("config", help="print the effective settings (secrets masked)")
    config.set_defaults(func=_config)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency inside the module: say so
                raise
            continue  # that process has not landed yet
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure(get_settings(), service=f"sentiric-{args.command}")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except LogAccessError as exc:  # wrong credentials or CA: one line, and no restart can fix it
        structlog.get_logger("sentiric").error(str(exc))
        return EXIT_LOG_ACCESS


if __name__ == "__main__":
    sys.exit(main())
