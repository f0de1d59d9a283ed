"""Speech engines behind small `typing.Protocol`s: STT, the dialog engine, TTS; embedded defaults."""
