"""A user's stream processor as `sentiric processor run module:agent` in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.e2e.stack import ROOT, worker_env


class ProcessorProcess:
    """`python -m sentiric.cli processor run <spec>` with the platform's settings from the environment."""

    def __init__(self, spec: str, bootstrap: str, home: Path, cache: Path, **extra: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.spec = spec
        self.env = worker_env(bootstrap, home, cache, **extra)
        self.log = home / "processor.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sentiric.cli", "processor", "run", self.spec],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=out,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
