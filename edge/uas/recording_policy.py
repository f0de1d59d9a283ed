"""Dialplan recording policy: every answered call of a plan with ``record`` set is recorded, and its
recording deleted ``record_retention_days`` later.

:class:`RecordingPolicy` is pure, facts in, actions out: ``DialplanResolved`` names the plan (looked
up in the edge's config table: the plan as it is when the call arrives), ``CallEstablished`` (the
ACK) → :class:`Record`; the call's media session stops the recording when it closes and records
``RecordingFinished``.  The file goes under the recordings root as
``policy/retain-<days>d/<YYYY-MM-DD>/<call_id>.<format>`` (``retain-0d``: kept), so retention needs
no index: :func:`expired` lists the files older than their directory's days, and
:class:`PolicyRecorder` (the asyncio adapter) deletes them once an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import structlog

from edge.uas.dialplan import Plan
from schemas import models as f

log = structlog.get_logger(__name__)

POLICY_DIR: Final = "policy"
RETAIN_DIR: Final = re.compile(r"^retain-(\d{1,5})d$")
SWEEP_EVERY_S: Final = 3600.0
DAY_S: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class Record:
    call_id: str
    recording_id: str
    relative_path: str  # under the recordings root
    format: str


@dataclass(slots=True)
class RecordingPolicy:
    plan_of: Callable[[str], Plan | None]
    calls: dict[str, Plan] = field(default_factory=dict)

    def observe(self, fact: Any, now: datetime) -> list[Record]:
        if isinstance(fact, f.DialplanResolved):
            plan = self.plan_of(fact.dialplan_id)
            if plan is not None and plan.record:
                self.calls[fact.call_id] = plan
            return []
        plan = self.calls.get(fact.call_id)
        if plan is None:
            return []
        if isinstance(fact, f.CallEnded):
            del self.calls[fact.call_id]
        elif isinstance(fact, f.CallEstablished):
            del self.calls[fact.call_id]  # once: a re-INVITE's ACK is not a second CallEstablished
            path = (
                f"{POLICY_DIR}/retain-{plan.record_retention_days}d/{now:%Y-%m-%d}/"
                f"{fact.call_id}.{plan.record_format}"
            )
            return [Record(fact.call_id, f"policy-{uuid.uuid4().hex[:12]}", path, plan.record_format)]
        return []


def expired(root: Path, now: float) -> Iterator[Path]:
    """Policy recordings under ``root`` older than their ``retain-<days>d`` directory allows."""
    base = root / POLICY_DIR
    if not base.is_dir():
        return
    for retain in base.iterdir():
        match = RETAIN_DIR.match(retain.name)
        if match is None or int(match.group(1)) == 0 or not retain.is_dir():
            continue
        limit = now - int(match.group(1)) * DAY_S
        for dirpath, _, files in os.walk(retain):
            for name in files:
                path = Path(dirpath) / name
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < limit:
                        yield path


class PolicyRecorder:
    """Carries the policy out in the edge process: StartRecording to the media engine, and the sweep."""

    def __init__(self, policy: RecordingPolicy, root: Path) -> None:
        self.policy = policy
        self.root = root
        self.engine: Any = None
        self.source = "edge"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, engine: Any, source: str) -> None:
        self.engine, self.source = engine, source
        self._loop = asyncio.get_running_loop()
        self._sweeper = self._loop.create_task(self._sweep_forever(), name="edge-recording-retention")

    def observe(self, record: Any) -> None:
        if self._loop is None or not isinstance(record, f.Fact):
            return
        for action in self.policy.observe(record, datetime.now(UTC)):
            task = self._loop.create_task(self._record(action))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _record(self, action: Record) -> None:
        target = self.root / action.relative_path
        command = f.StartRecording(
            event_id=uuid.uuid4(), call_id=action.call_id, seq=0, occurred_at=datetime.now(UTC),
            source=self.source, trace_id=action.call_id, recording_id=action.recording_id,
            output_uri=target.as_uri(), format=action.format,
        )  # fmt: skip
        try:
            await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
            session = getattr(self.engine, "session", None)
            deadline = time.monotonic() + 3.0  # the ACK can beat the media session's opening
            while session is not None and session(action.call_id) is None:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
            await self.engine.execute(command)
        except Exception as exc:  # the call goes on unrecorded: said, not silent
            log.error("policy recording did not start", call_id=action.call_id, error=str(exc))

    def sweep(self, now: float | None = None) -> int:
        removed = 0
        for path in expired(self.root, time.time() if now is None else now):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        if removed:
            log.info("expired recordings deleted", count=removed)
        return removed

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:  # a failed sweep is tried again next time
                log.exception("recording retention sweep failed")
            await asyncio.sleep(SWEEP_EVERY_S)

    async def stop(self) -> None:
        tasks = list(self._tasks) + ([self._sweeper] if self._sweeper is not None else [])
        for task in tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
