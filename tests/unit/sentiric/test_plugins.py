"""`sentiric` is the bottom layer: it imports nothing above it, and the packages above register their
subcommands and process hooks with it (sentiric/plugins.py)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import sentiric
from sentiric import cli, supervisor
from sentiric.plugins import GROUP, Registry, load, registry
from sentiric.settings import Settings

ABOVE = ("edge", "streams", "projections")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_the_bottom_layer_imports_nothing_above_it() -> None:
    root = Path(sentiric.__file__).parent
    offending = {
        f"{path.relative_to(root.parent)}: {name}"
        for path in sorted(root.rglob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0] in ABOVE
    }
    assert not offending


def test_plugins_add_commands_replay_subcommands_and_processes() -> None:
    seen: list[str] = []

    def register(registry: Registry) -> None:
        def add_hello(sub: Any) -> None:
            sub.add_parser("hello").set_defaults(func=lambda a: seen.append("hello") or 0)

        def add_replay_echo(replay: Any) -> None:
            echo = replay.add_parser("echo")
            echo.add_argument("word")
            echo.set_defaults(func=lambda a: seen.append(a.word) or 0)

        registry.command(add_hello)
        registry.replay_command(add_replay_echo)
        registry.process("edge", refusal=lambda s: "no" if s.sip_host == "0.0.0.0" else None)

    plugins = load([register])
    parser = cli.build_parser(plugins)
    for argv in (["hello"], ["replay", "echo", "hi"]):
        args = parser.parse_args(argv)
        assert args.func(args) == 0
    assert seen == ["hello", "hi"]
    assert supervisor.available_processes(plugins) == ["edge"]
    refusal = plugins.processes["edge"].refusal
    assert refusal is not None and refusal(Settings(sip_host="0.0.0.0")) == "no"


def test_the_installed_plugins_are_the_edge_the_worker_and_the_read_side() -> None:
    """The entry points of pyproject.toml, as installed (a stale editable install fails here)."""
    installed = registry()
    assert supervisor.available_processes(installed) == ["edge", "worker", "api"], GROUP
    parser = cli.build_parser()
    assert parser.parse_args(["edge", "--node-id", "edge-2"]).node_id == "edge-2"
    assert parser.parse_args(["replay", "dialog", "c1"]).call_id == "c1"
    rebuild = parser.parse_args(["replay", "rebuild"]).func
    assert rebuild is parser.parse_args(["projections", "rebuild"]).func  # one command, two spellings
