from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest

from edge.media.codecs.g711 import PCMA, PCMU
from edge.media.playback import (
    PromptCache,
    PromptError,
    PromptFinished,
    PromptPlayer,
    decode_wav,
    frames,
    load_wav,
)
from edge.media.rtp.packet import RtpPacket
from edge.media.rtp.sender import RtpSender


def tone(samples: int, rate: int = 8000, freq: float = 440.0) -> np.ndarray:
    return (np.sin(2 * np.pi * freq * np.arange(samples) / rate) * 8000).astype(np.int16)


def write_wav(path: Path, pcm16: np.ndarray, rate: int, width: int = 2, channels: int = 1) -> Path:
    if width == 1:
        raw = ((pcm16.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes()
    elif width == 2:
        raw = pcm16.astype("<i2").tobytes()
    elif width == 3:
        wide = pcm16.astype(np.int32) << 8
        raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in wide)
    else:
        raw = (pcm16.astype(np.int32) << 16).astype("<i4").tobytes()
    if channels > 1:
        per_sample = np.frombuffer(raw, dtype=np.uint8).reshape(-1, width)
        raw = np.repeat(per_sample, channels, axis=0).tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(raw)
    return path


def test_frames_pad_the_last_one() -> None:
    out = list(frames(np.arange(400, dtype=np.int16)))
    assert [f.size for f in out] == [160, 160, 160]
    assert out[2][:80].tolist() == list(range(320, 400)) and not out[2][80:].any()


def test_player_keeps_rtp_continuous_across_prompts() -> None:
    sender = RtpSender(0, ssrc=99, initial_seq=65530, initial_ts=1000)
    player = PromptPlayer(sender, PCMU)
    player.play(tone(400), prompt_id="greeting")  # 3 frames (last padded)
    player.play(tone(320), prompt_id="menu")  # 2 frames, queued right behind
    packets = []
    now = 0.0
    while (packet := player.next_packet(now)) is not None:
        packets.append(RtpPacket.parse(bytes(packet)))
        now += 0.02
    assert [p.sequence_number for p in packets] == [65530, 65531, 65532, 65533, 65534]
    assert [p.timestamp for p in packets] == [1000 + 160 * i for i in range(5)]
    assert [p.marker for p in packets] == [True, False, False, False, False]
    assert all(len(p.payload) == 160 and p.payload_type == 0 for p in packets)
    assert PCMU.decode(packets[0].payload).tolist() == PCMU.decode(PCMU.encode(tone(160))).tolist()
    assert player.pop_finished() == [PromptFinished("greeting", 50, False), PromptFinished("menu", 40, False)]
    assert player.pop_finished() == []

    # a later prompt after 1 s idle: new talkspurt, sequence continues, timestamp follows the clock
    player.play(tone(160), prompt_id="later")
    later = player.next_packet(now + 1.0)
    assert later is not None
    assert (later.sequence_number, later.marker) == (65535, True)
    assert later.timestamp == 1000 + 160 * 4 + 8000 + 160


def test_stop_reports_played_ms_and_clears_queue() -> None:
    player = PromptPlayer(RtpSender(8, ssrc=1, initial_seq=0, initial_ts=0), PCMA)
    player.play(tone(8000), prompt_id="long")
    player.play(tone(800), prompt_id="next")
    for i in range(7):
        player.next_packet(i * 0.02)
    assert player.played_ms == 140
    assert player.stop() == PromptFinished("long", 140, interrupted=True)
    assert not player.playing and player.next_packet(1.0) is None
    assert player.stop() is None
    assert player.pop_finished() == [PromptFinished("long", 140, True)]


def test_barge_in_only_when_allowed() -> None:
    player = PromptPlayer(RtpSender(0, ssrc=1, initial_seq=0, initial_ts=0))
    player.play(tone(1600), prompt_id="legal notice", barge_in=False)
    player.next_packet(0.0)
    assert player.barge_in() is None and player.playing
    player.stop()
    player.play(tone(1600), prompt_id="menu", barge_in=True)
    player.next_packet(0.0)
    player.next_packet(0.02)
    assert player.barge_in() == PromptFinished("menu", 40, True)


def test_play_rejects_non_pcm() -> None:
    player = PromptPlayer(RtpSender(0))
    with pytest.raises(PromptError, match="prompt PCM must be mono int16, got float64 with 1 dimension"):
        player.play(np.zeros(10))
    player.play(np.zeros(0, dtype=np.int16))
    assert not player.playing


@pytest.mark.parametrize(
    ("rate", "width", "channels"),
    [(8000, 2, 1), (16000, 2, 1), (22050, 1, 1), (44100, 2, 2), (48000, 3, 1), (11025, 4, 2)],
)
def test_load_wav_any_format_to_8k(tmp_path: Path, rate: int, width: int, channels: int) -> None:
    source = tone(rate // 2, rate=rate, freq=300)  # 0.5 s
    path = write_wav(tmp_path / "prompt.wav", source, rate, width, channels)
    samples, decoded_rate = decode_wav(path)
    assert decoded_rate == rate and samples.size == rate // 2
    tolerance = 256 if width == 1 else 1
    assert np.max(np.abs(samples.astype(int) - source.astype(int))) <= tolerance
    pcm = load_wav(path)
    assert pcm.dtype == np.int16 and pcm.size == 4000
    spectrum = np.abs(np.fft.rfft(pcm.astype(float)))
    assert np.argmax(spectrum) * 8000 / pcm.size == pytest.approx(300, abs=4)
    assert load_wav(path.read_bytes()).size == 4000


def test_load_wav_rejects_garbage(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="not a PCM WAV file"):
        load_wav(b"RIFF....not a wav at all")


def test_prompt_cache_lru_by_bytes_and_mtime(tmp_path: Path) -> None:
    a = write_wav(tmp_path / "a.wav", tone(8000), 8000)  # 16 000 bytes of PCM each
    b = write_wav(tmp_path / "b.wav", tone(8000), 8000)
    c = write_wav(tmp_path / "c.wav", tone(8000), 8000)
    cache = PromptCache(max_bytes=32_000)
    first = cache.get(a)
    assert cache.get(a) is first and (cache.hits, cache.misses) == (1, 1)
    cache.get(b)
    cache.get(a)  # a is now most recently used
    cache.get(c)  # evicts b
    assert len(cache) == 2 and cache.size_bytes == 32_000
    misses = cache.misses
    cache.get(a)
    assert cache.misses == misses  # still cached
    cache.get(b)
    assert cache.misses == misses + 1  # was evicted
    # an edited file (new mtime) is decoded again and replaces its old entry
    write_wav(a, tone(4000), 8000)
    os.utime(a, ns=(1, 10**18))
    assert cache.get(a).size == 4000
    assert not first.flags.writeable
    # a prompt larger than the whole cache is returned, not cached
    big = write_wav(tmp_path / "big.wav", tone(40_000), 8000)
    small_cache = PromptCache(max_bytes=1000)
    assert small_cache.get(big).size == 40_000 and len(small_cache) == 0


def test_cancel_drops_every_queued_piece_of_a_reply_behind_the_current_prompt() -> None:
    player = PromptPlayer(RtpSender(0, ssrc=1, initial_seq=0, initial_ts=0))
    for prompt_id in ("greeting", "r1#0", "hold", "r1#1"):
        player.play(tone(800), prompt_id=prompt_id)
    assert player.cancel("r1") == ["r1#0", "r1#1"]
    assert player.cancel("r1") == []
    assert player.cancel("greeting") == []  # the current prompt is stopped, not cancelled
    assert player.current_id == "greeting"
    t = 0.0
    while player.next_packet(t) is not None:
        t += 0.02
    ids = [f.prompt_id for f in player.pop_finished()]
    assert ids == ["greeting", "hold"]
