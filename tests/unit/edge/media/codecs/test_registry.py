"""The codec table by rtpmap, answer/offer payload types, and transcoding to the engines' PCM."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edge.media.codecs.g711 import PCMU, ulaw_encode
from edge.media.codecs.g722 import G722
from edge.media.codecs.opus import OPUS
from edge.media.codecs.registry import (
    PCMA_CODEC,
    PCMU_CODEC,
    Binding,
    CodecError,
    CodecRegistry,
    FrameResampler,
    RtpMap,
    Transcoder,
    default_registry,
)
from edge.media.codecs.resample import resample

REGISTRY = default_registry()


@pytest.mark.parametrize(
    ("spec", "codec", "pt", "clock", "rate", "step"),
    [
        ("PCMU/8000", PCMU_CODEC, 0, 8000, 8000, 160),
        ("PCMA/8000", PCMA_CODEC, 8, 8000, 8000, 160),
        ("G722/8000", G722, 9, 8000, 16000, 160),
        ("opus/48000/2", OPUS, None, 48000, 48000, 960),
    ],
)
def test_lookup_by_rtpmap(spec: str, codec: object, pt: int | None, clock: int, rate: int, step: int) -> None:
    found = REGISTRY.by_rtpmap(spec)
    assert found is codec
    assert (found.payload_type, found.clock_rate, found.sample_rate, found.timestamp_step) == (
        pt,
        clock,
        rate,
        step,
    )
    assert REGISTRY.by_rtpmap(spec.upper()) is codec  # encoding names are case-insensitive
    assert REGISTRY.by_name(spec.split("/")[0].lower()) is codec


def test_static_payload_types_without_rtpmap() -> None:
    assert REGISTRY.by_payload_type(0) is PCMU_CODEC
    assert REGISTRY.by_payload_type(8) is PCMA_CODEC
    assert REGISTRY.by_payload_type(9) is G722
    assert REGISTRY.by_payload_type(18) is None  # G.729: not ours


def test_opus_with_a_single_channel_rtpmap_is_still_opus() -> None:
    assert REGISTRY.by_rtpmap("opus/48000") is OPUS  # RFC 7587 says /2; some peers omit it


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("G722/16000", "no codec for rtpmap 'G722/16000'"),  # the RFC 3551 clock is 8000
        ("G729/8000", "no codec for rtpmap 'G729/8000'"),
        ("PCMU", "rtpmap encoding 'PCMU' is not <name>/<clock rate>[/<channels>]"),
        ("PCMU/8k", "rtpmap encoding 'PCMU/8k' is not <name>/<clock rate>[/<channels>]"),
        ("opus/48000/2/1", "rtpmap encoding 'opus/48000/2/1' is not <name>/<clock rate>[/<channels>]"),
        ("PCMU/0", "rtpmap encoding 'PCMU/0' has a zero clock rate or channel count"),
    ],
)
def test_unknown_or_malformed_rtpmaps(spec: str, message: str) -> None:
    with pytest.raises(CodecError, match=rf"^{re.escape(message)}$"):
        REGISTRY.by_rtpmap(spec)


def test_by_name_unknown() -> None:
    with pytest.raises(CodecError, match=r"^unsupported codec 'speex'$"):
        REGISTRY.by_name("speex")


@pytest.mark.parametrize(
    "text", ["0 PCMU/8000", "9 G722/8000", "111 opus/48000/2", "101 telephone-event/8000"]
)
def test_rtpmap_round_trip(text: str) -> None:
    rtpmap = RtpMap.parse(text)
    assert str(rtpmap) == text and bytes(rtpmap) == text.encode()
    assert RtpMap.parse(bytes(rtpmap)) == rtpmap


@pytest.mark.parametrize("text", ["", "PCMU/8000", "x PCMU/8000", "128 PCMU/8000", "0 PCMU"])
def test_rtpmap_parse_errors(text: str) -> None:
    with pytest.raises(CodecError):
        RtpMap.parse(text)


def test_answer_takes_the_first_supported_format_under_the_offered_payload_type() -> None:
    offered = [
        RtpMap.parse("18 G729/8000"),
        RtpMap.parse("109 opus/48000/2"),
        RtpMap.parse("9 G722/8000"),
        RtpMap.parse("0 PCMU/8000"),
    ]
    binding = REGISTRY.choose(offered, {109: "useinbandfec=1"})
    assert binding == Binding(OPUS, 109, "useinbandfec=1")
    assert str(binding.rtpmap) == "109 opus/48000/2"
    only_g711 = CodecRegistry([PCMU_CODEC, PCMA_CODEC])
    assert only_g711.choose(offered) == Binding(PCMU_CODEC, 0)
    assert only_g711.choose(offered[:3]) is None


def test_offer_keeps_static_types_and_places_opus_clear_of_telephone_event() -> None:
    offer = REGISTRY.offer()
    assert [str(b.rtpmap) for b in offer] == ["0 PCMU/8000", "8 PCMA/8000", "9 G722/8000", "111 opus/48000/2"]
    assert REGISTRY.offer(["opus"], taken=[101, 111])[0].payload_type == 96
    assert (
        REGISTRY.offer(["opus", "G722"])[0].codec.fmtp == "maxplaybackrate=16000;sprop-maxcapturerate=16000"
    )
    with pytest.raises(CodecError, match=r"^no dynamic payload type left for the offer$"):
        REGISTRY.offer(["opus"], taken=[111, *range(96, 128)])


def test_g711_through_the_codec_interface_is_the_g711_table() -> None:
    pcm = (np.arange(160, dtype=np.int16) * 97).astype(np.int16)
    payload = PCMU_CODEC.encoder().encode(pcm.tobytes())
    assert payload == ulaw_encode(pcm)
    decoder = PCMU_CODEC.decoder()
    assert decoder.decode(payload) == PCMU.decode(payload).tobytes()
    assert decoder.decode_loss() == bytes(320)
    with pytest.raises(CodecError, match=r"^PCMU PCM of odd length 3$"):
        PCMU_CODEC.encoder().encode(b"abc")
    with pytest.raises(CodecError, match=r"^the PCMA encoder takes 8000 Hz PCM, not 16000 Hz$"):
        PCMA_CODEC.encoder(16000)


@pytest.mark.parametrize(
    ("in_rate", "out_rate"), [(48000, 8000), (48000, 16000), (16000, 8000), (8000, 16000)]
)
def test_frame_resampler_gives_exactly_proportional_output(in_rate: int, out_rate: int) -> None:
    resampler = FrameResampler(in_rate, out_rate)
    rng = np.random.default_rng(1)
    total_in = total_out = 0
    for chunk in [in_rate // 50] * 20 + [in_rate // 400, in_rate // 100, in_rate // 25]:
        out = resampler.process(rng.integers(-3000, 3000, chunk).astype(np.int16))
        total_in += chunk
        total_out += out.size
        assert out.dtype == np.int16
        assert total_out == total_in * out_rate // in_rate


SPECS = ["PCMU/8000", "PCMA/8000", "G722/8000", "opus/48000/2"]
# Minimum correlation after a round trip through the codec, at the pipeline rate.
FLOOR = {("opus", 8000): 0.85, ("opus", 16000): 0.95}


@pytest.mark.parametrize("pcm_rate", [8000, 16000])
@pytest.mark.parametrize("spec", SPECS)
def test_transcoder_round_trip_one_frame_per_tick(
    speech_8k: np.ndarray, compare_audio, spec: str, pcm_rate: int
) -> None:
    codec = REGISTRY.by_rtpmap(spec)
    sender, receiver = Transcoder(codec, pcm_rate), Transcoder(codec, pcm_rate)
    pcm = resample(speech_8k, 8000, pcm_rate)
    n = pcm_rate // 50
    out = []
    for i in range(0, pcm.size - n + 1, n):
        frame = receiver.decode(sender.encode(pcm[i : i + n]))
        assert frame.size == n and frame.dtype == np.int16  # the media tick stays sample-aligned
        out.append(frame)
    result = compare_audio(pcm[: len(out) * n], np.concatenate(out))
    assert 0 <= result.lag < 0.02 * pcm_rate  # codec and resampler delays together stay under 20 ms
    assert result.correlation > FLOOR.get((codec.name, pcm_rate), 0.998)
    assert receiver.conceal().size == n


def test_transcoder_uses_the_peer_fmtp_and_payload_type() -> None:
    binding = REGISTRY.choose([RtpMap.parse("120 opus/48000/2")], {120: "maxaveragebitrate=8000;cbr=1"})
    assert binding is not None
    transcoder = Transcoder(binding, 16000)
    assert transcoder.binding.payload_type == 120
    sizes = {len(transcoder.encode(np.full(320, i * 50, dtype=np.int16))) for i in range(20)}
    assert sizes == {20}  # CBR at 8 kbit/s: 20 octets per 20 ms


def test_transcoder_refuses_wrong_frames() -> None:
    transcoder = Transcoder(G722, 8000)
    with pytest.raises(CodecError, match=r"^transcoder frame must be 160 int16 samples, got 320 int16$"):
        transcoder.encode(np.zeros(320, dtype=np.int16))
    with pytest.raises(CodecError, match=r"^transcoder frame must be 160 int16 samples, got 160 float64$"):
        transcoder.encode(np.zeros(160))
    with pytest.raises(CodecError, match=r"^empty G722 payload$"):
        transcoder.decode(b"")
