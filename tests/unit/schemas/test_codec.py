import struct
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import models
from schemas.codec import HEADER_LENGTH, MARKER, CodecError, decode, default_codec, encode, to_json_dict
from schemas.envelope import CallSequencer, envelope
from schemas.samples import all_samples


@pytest.mark.parametrize("record", all_samples(), ids=lambda r: type(r).__name__)
def test_every_record_type_round_trips(record):
    data = encode(record)
    assert data[:2] == MARKER
    assert data[2:HEADER_LENGTH] == default_codec().fingerprint_of(type(record))
    assert decode(data) == record


def test_fingerprint_is_crc64_avro_of_canonical_form():
    # Avro spec: the CRC-64-AVRO fingerprint of the schema "null" is 0x63dd24e7cc258f8a,
    # written little-endian in single-object encoding.
    from schemas.codec import schema_fingerprint

    assert schema_fingerprint("null") == struct.pack("<Q", 0x63DD24E7CC258F8A)  # type: ignore[arg-type]


def test_envelope_helper_builds_a_valid_fact():
    fact = models.CallEnded(
        **envelope("call-1", seq=7, source="edge-1"),
        reason="caller_bye",
        hangup_by="caller",
        sip_status=200,
        total_ms=1234,
    )
    back = decode(encode(fact))
    assert back.seq == 7 and back.trace_id == "call-1" and back.talk_ms == 0
    assert isinstance(back.event_id, uuid.UUID)
    assert back.occurred_at.tzinfo == UTC


def test_sequencer_counts_per_call_and_forgets():
    seq = CallSequencer()
    assert [seq.next("a"), seq.next("a"), seq.next("b")] == [1, 2, 1]
    seq.forget("a")
    assert seq.next("a") == 1 and len(seq) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "message of 0 bytes is shorter than the 10-byte header"),
        (b"\xc3\x01abc", "message of 5 bytes is shorter than the 10-byte header"),
        (b"\x00\x01" + bytes(8), "bad single-object marker 0001 (expected c301)"),
        (MARKER + bytes(8), "unknown schema fingerprint 0000000000000000"),
    ],
)
def test_bad_headers_give_exact_errors(data, message):
    with pytest.raises(CodecError) as err:
        decode(data)
    assert str(err.value) == message


def test_truncated_body_is_a_codec_error():
    data = encode(all_samples()[0])
    for cut in range(HEADER_LENGTH, len(data)):
        with pytest.raises(CodecError, match="corrupt"):
            decode(data[:cut])


def test_trailing_garbage_is_a_codec_error():
    with pytest.raises(CodecError, match="trailing bytes"):
        decode(encode(all_samples()[0]) + b"\x00")


def test_encoding_a_foreign_object_is_a_codec_error():
    with pytest.raises(CodecError, match="not a Sentiric record: dict"):
        encode({"call_id": "x"})


@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_codec_error(data):
    try:
        decode(data)
    except CodecError:
        pass


@given(st.integers(min_value=HEADER_LENGTH, max_value=300), st.binary(min_size=1, max_size=8))
def test_mutated_bodies_never_raise_anything_but_codec_error(pos, junk):
    data = bytearray(encode(all_samples()[5]))
    pos = min(pos, len(data) - 1)
    data[pos : pos + len(junk)] = junk
    try:
        decode(bytes(data))
    except CodecError:
        pass


def test_json_view_is_plain_data():
    fact = models.UtteranceCaptured(
        **envelope("c", seq=1, source="edge-1", occurred_at=datetime(2026, 1, 1, tzinfo=UTC)),
        utterance_id="u1",
        sample_rate=8000,
        pcm=b"\x01\x00" * 4,
        start_ms=0,
        end_ms=1,
    )
    view = to_json_dict(fact, include_audio=False)
    assert view["type"] == "UtteranceCaptured"
    assert view["pcm_bytes"] == 8 and "pcm" not in view
    assert view["occurred_at"] == "2026-01-01T00:00:00+00:00"
