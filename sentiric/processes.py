"""Child processes that cannot outlive their parent, and the run file that finds any that did.

Linux delivers a parent-death signal (`prctl(PR_SET_PDEATHSIG)`) to a child when the thread that
forked it dies — even when the parent is killed with SIGKILL, which no handler can see. It is set in
the child between fork and exec (after the user switch, which would clear it), so the program run
(java, postgres, python) inherits it. The run file is the second line of defence: it lists the
supervisor and each child (pid and kernel start time, so a reused pid is never mistaken for ours),
and the next `sentiric up` ends whatever is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

PR_SET_PDEATHSIG = 1


def parent_death_signal(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn`: the child gets `sig` when its parent dies. Async-signal-safe enough: one
    syscall through an already-loaded libc, no allocation worth the name."""
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() == 1:  # the parent died between fork and prctl: nobody will signal us
            os.kill(os.getpid(), int(sig))

    return preexec


def start_time(pid: int) -> int | None:
    """The kernel start time of `pid` (clock ticks since boot), or None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its closing one
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])  # field 22 of the whole line


def alive(pid: int, started: int | None) -> bool:
    """`pid` exists, is not a zombie, and is the same process (same start time) as recorded."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if state[state.rindex(")") + 2] == "Z":
        return False
    return started is None or start_time(pid) == started


def kill_group(pid: int, sig: int) -> None:
    """Signal the process group `pid` leads (each child is started in its own session), or just the
    process if it leads none."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def hard_exit_after(seconds: float, what: str) -> None:
    """Arm a daemon timer that ends this process if its orderly shutdown has not finished in time: a
    dependency that is down (the broker, the database) must not keep a stopping process alive."""

    def expire() -> None:
        log.error("shutdown did not finish in time, exiting", process=what, timeout_s=seconds)
        os._exit(1)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


@dataclass(frozen=True, slots=True)
class Recorded:
    name: str
    pid: int
    started: int | None


class RunFile:
    """`data_dir/up.run.json`: the running supervisor and its children, rewritten at every (re)start."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> tuple[Recorded | None, list[Recorded]]:
        try:
            data = json.loads(self.path.read_text())
            owner = Recorded(**data["supervisor"])
            return owner, [Recorded(**c) for c in data["children"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None, []

    def write(self, children: list[tuple[str, int]]) -> None:
        me = Recorded("up", os.getpid(), start_time(os.getpid()))
        rows = [asdict(Recorded(n, p, start_time(p))) for n, p in children]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps({"supervisor": asdict(me), "children": rows}))
        tmp.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def running_owner(self) -> int | None:
        """The pid of another `sentiric up` that still runs with this home, or None."""
        owner, _ = self.read()
        if owner is None or owner.pid == os.getpid() or not alive(owner.pid, owner.started):
            return None
        return owner.pid

    def clean_stale(self, grace_s: float = 3.0) -> list[Recorded]:
        """End the children a dead supervisor left behind (SIGTERM, SIGKILL after `grace_s`)."""
        owner, children = self.read()
        if owner is not None and owner.pid != os.getpid() and alive(owner.pid, owner.started):
            return []
        stale = [c for c in children if alive(c.pid, c.started)]
        for child in stale:
            log.warning("ending a child left by an earlier sentiric up", process=child.name, pid=child.pid)
            kill_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(alive(c.pid, c.started) for c in stale):
            time.sleep(0.1)
        for child in stale:
            if alive(child.pid, child.started):
                kill_group(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0  # postgres backends leave once their postmaster is gone
        while time.monotonic() < deadline and any(alive(c.pid, c.started) for c in stale):
            time.sleep(0.1)
        self.remove()
        return stale
