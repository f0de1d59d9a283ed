from __future__ import annotations

import asyncio

import numpy as np
import pytest

from edge.media.taps import AudioInjector, AudioTap, mix


def frame(value: int) -> np.ndarray:
    return np.full(160, value, dtype=np.int16)


def test_mix_saturates() -> None:
    assert mix(frame(30000), frame(10000))[0] == 32767
    assert mix(frame(-30000), frame(-10000))[0] == -32768
    assert mix(frame(100), frame(-40))[0] == 60


async def test_tap_queues_the_asked_direction_and_drops_oldest_when_behind() -> None:
    tap = AudioTap("mixed", max_frames=3)
    for i in range(5):
        tap.push(frame(i), frame(10))
    assert tap.dropped == 2
    got = [np.frombuffer(await tap.get(), "<i2")[0] for _ in range(3)]
    assert got == [12, 13, 14]
    tap.close()
    assert await tap.get() is None
    tap.push(frame(1), frame(1))  # after close: ignored
    with pytest.raises(ValueError, match="direction"):
        AudioTap("both")  # type: ignore[arg-type]


def test_injector_hands_out_whole_frames_and_bounds_its_buffer() -> None:
    injector = AudioInjector(max_ms=100)
    injector.write(np.arange(100, dtype=np.int16))
    assert injector.read_frame() is None  # an underrun gives nothing, not a partial frame
    injector.write(np.arange(100, 260, dtype=np.int16))
    assert injector.read_frame().tolist() == list(range(160))
    injector.write(np.zeros(8000, dtype=np.int16))  # one second: far more than 100 ms
    assert injector.buffered_ms == 100 and injector.dropped_bytes > 0
    while injector.read_frame() is not None:
        pass
    injector.write(np.ones(50, dtype=np.int16))
    injector.end()
    last = injector.read_frame()
    assert last is not None and last[:50].tolist() == [1] * 50 and not last[50:].any()
    assert injector.finished


async def test_injector_drained_waits_for_the_reader_and_abort_releases_it() -> None:
    injector = AudioInjector()
    injector.write(np.zeros(480, dtype=np.int16))  # 60 ms
    waiter = asyncio.ensure_future(injector.drained(20))
    await asyncio.sleep(0)
    injector.read_frame()
    await asyncio.sleep(0)
    assert not waiter.done()
    injector.read_frame()
    await asyncio.wait_for(waiter, 1)
    blocked = asyncio.ensure_future(injector.drained())
    await asyncio.sleep(0)
    injector.abort()
    await asyncio.wait_for(blocked, 1)
    assert injector.finished
