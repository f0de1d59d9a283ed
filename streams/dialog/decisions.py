"""What the dialog reducer asks the world to do. Decisions are data; the Faust agent carries them out.

- `Send(node, command)`: produce `command` on `sentiric.commands.<node>` (the edge that owns the call).
- `Record(fact)`: produce `fact` on `sentiric.calls` (state changes, prompts to synthesize, DTMF input).
- `ArmTimer(timer, armed_seq, delay_s)`: fire `DialogTimerFired(timer, armed_seq)` after `delay_s`
  unless re-armed or cancelled; the one armed timer of a call replaces any earlier one.
- `CancelTimer()`: no timer is armed any more.
- `DropState()`: the call is over; delete its table entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.models import Command, Fact
from streams.dialog.state import TimerName


@dataclass(frozen=True, slots=True)
class Send:
    node: str
    command: Command


@dataclass(frozen=True, slots=True)
class Record:
    fact: Fact


@dataclass(frozen=True, slots=True)
class ArmTimer:
    timer: TimerName
    armed_seq: int
    delay_s: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    pass


@dataclass(frozen=True, slots=True)
class DropState:
    pass


Decision = Send | Record | ArmTimer | CancelTimer | DropState
