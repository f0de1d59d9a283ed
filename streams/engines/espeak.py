"""espeak-ng text-to-speech, embedded: libespeak-ng from the `espeakng-loader` wheel through ctypes.

The library is driven in synchronous mode (`AUDIO_OUTPUT_SYNCHRONOUS`): `espeak_Synth` returns when
the whole text is spoken, the samples having arrived through the synth callback as 16-bit mono PCM
at the rate `espeak_Initialize` reported (22050 Hz for the bundled voices). libespeak-ng keeps
global state, so one lock serializes every use in the process. Without the wheel, the `espeak-ng`
command line (`--stdout` gives a WAV) is the fallback.

API (espeak-ng `speak_lib.h`)::

    int espeak_Initialize(espeak_AUDIO_OUTPUT output, int buflength, const char *path, int options);
    void espeak_SetSynthCallback(int (*cb)(short *wav, int numsamples, espeak_EVENT *events));
    espeak_ERROR espeak_SetVoiceByName(const char *name);
    espeak_ERROR espeak_SetParameter(espeak_PARAMETER parameter, int value, int relative);
    espeak_ERROR espeak_Synth(const void *text, size_t size, unsigned int position,
                              espeak_POSITION_TYPE position_type, unsigned int end_position,
                              unsigned int flags, unsigned int *unique_identifier, void *user_data);
"""

from __future__ import annotations

import ctypes
import io
import shutil
import subprocess
import threading
import wave
from pathlib import Path
from typing import Final

from streams.engines.errors import EngineError
from streams.engines.tts import Speech

AUDIO_OUTPUT_SYNCHRONOUS: Final = 2
ESPEAK_RATE: Final = 1
ESPEAK_CHARS_UTF8: Final = 1
EE_OK: Final = 0
DEFAULT_RATE_WPM: Final = 150

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_lock = threading.Lock()


def voice_for(language: str) -> str:
    """espeak-ng voice name for a BCP 47 tag: `en-US` → `en-us`, `tr-TR` → `tr`."""
    tag = language.lower().replace("_", "-")
    if tag.startswith("en-"):
        return "en-us" if tag == "en-us" else "en-gb" if tag in ("en-gb", "en-uk") else "en"
    return tag.split("-")[0]


class _Library:
    """The process-wide libespeak-ng, initialized once."""

    def __init__(self, lib_path: str, data_dir: str) -> None:
        self.lib = ctypes.CDLL(lib_path)
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        # The path argument is the directory that *contains* espeak-ng-data.
        rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, str(Path(data_dir).parent).encode(), 0)
        if rate <= 0:
            raise EngineError(f"espeak_Initialize failed ({rate}) with data {data_dir}")
        self.sample_rate = rate
        self._chunks: list[bytes] = []
        self._callback = _CALLBACK(self._on_samples)  # kept referenced: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        self._voice: str | None = None

    def _on_samples(self, wav: ctypes._Pointer[ctypes.c_short], n: int, _events: int | None) -> int:
        if n > 0 and wav:  # type: ignore[truthy-bool]  # a NULL ctypes pointer is false
            self._chunks.append(ctypes.string_at(wav, n * 2))
        return 0  # 0 = continue synthesis

    def speak(self, text: str, voice: str, rate_wpm: int) -> bytes:
        if voice != self._voice:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != EE_OK:
                raise EngineError(f"espeak-ng has no voice {voice!r}")
            self._voice = voice
        self.lib.espeak_SetParameter(ESPEAK_RATE, rate_wpm, 0)
        data = text.encode() + b"\0"
        self._chunks = []
        err = self.lib.espeak_Synth(data, len(data), 0, 0, 0, ESPEAK_CHARS_UTF8, None, None)
        if err != EE_OK:
            raise EngineError(f"espeak_Synth failed with error {err}")
        return b"".join(self._chunks)


_library: _Library | None = None


def _load_library() -> _Library | None:
    global _library
    if _library is None:
        try:
            import espeakng_loader
        except ImportError:
            return None
        _library = _Library(espeakng_loader.get_library_path(), espeakng_loader.get_data_path())
    return _library


class EspeakTTS:
    """TextToSpeech with espeak-ng; embedded library first, `espeak-ng` command line otherwise."""

    name = "espeak-ng"

    def __init__(self, rate_wpm: int = DEFAULT_RATE_WPM, *, prefer_cli: bool = False) -> None:
        self.rate_wpm = rate_wpm
        self._prefer_cli = prefer_cli
        if not prefer_cli and _load_library() is None and shutil.which("espeak-ng") is None:
            raise EngineError("espeak-ng is not available: install espeakng-loader or the espeak-ng command")

    def synthesize(self, text: str, language: str) -> Speech:
        if not text.strip():
            raise EngineError("nothing to synthesize: empty text")
        voice = voice_for(language)
        lib = None if self._prefer_cli else _load_library()
        if lib is None:
            return self._cli(text, voice)
        with _lock:
            pcm = lib.speak(text, voice, self.rate_wpm)
        return Speech(pcm, lib.sample_rate)

    def _cli(self, text: str, voice: str) -> Speech:
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise EngineError("the espeak-ng command is not installed")
        proc = subprocess.run(
            [exe, "-v", voice, "-s", str(self.rate_wpm), "--stdout", text], capture_output=True, check=False
        )
        if proc.returncode != 0:
            raise EngineError(
                f"espeak-ng exited with {proc.returncode}: {proc.stderr.decode(errors='replace')}"
            )
        with wave.open(io.BytesIO(proc.stdout)) as w:
            return Speech(w.readframes(w.getnframes()), w.getframerate())
