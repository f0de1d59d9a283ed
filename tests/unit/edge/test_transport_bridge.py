"""The media driver's part of a bridged transfer: ringback on the waiting caller, the join on answer,
the split when either call's media closes (fake sessions at the MediaPort seam)."""

from __future__ import annotations

from typing import Any

from edge.media.bridge import MediaBridge, Ringback
from edge.media.taps import AudioInjector, AudioTap
from edge.media_port import MediaOptions
from edge.transport import MediaDriver
from edge.uas.call import CloseMedia, JoinMedia, OpenMedia
from edge.uas.call import Ringback as RingbackEffect


class FakeSession:
    def __init__(self) -> None:
        self.taps: list[AudioTap] = []
        self.injectors: list[AudioInjector] = []
        self.listening = True
        self.stopped: list[str] = []
        self.closed = False
        self.last_rx_monotonic = 0.0

    def stop_listening(self) -> None:
        self.listening = False

    def stop_playback(self, playback_id: str | None = None, reason: str = "stopped") -> None:
        self.stopped.append(reason)

    def update_remote(self, addr: Any, direction: str) -> None: ...

    def prove(self) -> None: ...

    async def close(self) -> None:
        self.closed = True


class FakeEngine:
    def __init__(self) -> None:
        self.opened: dict[str, FakeSession] = {}

    async def open_session(self, call_id: str, options: MediaOptions, **kw: Any) -> FakeSession:
        self.opened[call_id] = FakeSession()
        return self.opened[call_id]


def options(port: int) -> MediaOptions:
    return MediaOptions(
        local_port=port,
        remote_addr=("192.0.2.10", 40000),
        codec="PCMU",
        payload_type=0,
        dtmf_payload_type=None,
    )


async def drained(driver: MediaDriver) -> None:
    await driver.drain()


async def test_ringback_then_join_then_split_on_close() -> None:
    engine = FakeEngine()
    closed: list[str] = []
    driver = MediaDriver(engine, closed.append)  # type: ignore[arg-type]  # the fake engine's sessions
    driver.apply(OpenMedia("caller", options(30000)))
    driver.apply(RingbackEffect("caller", on=True))
    await drained(driver)
    caller = engine.opened["caller"]
    (tone,) = caller.injectors
    assert isinstance(tone, Ringback) and tone.read_frame() is not None
    driver.apply(OpenMedia("leg", options(30002)))
    driver.apply(JoinMedia("caller", "leg"))  # in the same step as the leg's open: waits for it
    await drained(driver)
    leg = engine.opened["leg"]
    assert tone.finished  # the ringback stopped
    assert caller.stopped == ["bridged"] and not caller.listening and not leg.listening
    assert len(caller.taps) == len(leg.taps) == 1
    bridge = driver.bridges["caller"]
    assert isinstance(bridge, MediaBridge) and driver.bridges["leg"] is bridge and bridge.joined
    driver.apply(CloseMedia("leg"))
    await drained(driver)
    assert not bridge.joined and not driver.bridges and not caller.taps and leg.closed
    assert closed == ["leg"]


async def test_ringback_off_stops_the_tone() -> None:
    engine = FakeEngine()
    driver = MediaDriver(engine, lambda call_id: None)  # type: ignore[arg-type]
    driver.apply(OpenMedia("caller", options(30000)))
    driver.apply(RingbackEffect("caller", on=True))
    await drained(driver)
    (tone,) = engine.opened["caller"].injectors
    driver.apply(RingbackEffect("caller", on=False))
    await drained(driver)
    assert tone.finished and not driver.ringbacks
