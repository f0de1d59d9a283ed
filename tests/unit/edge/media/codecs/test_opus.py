"""Opus through libopus: RTP description, TOC parsing, speech round trip, PLC, stereo, fmtp, errors."""

from __future__ import annotations

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.media.codecs.opus import (
    MAX_PAYLOAD_BYTES,
    OPUS,
    OpusFmtp,
    packet_samples,
)
from edge.media.codecs.registry import CodecError
from edge.media.codecs.resample import resample


@pytest.fixture(scope="module")
def speech_48k(speech_8k: np.ndarray) -> np.ndarray:
    pcm = resample(speech_8k, 8000, 48000)
    return pcm[: pcm.size - pcm.size % 960]


def encode_all(pcm: np.ndarray, rate: int = 48000, remote_fmtp: str | None = None) -> list[bytes]:
    encoder = OPUS.encoder(rate, remote_fmtp)
    n = rate // 50
    return [encoder.encode(pcm[i : i + n].tobytes()) for i in range(0, pcm.size - n + 1, n)]


def decode_all(payloads: list[bytes]) -> np.ndarray:
    decoder = OPUS.decoder()
    return np.frombuffer(b"".join(decoder.decode(p) for p in payloads), dtype="<i2")


def tone(freq: float, rate: int, samples: int) -> np.ndarray:
    return (8000 * np.sin(2 * np.pi * freq * np.arange(samples) / rate)).astype(np.int16)


def test_rtp_description_follows_rfc_7587() -> None:
    assert (OPUS.name, OPUS.payload_type, OPUS.clock_rate, OPUS.channels) == ("opus", None, 48000, 2)
    assert OPUS.sample_rate == 48000 and OPUS.samples_per_frame == 960
    assert OPUS.timestamp_step == 960  # 20 ms on the 48 kHz clock whatever the coded bandwidth


@pytest.mark.parametrize(
    ("payload", "samples"),
    [
        (bytes([1 << 3]), 960),  # config 1: SILK NB 20 ms, code 0
        (bytes([(1 << 3) | 1]), 1920),  # code 1: two frames
        (bytes([(15 << 3) | 2, 0]), 1920),  # hybrid FB 20 ms, code 2
        (bytes([(16 << 3) | 3, 3]), 360),  # CELT NB 2.5 ms, code 3, three frames
        (bytes([(31 << 3) | 4]), 960),  # CELT FB 20 ms, stereo flag set
        (bytes([(3 << 3) | 3, 2]), 5760),  # SILK NB 60 ms x 2 = 120 ms, the maximum
    ],
)
def test_packet_duration_from_the_toc(payload: bytes, samples: int) -> None:
    assert packet_samples(payload) == samples


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty Opus packet"),
        (bytes([(1 << 3) | 3]), "Opus code 3 packet without a frame count octet"),
        (bytes([(1 << 3) | 3, 0]), "Opus code 3 packet with a frame count of 0"),
        (bytes([(3 << 3) | 3, 3]), "Opus packet of 8640 samples exceeds 120 ms"),
    ],
)
def test_malformed_toc_is_a_codec_error(payload: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=rf"^{message}$"):
        packet_samples(payload)
    with pytest.raises(CodecError, match=rf"^{message}$"):
        OPUS.decoder().decode(payload)


def test_frames_are_variable_size_20ms_packets(speech_48k: np.ndarray) -> None:
    payloads = encode_all(speech_48k)
    assert len(payloads) == speech_48k.size // 960
    sizes = {len(p) for p in payloads}
    assert len(sizes) > 10  # VBR: sizes follow the speech
    assert all(3 <= len(p) <= 1275 for p in payloads)
    assert all(packet_samples(p) == 960 for p in payloads)
    assert 20 < np.mean([len(p) for p in payloads]) < 120  # about 32 kbit/s or less at 48 kHz


@pytest.mark.parametrize(("rate", "min_correlation"), [(48000, 0.95), (16000, 0.95), (8000, 0.85)])
def test_speech_round_trip_keeps_it_recognisable(
    speech_8k: np.ndarray, compare_audio, rate: int, min_correlation: float
) -> None:
    source = resample(speech_8k, 8000, rate)
    out = decode_all(encode_all(source, rate))  # always 48 kHz out of FFmpeg's decoder
    reference = resample(source, rate, 48000)
    assert out.size == source.size // (rate // 50) * 960
    result = compare_audio(reference, out)
    assert 280 <= result.lag <= 340  # libopus look-ahead, 6.5 ms = 312 samples
    assert result.correlation > min_correlation
    assert result.snr_db > (9 if rate > 8000 else 5)  # a perceptual codec: waveform SNR is modest


def test_decoder_state_carries_across_frames(speech_48k: np.ndarray, compare_audio) -> None:
    payloads = encode_all(speech_48k)
    continuous = decode_all(payloads)
    assert np.array_equal(continuous, decode_all(payloads))  # deterministic
    restarted = np.frombuffer(b"".join(OPUS.decoder().decode(p) for p in payloads), dtype="<i2")
    good = compare_audio(speech_48k, continuous)
    bad = compare_audio(speech_48k, restarted)
    assert good.correlation > 0.95
    assert bad.snr_db < good.snr_db - 3  # a fresh decoder per packet loses the overlap and predictors


def test_loss_concealment_continues_the_signal() -> None:
    pcm = tone(440, 48000, 960 * 20)
    payloads = encode_all(pcm)
    decoder = OPUS.decoder()
    assert decoder.decode_loss() == bytes(1920)  # before any packet: 20 ms of silence
    for p in payloads[:15]:
        decoder.decode(p)
    concealed = np.frombuffer(decoder.decode_loss(), dtype="<i2")
    assert concealed.size == 960
    assert np.sqrt(np.mean(concealed.astype(np.float64) ** 2)) > 1000  # not silence
    spectrum = np.abs(np.fft.rfft(concealed * np.hanning(960)))
    assert abs(np.argmax(spectrum) * 50 - 440) <= 50  # the same pitch (50 Hz bins)
    after = np.frombuffer(decoder.decode(payloads[16]), dtype="<i2")
    assert after.size == 960 and np.abs(after).max() > 2000


def test_stereo_packets_decode_to_mono() -> None:
    """RFC 7587 §3.4: a receiver that wants mono still has to take stereo streams."""
    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate, ctx.format, ctx.layout, ctx.bit_rate = 48000, "s16", "stereo", 64000
    ctx.open()
    mono = tone(300, 48000, 960 * 10)
    decoder = OPUS.decoder()
    out = []
    for i in range(10):
        chunk = np.repeat(mono[i * 960 : (i + 1) * 960], 2).reshape(1, -1)  # interleaved L R
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
        frame.sample_rate = 48000
        for packet in ctx.encode(frame):
            assert bytes(packet)[0] & 0x04  # the TOC's stereo flag
            out.append(np.frombuffer(decoder.decode(bytes(packet)), dtype="<i2"))
    assert all(o.size == 960 for o in out)
    tail = np.concatenate(out)[960 * 4 :]
    assert np.sqrt(np.mean(tail.astype(np.float64) ** 2)) > 3000  # the tone, not silence


@given(st.binary(min_size=1, max_size=400))
@settings(max_examples=300, deadline=None)
def test_arbitrary_payloads_decode_or_raise_codec_error(payload: bytes) -> None:
    decoder = OPUS.decoder()
    try:
        pcm = decoder.decode(payload)
    except CodecError:
        pass
    else:
        assert len(pcm) % 2 == 0 and len(pcm) // 2 <= 5760
    assert len(decoder.decode(bytes([1 << 3]) + bytes(20))) == 1920  # the decoder survives


def test_libopus_rejections_are_codec_errors() -> None:
    # code 2 whose first frame claims 252 octets of a 3-octet packet (RFC 6716 §3.4 [R4])
    decoder = OPUS.decoder()
    with pytest.raises(CodecError, match=r"^Opus packet rejected by libopus: "):
        decoder.decode(bytes([(1 << 3) | 2, 252, 0]))
    with pytest.raises(CodecError, match=rf"^Opus payload of {MAX_PAYLOAD_BYTES + 1} bytes exceeds"):
        decoder.decode(bytes(MAX_PAYLOAD_BYTES + 1))


@pytest.mark.parametrize(("rate", "size"), [(48000, 1918), (16000, 960), (8000, 0)])
def test_encoder_takes_exactly_one_frame(rate: int, size: int) -> None:
    expected = rate // 50
    message = (
        rf"^Opus frame must be {expected} samples \({expected * 2} bytes\) at {rate} Hz, got {size} bytes$"
    )
    with pytest.raises(CodecError, match=message):
        OPUS.encoder(rate).encode(bytes(size))


def test_encoder_refuses_rates_libopus_does_not_take() -> None:
    with pytest.raises(
        CodecError, match=r"^the Opus encoder takes PCM at \(8000, 12000, 16000, 24000, 48000\)"
    ):
        OPUS.encoder(44100)


def test_fmtp_round_trip_and_errors() -> None:
    fmtp = OpusFmtp.parse(
        "minptime=10; useinbandfec=1;maxaveragebitrate=16000;stereo=0;MaxPlaybackRate=16000"
    )
    assert fmtp == OpusFmtp(maxplaybackrate=16000, maxaveragebitrate=16000, useinbandfec=True)
    assert str(fmtp) == "maxplaybackrate=16000;maxaveragebitrate=16000;useinbandfec=1"
    assert OpusFmtp.parse(str(fmtp)) == fmtp and bytes(fmtp) == str(fmtp).encode()
    assert OpusFmtp.parse(OPUS.fmtp) == OpusFmtp(maxplaybackrate=16000, sprop_maxcapturerate=16000)
    assert OpusFmtp.parse(None) == OpusFmtp() and str(OpusFmtp()) == ""
    with pytest.raises(CodecError, match=r"^Opus fmtp parameter 'useinbandfec' has no value$"):
        OpusFmtp.parse("useinbandfec")
    with pytest.raises(CodecError, match=r"^Opus fmtp maxaveragebitrate='lots' is not a number$"):
        OpusFmtp.parse("maxaveragebitrate=lots")


def test_peer_bitrate_cap_is_honoured(speech_48k: np.ndarray) -> None:
    free = encode_all(speech_48k)
    capped = encode_all(speech_48k, remote_fmtp="maxaveragebitrate=10000")
    assert sum(map(len, capped)) < 0.6 * sum(map(len, free))
    assert sum(map(len, capped)) * 8 / (len(capped) * 0.02) < 14_000  # about the 10 kbit/s asked for
