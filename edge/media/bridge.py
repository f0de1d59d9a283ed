"""Two calls' media joined (the B2BUA bridge of a transfer) and the ringback a waiting caller hears.

Every media session decodes what it receives to 20 ms frames of 8 kHz PCM and encodes what it sends
from them (G.711 directly, G.722/Opus through the session's transcoder), so a bridge between legs with
different codecs is a transcode by construction: no codec appears here.  Both sessions tick on the
shared media clock; on each tick a leg's ``receive_tick`` hands its caller frame to its taps, and on
the next its partner's ``send_tick`` takes one frame from its injectors::

    leg A ──decoded frame──▶ BridgeFeed(A) ──write──▶ AudioInjector(B) ──read_frame──▶ leg B sends it
    leg B ──decoded frame──▶ BridgeFeed(B) ──write──▶ AudioInjector(A) ──read_frame──▶ leg A sends it

The injectors are bounded (``max_ms``): a leg whose packets arrive in a burst cannot build up delay
beyond that, its oldest audio is dropped and counted instead.  Nothing here waits or touches a
socket: ``join`` and ``split`` only add and remove the session's taps and injectors (sans-IO; the
driver calls them on the loop that runs the clock).

:class:`Ringback` is the tone a caller hears while the target rings (ITU-T E.180: 425 Hz, 1 s on,
4 s off), generated one frame at a time for as long as it is wanted.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from edge.media.frame import FRAME_SAMPLES, Int16Array
from edge.media.taps import AudioInjector, AudioTap

SAMPLE_RATE = 8000
RINGBACK_HZ = 425.0
RINGBACK_ON_FRAMES = 50  # 1 s
RINGBACK_PERIOD_FRAMES = 250  # 1 s on, 4 s off
RINGBACK_LEVEL = 0.25  # of full scale: about -15 dBFS, a comfortable tone
BRIDGE_MAX_MS = 200  # the most delay one direction may build up before its oldest audio is dropped


class Leg(Protocol):
    """What the bridge needs of a media session (``MediaSession`` or the ``RtpEndpoint`` around it)."""

    @property
    def taps(self) -> list[AudioTap]: ...

    @property
    def injectors(self) -> list[AudioInjector]: ...

    def stop_listening(self) -> None:
        """No VAD while bridged: what the two people say is theirs, not the agent's input."""


def _ringback_frames() -> Int16Array:
    """One period's tone frames (the on part; the off part is silence, not stored)."""
    t = np.arange(RINGBACK_ON_FRAMES * FRAME_SAMPLES) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * RINGBACK_HZ * t) * (RINGBACK_LEVEL * 32767)
    on: Int16Array = tone.astype(np.int16)
    return on


_RINGBACK_ON = _ringback_frames()
_SILENCE = np.zeros(FRAME_SAMPLES, dtype=np.int16)


class Ringback(AudioInjector):
    """An endless ringback tone, one frame per tick until :meth:`end` (or ``abort``) stops it."""

    __slots__ = ("_frame",)

    def __init__(self) -> None:
        super().__init__(max_ms=0)
        self._frame = 0

    def read_frame(self) -> Int16Array | None:
        if self.ended:
            return None
        k = self._frame % RINGBACK_PERIOD_FRAMES
        self._frame += 1
        if k >= RINGBACK_ON_FRAMES:
            return _SILENCE
        start = k * FRAME_SAMPLES
        return _RINGBACK_ON[start : start + FRAME_SAMPLES]

    @property
    def finished(self) -> bool:
        return self.ended


class BridgeFeed(AudioTap):
    """A tap on one leg that writes the frames it receives into its partner's injector."""

    __slots__ = ("into",)

    def __init__(self, into: AudioInjector) -> None:
        super().__init__("caller", max_frames=1)  # the queue is never used: frames go to ``into``
        self.into = into

    def push(self, caller: Int16Array, agent: Int16Array) -> None:
        if not self.closed:
            self.into.write(caller)

    def close(self) -> None:
        """The leg's session ended: its partner hears the rest of what was written, then nothing."""
        if not self.closed:
            self.closed = True
            self.into.end()


class MediaBridge:
    """The two directions between legs ``a`` and ``b``; ``join`` starts them, ``split`` stops them."""

    __slots__ = ("_feeds", "_into", "a", "b", "joined")

    def __init__(self, a: Leg, b: Leg, *, max_ms: int = BRIDGE_MAX_MS) -> None:
        self.a, self.b = a, b  # joined for good: a call once bridged never goes back to its agent
        self._into = (AudioInjector(max_ms=max_ms), AudioInjector(max_ms=max_ms))  # into a, into b
        self._feeds = (BridgeFeed(self._into[1]), BridgeFeed(self._into[0]))  # from a, from b
        self.joined = False

    @property
    def dropped_ms(self) -> tuple[int, int]:
        """Audio dropped towards a and towards b because it came faster than it could be sent."""
        return (self._into[0].dropped_bytes // 16, self._into[1].dropped_bytes // 16)

    def join(self) -> None:
        if self.joined:
            return
        self.joined = True
        self.a.stop_listening()
        self.b.stop_listening()
        self.a.taps.append(self._feeds[0])
        self.b.taps.append(self._feeds[1])
        self.a.injectors.append(self._into[0])
        self.b.injectors.append(self._into[1])

    def split(self) -> None:
        """Stop both directions (either leg ended): nothing more is written or read."""
        if not self.joined:
            return
        self.joined = False
        for leg, feed, into in (
            (self.a, self._feeds[0], self._into[0]),
            (self.b, self._feeds[1], self._into[1]),
        ):
            feed.close()
            into.abort()
            if feed in leg.taps:
                leg.taps.remove(feed)
            if into in leg.injectors:
                leg.injectors.remove(into)
