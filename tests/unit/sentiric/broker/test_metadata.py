"""Metadata v4 framing, checked against bytes captured from a Kafka 3.9.1 broker."""

from __future__ import annotations

import pytest

from sentiric.broker.metadata import (
    BrokerInfo,
    MetadataError,
    MetadataRequest,
    MetadataResponse,
    frame_length,
)

# MetadataRequest(correlation_id=7, topics=("calls",)) as sent to the broker that answered below.
CAPTURED_REQUEST = bytes.fromhex(
    "000000240003000400000007000e" + b"sentiric-probe".hex() + "000000010005" + b"calls".hex() + "00"
)
# The payload (after the size prefix) of a Kafka 3.9.1 broker's answer: one broker, topic `calls`
# auto-created with 6 partitions (listed in the broker's order, not sorted).
CAPTURED_RESPONSE = bytes.fromhex(
    "0000000700000000000000010000000100093132372e302e302e310000967bffff0016476c4e3671706754524a757833"
    "6b5235576776744c7700000001000000010000000563616c6c7300000000060000000000010000000100000001000000"
    "010000000100000001000000000003000000010000000100000001000000010000000100000000000200000001000000"
    "010000000100000001000000010000000000050000000100000001000000010000000100000001000000000000000000"
    "01000000010000000100000001000000010000000000040000000100000001000000010000000100000001"
)


def test_request_encodes_header_v1_and_body_v4() -> None:
    assert bytes(MetadataRequest(correlation_id=7, topics=("calls",))) == CAPTURED_REQUEST


def test_request_for_brokers_only_and_for_every_topic() -> None:
    brokers_only = bytes(MetadataRequest(correlation_id=1, client_id=None))
    assert brokers_only == bytes.fromhex("0000000f0003000400000001ffff0000000000")
    every_topic = bytes(MetadataRequest(correlation_id=1, client_id=None, topics=None))
    assert every_topic == bytes.fromhex("0000000f0003000400000001ffffffffffff00")


def test_captured_response_parses_and_round_trips() -> None:
    response = MetadataResponse.parse(CAPTURED_RESPONSE)
    assert response.correlation_id == 7
    assert response.throttle_time_ms == 0
    assert response.brokers == (BrokerInfo(node_id=1, host="127.0.0.1", port=38523, rack=None),)
    assert response.cluster_id == "GlN6qpgTRJux3kR5WgvtLw"
    assert response.controller_id == 1
    [topic] = response.topics
    assert (topic.name, topic.error_code, topic.is_internal) == ("calls", 0, False)
    assert sorted(p.partition_index for p in topic.partitions) == [0, 1, 2, 3, 4, 5]
    assert all((p.leader_id, p.replica_nodes, p.isr_nodes) == (1, (1,), (1,)) for p in topic.partitions)
    assert bytes(response) == CAPTURED_RESPONSE


def test_a_fenced_broker_answers_with_no_brokers() -> None:
    response = MetadataResponse(1, 0, (), None, -1)
    assert MetadataResponse.parse(bytes(response)) == response


@pytest.mark.parametrize("length", range(len(CAPTURED_RESPONSE)))
def test_every_truncated_prefix_is_refused(length: int) -> None:
    with pytest.raises(MetadataError, match=r"^truncated Metadata response: "):
        MetadataResponse.parse(CAPTURED_RESPONSE[:length])


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(MetadataError, match=r"^3 trailing bytes after Metadata response$"):
        MetadataResponse.parse(CAPTURED_RESPONSE + b"\x00\x00\x00")


def test_negative_counts_and_lengths_are_refused() -> None:
    with pytest.raises(MetadataError, match=r"^negative count -2 for brokers$"):
        MetadataResponse.parse(bytes.fromhex("0000000100000000fffffffe"))
    with pytest.raises(MetadataError, match=r"^null broker host$"):
        MetadataResponse.parse(bytes.fromhex("00000001000000000000000100000001ffff"))


def test_frame_length() -> None:
    assert frame_length(CAPTURED_REQUEST[:4]) == len(CAPTURED_REQUEST) - 4
    with pytest.raises(MetadataError, match=r"^negative frame size -1$"):
        frame_length(b"\xff\xff\xff\xff")
    with pytest.raises(MetadataError, match=r"^size prefix must be 4 bytes, got 3$"):
        frame_length(b"\x00\x00\x00")
