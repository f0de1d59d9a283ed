from __future__ import annotations

import argparse

from streams.cli import add_parser


def test_worker_subcommand_is_registered() -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["worker", "--stt-engine", "pocketsphinx"])
    assert args.command == "worker" and args.stt_engine == "pocketsphinx" and args.dialog_engine is None
    assert callable(args.func)
