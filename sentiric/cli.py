"""`sentiric`: one console command for every process.

sentiric up                 the whole platform on embedded defaults (broker, PostgreSQL, edge,
                            streams, API), supervised in one process tree
sentiric broker start|stop|status
sentiric edge | worker | api
sentiric replay call <id> | tail | ...
sentiric config             the effective settings, secrets masked
sentiric cert               a certificate and key for local TLS (SIP over TLS, HTTPS, wss)
sentiric processor run module:agent
                            your own Faust stream processor, on the platform's broker settings

The commands of this layer are registered here; `edge`, `worker`, `api`, `projections` and some
`replay` subcommands come from the plug-ins above it (`sentiric.plugins`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import structlog

from sentiric import __version__, cert, replay, supervisor
from sentiric.broker import cli as broker_cli
from sentiric.eventlog.connection import EXIT_LOG_ACCESS, LogAccessError
from sentiric.logs import configure
from sentiric.plugins import Registry, registry
from sentiric.settings import get_settings


def _config(args: argparse.Namespace) -> int:
    print(json.dumps(get_settings().masked(), indent=2, default=str))
    return 0


def _run_processor(args: argparse.Namespace) -> int:
    from sentiric import processors  # Faust loads only for this command

    processors.run(args.agent)
    return 0


def _add_processor_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    processor = sub.add_parser("processor", help="run your own stream processor (sentiric.processors)")
    commands = processor.add_subparsers(dest="processor_command", required=True)
    run = commands.add_parser("run", help="run module:agent with the platform's broker settings")
    run.add_argument("agent", help="module:agent, e.g. examples.hourly_intents:intents")
    run.set_defaults(func=_run_processor)


def build_parser(plugins: Registry | None = None) -> argparse.ArgumentParser:
    """The whole command line: this layer's commands, then the plug-ins' (default: the installed ones)."""
    plugins = registry() if plugins is None else plugins
    parser = argparse.ArgumentParser(prog="sentiric", description="Sentiric voice-AI telephony platform")
    parser.add_argument("--version", action="version", version=f"sentiric {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    config = sub.add_parser("config", help="print the effective settings (secrets masked)")
    config.set_defaults(func=_config)
    broker_cli.add_parser(sub)
    cert.add_parser(sub)
    replay.add_parser(sub, extra=plugins.replay_commands)
    supervisor.add_parser(sub)
    _add_processor_parser(sub)
    for add_parser in plugins.commands:
        add_parser(sub)
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
