"""DTMF in SIP INFO bodies."""

from edge.uas.info import parse_dtmf_info


def test_dtmf_relay_and_plain_dtmf() -> None:
    assert parse_dtmf_info("application/dtmf-relay", b"Signal=#\r\nDuration=100\r\n") == ("#", 100)
    assert parse_dtmf_info("application/dtmf-relay", b"Signal= 7\n") == ("7", 160)
    assert parse_dtmf_info("application/dtmf-relay", b"Signal=11\r\n") == ("#", 160)
    assert parse_dtmf_info("application/dtmf", b"5") == ("5", 160)
    assert parse_dtmf_info("application/dtmf-relay", b"Signal=Z\r\n") is None
    assert parse_dtmf_info("application/dtmf-relay", b"\xff\xfe") is None
    assert parse_dtmf_info("application/dtmf-relay", b"") is None
