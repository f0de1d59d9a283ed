"""`sentiric edge`: run the edge process (SIP UAS, media, commands) under uvloop; the edge's plug-in
(`sentiric.plugins`): the subcommand, and the settings `sentiric up` refuses to start an edge with."""

from __future__ import annotations

import argparse
import sys

from sentiric.plugins import Registry
from sentiric.settings import Settings, get_settings


def register(registry: Registry) -> None:
    registry.command(add_parser)
    registry.process("edge", refusal=refusal)


def refusal(settings: Settings) -> str | None:
    """SIP open to every source beyond loopback without an explicit access default (`edge.uas.access`)."""
    from edge.uas.access import exposure_error

    return exposure_error(settings.sip_default_access, settings.sip_host)


def _run(args: argparse.Namespace) -> int:
    import uvloop

    from edge.app import run
    from sentiric.eventlog.connection import require_access
    from sentiric.exposure import default_token_refusal

    settings = get_settings()
    overrides = {k: v for k, v in (("sip_port", args.sip_port), ("node_id", args.node_id)) if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    refused = default_token_refusal(settings, {"the edge's /ws and gRPC": settings.sip_host}) or refusal(
        settings
    )
    if refused is not None:
        print(f"sentiric edge: {refused}", file=sys.stderr)
        return 2
    require_access(settings)  # wrong credentials or CA: one clear line, exit 78
    uvloop.run(run(settings))
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("edge", help="run the edge: SIP user-agent server, media, commands")
    parser.add_argument("--sip-port", type=int, default=None, help="override SENTIRIC_SIP_PORT")
    parser.add_argument("--node-id", default=None, help="override SENTIRIC_NODE_ID")
    parser.set_defaults(func=_run)
