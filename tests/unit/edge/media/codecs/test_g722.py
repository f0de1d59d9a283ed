"""G.722 through FFmpeg: RTP framing, speech round trip, state continuity, libg722 cross-check, errors."""

from __future__ import annotations

import array

import G722 as libg722  # libg722 (sippy), which passes the ITU-T G.722 test vectors
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.media.codecs.g722 import (
    CLOCK_RATE,
    G722,
    MAX_PAYLOAD_BYTES,
    PAYLOAD_BYTES_PER_FRAME,
    PAYLOAD_TYPE,
    SAMPLES_PER_FRAME,
)
from edge.media.codecs.registry import CodecError
from edge.media.codecs.resample import upsample_8k_to_16k


@pytest.fixture(scope="module")
def speech_16k(speech_8k: np.ndarray) -> np.ndarray:
    pcm = upsample_8k_to_16k(speech_8k)
    return pcm[: pcm.size - pcm.size % SAMPLES_PER_FRAME]


def encode_all(pcm: np.ndarray) -> list[bytes]:
    encoder = G722.encoder()
    return [encoder.encode(pcm[i : i + 320].tobytes()) for i in range(0, pcm.size, SAMPLES_PER_FRAME)]


def test_rtp_description_follows_rfc_3551() -> None:
    assert (G722.name, G722.payload_type, G722.clock_rate, G722.channels) == ("G722", 9, 8000, 1)
    assert (PAYLOAD_TYPE, CLOCK_RATE, G722.sample_rate) == (9, 8000, 16000)
    assert G722.samples_per_frame == 320  # 20 ms of 16 kHz audio
    assert G722.timestamp_step == 160  # but the RTP clock runs at 8000 Hz


def test_every_20ms_frame_is_160_octets(speech_16k: np.ndarray) -> None:
    payloads = encode_all(speech_16k)
    assert len(payloads) == speech_16k.size // 320
    assert {len(p) for p in payloads} == {PAYLOAD_BYTES_PER_FRAME} == {160}


def test_speech_round_trip_keeps_it_recognisable(speech_16k: np.ndarray, compare_audio) -> None:
    decoder = G722.decoder()
    out = np.frombuffer(b"".join(decoder.decode(p) for p in encode_all(speech_16k)), dtype="<i2")
    assert out.size == speech_16k.size
    result = compare_audio(speech_16k, out)
    assert result.lag == 22  # the two QMF filters' delay, in 16 kHz samples
    assert result.correlation > 0.999
    assert result.snr_db > 30  # 64 kbit/s ADPCM on band-limited telephone speech


def test_bitstream_and_decoded_samples_match_libg722(speech_16k: np.ndarray) -> None:
    noise = np.random.default_rng(7).normal(0, 4000, 320 * 25).clip(-32768, 32767).astype(np.int16)
    for pcm in (speech_16k, noise):
        ours = encode_all(pcm)
        reference = libg722.G722(16000, 64000)
        theirs = [
            bytes(reference.encode(array.array("h", pcm[i : i + 320].tobytes())))
            for i in range(0, pcm.size, 320)
        ]
        assert ours == theirs
        decoder, ref_decoder = G722.decoder(), libg722.G722(16000, 64000)
        for payload in ours:
            mine = np.frombuffer(decoder.decode(payload), dtype="<i2")
            assert np.array_equal(mine, np.asarray(ref_decoder.decode(payload), dtype=np.int16))


def test_decoder_state_carries_across_frames(speech_16k: np.ndarray, compare_audio) -> None:
    payloads = encode_all(speech_16k)
    decoder = G722.decoder()
    framewise = b"".join(decoder.decode(p) for p in payloads)
    whole = b""
    one = G722.decoder()
    for start in range(0, len(payloads), 7):  # any split gives the same samples
        whole += one.decode(b"".join(payloads[start : start + 7]))
    assert whole == framewise
    # a decoder that forgets its state every frame is much worse: the state matters
    fresh = b"".join(G722.decoder().decode(p) for p in payloads)
    continuous = compare_audio(speech_16k, np.frombuffer(framewise, dtype="<i2"))
    restarted = compare_audio(speech_16k, np.frombuffer(fresh, dtype="<i2"))
    assert restarted.snr_db < continuous.snr_db - 6


def test_encoder_state_carries_across_frames(speech_16k: np.ndarray) -> None:
    payloads = encode_all(speech_16k)
    restarted = [G722.encoder().encode(speech_16k[i : i + 320].tobytes()) for i in range(0, 3200, 320)]
    assert payloads[0] == restarted[0]
    assert payloads[1:10] != restarted[1:10]


def test_loss_gives_one_frame_and_decoding_continues(speech_16k: np.ndarray) -> None:
    payloads = encode_all(speech_16k)
    decoder = G722.decoder()
    decoder.decode(payloads[0])
    assert decoder.decode_loss() == bytes(640)
    assert len(decoder.decode(payloads[2])) == 640


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty G722 payload"),
        (bytes(MAX_PAYLOAD_BYTES + 1), "G722 payload of 1501 bytes exceeds 1500"),
    ],
)
def test_undecodable_payloads_raise_codec_error(payload: bytes, message: str) -> None:
    decoder = G722.decoder()
    with pytest.raises(CodecError, match=rf"^{message}$"):
        decoder.decode(payload)
    assert len(decoder.decode(b"\x55" * 160)) == 640  # still usable


@given(st.binary(max_size=1600))
@settings(max_examples=200, deadline=None)
def test_any_octets_decode_to_two_samples_each_or_codec_error(payload: bytes) -> None:
    try:
        pcm = G722.decoder().decode(payload)
    except CodecError:
        assert not payload or len(payload) > MAX_PAYLOAD_BYTES
    else:
        assert len(pcm) == 4 * len(payload)


@pytest.mark.parametrize("size", [0, 2, 318, 639, 642, 1280])
def test_encoder_takes_exactly_one_frame(size: int) -> None:
    with pytest.raises(
        CodecError, match=rf"^G722 frame must be 320 samples \(640 bytes\), got {size} bytes$"
    ):
        G722.encoder().encode(bytes(size))


def test_encoder_refuses_other_rates() -> None:
    with pytest.raises(CodecError, match=r"^the G722 encoder takes 16000 Hz PCM, not 8000 Hz$"):
        G722.encoder(8000)
