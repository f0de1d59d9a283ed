from __future__ import annotations

from typing import Any

import pytest

from edge.media.clock import MediaClock


class FakeLoop:
    """Just enough of an event loop: a settable time and the one timer the clock arms."""

    def __init__(self) -> None:
        self.now = 100.0
        self.armed: list[float] = []
        self._callback: Any = None

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any) -> Any:
        self.armed.append(when)
        self._callback = callback
        loop = self

        class Handle:
            def cancel(self) -> None:
                loop._callback = None

        return Handle()

    def run_until(self, t: float, work: float = 0.0) -> None:
        """Fire the armed timer whenever it is due, each tick taking ``work`` seconds."""
        while self._callback is not None and self.armed[-1] <= t:
            self.now = max(self.now, self.armed[-1])
            callback, self._callback = self._callback, None
            callback()
            self.now += work


class Recorder:
    def __init__(self) -> None:
        self.ticks: list[float] = []

    def tick(self, now: float) -> None:
        self.ticks.append(now)


def test_ticks_stay_on_the_grid_however_long_a_tick_takes() -> None:
    loop = FakeLoop()
    clock = MediaClock(0.02, loop=loop)  # type: ignore[arg-type]
    member = Recorder()
    clock.add(member)
    clock.start()
    loop.run_until(100.0 + 10.0, work=0.013)  # every tick runs 13 ms late work
    assert len(member.ticks) == 500
    assert member.ticks == pytest.approx([100.02 + 0.02 * k for k in range(500)])
    assert loop.armed[-1] == pytest.approx(100.02 + 0.02 * 500)  # no drift after 500 ticks
    assert clock.late_ticks == 0 and clock.skipped_ticks == 0


def test_missed_ticks_catch_up_then_skip() -> None:
    loop = FakeLoop()
    clock = MediaClock(0.02, loop=loop, max_catch_up=5)  # type: ignore[arg-type]
    member = Recorder()
    clock.add(member)
    clock.start()
    loop.run_until(100.02)
    loop.now = 100.02 + 0.065  # a 65 ms stall: 3 ticks missed
    loop.run_until(100.2)
    assert member.ticks[:5] == pytest.approx([100.02, 100.04, 100.06, 100.08, 100.10])
    assert clock.late_ticks == 1 and clock.skipped_ticks == 0
    loop.now = 101.0  # a 0.9 s stall: far beyond the catch-up window
    loop.run_until(101.2)
    assert clock.skipped_ticks > 0
    assert member.ticks[-1] == pytest.approx(100.02 + 0.02 * round((member.ticks[-1] - 100.02) / 0.02))
    gaps = [b - a for a, b in zip(member.ticks, member.ticks[1:], strict=False)]
    assert max(gaps) > 0.5  # the receiver sees one gap, not a burst of 45 packets


def test_a_failing_member_does_not_stop_the_others() -> None:
    loop = FakeLoop()
    clock = MediaClock(0.02, loop=loop)  # type: ignore[arg-type]

    class Broken:
        def tick(self, now: float) -> None:
            raise RuntimeError("boom")

    good = Recorder()
    clock.add(Broken())
    clock.add(good)
    clock.start()
    loop.run_until(100.1)
    assert len(good.ticks) == 5
    clock.discard(good)
    loop.run_until(100.2)
    assert len(good.ticks) == 5
    clock.stop()
    assert not clock.running


class Phased:
    """A member with a send and a receive phase, logging the order the clock runs them in."""

    def __init__(self, name: str, log: list[str], fail: bool = False) -> None:
        self.name, self.log, self.fail = name, log, fail

    def tick(self, now: float) -> None:  # pragma: no cover - the clock must use the phases
        raise AssertionError("a phased member is ticked through send_tick/receive_tick")

    def send_tick(self, now: float) -> None:
        self.log.append(f"send {self.name}")
        if self.fail:
            raise RuntimeError("send failed")

    def receive_tick(self, now: float) -> None:
        self.log.append(f"receive {self.name}")


class Plain:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def tick(self, now: float) -> None:
        self.log.append("tick plain")


def test_every_send_phase_runs_before_any_receive_phase() -> None:
    loop = FakeLoop()
    log: list[str] = []
    clock = MediaClock(loop=loop)  # type: ignore[arg-type]
    for member in (Phased("a", log), Plain(log), Phased("b", log, fail=True)):
        clock.add(member)
    clock.start()
    loop.run_until(loop.armed[-1])
    assert log == ["send a", "tick plain", "send b", "receive a", "receive b"]  # b's failed send is isolated


class Effectful:
    """A sans-IO member: its phases return effects, which the clock hands to its carry."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.carried: list[list[str]] = []

    def clock_phases(self) -> tuple[Any, Any, Any]:
        def send(now: float) -> list[str]:
            self.log.append("send e")
            return [f"packet@{now:.2f}"]

        def receive(now: float) -> tuple[str, ...]:
            self.log.append("receive e")
            return ()  # nothing to carry: carry is not called

        return send, receive, None, self.carried.append


def test_an_effectful_members_phases_return_effects_to_its_carry() -> None:
    loop = FakeLoop()
    log: list[str] = []
    clock = MediaClock(loop=loop)  # type: ignore[arg-type]
    member = Effectful(log)
    clock.add(Phased("a", log))
    clock.add(member)
    clock.start()
    first = loop.armed[-1]
    loop.run_until(first)
    assert log == ["send a", "send e", "receive a", "receive e"]
    assert member.carried == [[f"packet@{first:.2f}"]]
    clock.run_tick(first + 0.02)  # by hand, as a bench drives it: the same two phases
    assert log[4:] == ["send a", "send e", "receive a", "receive e"] and len(member.carried) == 2
    clock.discard(member)
    clock.run_tick(first + 0.04)
    assert len(member.carried) == 2 and log[-1] == "receive a"


class Settling(Phased):
    """A phased member with a settle phase: it takes what the batch answered for its receive phase."""

    def settle_tick(self, now: float) -> None:
        self.log.append(f"settle {self.name}")


def test_batches_run_after_every_receive_phase_and_before_any_settle_phase() -> None:
    """The VAD batch's place in a tick: receive phases queue windows, one batch run scores them all,
    the settle phases take the decisions; a failing batch is isolated and the settle phases still run."""
    loop = FakeLoop()
    log: list[str] = []
    clock = MediaClock(loop=loop)  # type: ignore[arg-type]
    for member in (Settling("a", log), Phased("p", log), Settling("b", log)):
        clock.add(member)
    clock.add_batch(lambda: log.append("batch"))

    def broken() -> None:
        log.append("broken batch")
        raise RuntimeError("inference failed")

    clock.add_batch(broken)
    clock.run_tick(1.0)
    assert log == [
        "send a",
        "send p",
        "send b",
        "receive a",
        "receive p",
        "receive b",
        "batch",
        "broken batch",
        "settle a",
        "settle b",
    ]
