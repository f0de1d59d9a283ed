"""The call's audio frame: 20 ms of 8 kHz mono int16 PCM, the unit every media tick moves."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FRAME_SAMPLES = 160
FRAME_BYTES = FRAME_SAMPLES * 2
Int16Array = npt.NDArray[np.int16]


def mix(a: Int16Array, b: Int16Array) -> Int16Array:
    """Sum two int16 frames with saturation."""
    mixed: Int16Array = np.clip(a.astype(np.int32) + b, -32768, 32767).astype(np.int16)
    return mixed
