"""Plug-ins: the packages above `sentiric` add their subcommands and their process hooks from above.

`sentiric` is the bottom layer (settings, logging, the log client, the local broker): it imports
nothing from `edge`, `streams` or `projections`. Those declare themselves in pyproject.toml, as entry
points of the group ``sentiric.plugins``::

    [project.entry-points."sentiric.plugins"]
    edge = "edge.cli:register"

Each names a ``register(registry: Registry) -> None`` that adds, to the registry it is given:

- ``registry.command(add_parser)``: a top-level subcommand (``add_parser(subparsers)``, argparse);
- ``registry.replay_command(add_parser)``: a subcommand of ``sentiric replay``;
- ``registry.process(name, refusal=..., ready=...)``: a process ``sentiric up`` may supervise, with the
  settings it refuses to start with (a sentence, or None) and its readiness probe beyond the
  supervisor's own.

`registry()` loads every installed plug-in once per process. An editable install made before a
plug-in was declared does not list it: reinstall (``pip install -e .``, which ``make`` does whenever
pyproject.toml changes).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from sentiric.settings import Settings

GROUP = "sentiric.plugins"
AddParser = Callable[[Any], None]  # add_parser(subparsers): argparse's subparsers action
Refusal = Callable[[Settings], str | None]
Probe = Callable[[Settings], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Process:
    """A long-running process `sentiric up` can start (its subcommand has the same name)."""

    name: str
    refusal: Refusal | None = None  # why it must not start with these settings, or None
    ready: Probe | None = None  # serving yet (the supervisor adds its own probes: SIP, HTTP, group)


@dataclass(slots=True)
class Registry:
    commands: list[AddParser] = field(default_factory=list)
    replay_commands: list[AddParser] = field(default_factory=list)
    processes: dict[str, Process] = field(default_factory=dict)

    def command(self, add_parser: AddParser) -> None:
        self.commands.append(add_parser)

    def replay_command(self, add_parser: AddParser) -> None:
        self.replay_commands.append(add_parser)

    def process(self, name: str, *, refusal: Refusal | None = None, ready: Probe | None = None) -> None:
        self.processes[name] = Process(name, refusal, ready)


def load(register: list[Callable[[Registry], None]]) -> Registry:
    """A registry filled by these `register` functions, in order."""
    filled = Registry()
    for fn in register:
        fn(filled)
    return filled


@functools.cache
def registry() -> Registry:
    """Every installed plug-in, loaded once (in entry-point name order, so help output is stable)."""
    return load([ep.load() for ep in sorted(entry_points(group=GROUP), key=lambda ep: ep.name)])
