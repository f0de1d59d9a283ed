"""The campaign's response checks, stream splitting, follow-ups and suspect files (pure parts)."""

from __future__ import annotations

from pathlib import Path

from bench.fuzzing import peers

OK = (
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK-fz1.a\r\nFrom: <sip:a@x>;tag=1\r\n"
    b"To: <sip:b@x>;tag=2\r\nCall-ID: fz1.a@127.0.0.1\r\nCSeq: 4 INVITE\r\nContent-Length: 3\r\n\r\nv=0"
)


def test_a_well_formed_response_passes_and_faults_are_named() -> None:
    assert peers.check_response(OK) is None
    assert peers.check_response(b"HTTP/1.1 200 OK\r\n\r\n") == "bad status line"
    assert peers.check_response(OK.replace(b"Content-Length: 3", b"Content-Length: 4")).startswith(
        "Content-Length"
    )
    assert peers.check_response(OK.replace(b"tag=1\r\n", b"tag=1\nX: y\r\n")).startswith("bare CR or LF")
    no_from = OK.replace(b"From: <sip:a@x>;tag=1\r\n", b"")
    assert peers.check_response(no_from) == "missing from"
    assert peers.check_response(no_from.replace(b"200 OK", b"400 Bad Request")) is None


def test_origin_and_follow_ups() -> None:
    assert peers.origin(OK, 1) == 0xA and peers.origin(OK, 2) is None
    ack, bye = peers.follow_ups(OK, ("127.0.0.1", 9), 5060)
    assert ack.startswith(b"ACK ") and b"CSeq: 4 ACK" in ack and b"To: <sip:b@x>;tag=2" in ack
    assert bye.startswith(b"BYE ") and b"CSeq: 5 BYE" in bye and b"Call-ID: fz1.a@127.0.0.1" in bye


def test_split_stream_by_content_length() -> None:
    assert peers.split_stream(b"\r\n" + OK + OK + b"SIP/2.0 100") == [OK, OK, b"SIP/2.0 100"]


def test_suspect_files_round_trip(tmp_path: Path) -> None:
    items = [(1, "udp", b"a\nb"), (2, "tcp-abort", b""), (3, "ws-text", bytes(range(256)))]
    peers.write_suspects(tmp_path / "s.bin", items[:2])
    peers.write_suspects(tmp_path / "s.bin", items[2:])
    assert peers.read_suspects(tmp_path / "s.bin") == items


def test_ok_for_an_edge_request_echoes_its_transaction() -> None:
    bye = (
        b"BYE sip:fuzzer@127.0.0.1:9 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
        b"From: <sip:100@x>;tag=e\r\nTo: <sip:f@x>;tag=f\r\nCall-ID: c1\r\nCSeq: 7 BYE\r\n"
        b"Max-Forwards: 70\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    ok = peers.ok_for(bye)
    assert ok.startswith(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n")
    assert b"CSeq: 7 BYE\r\n" in ok and b"Max-Forwards" not in ok and peers.check_response(ok) is None


def test_one_bug_with_other_values_is_one_signature() -> None:
    from bench.fuzzing.edge import LogRecord

    def plain(value: str) -> LogRecord:
        text = (
            "ERROR:edge.media.clock:media session tick failed\nTraceback (most recent call last):\n"
            f"ValueError: ('{value}', 4921): socket family mismatch or a DNS lookup is required\n"
        )
        return LogRecord("ERROR", "edge.media.clock:media session tick failed", text, 0.0)

    assert plain("not-an-ip").signature == plain("1;7.0.0.1").signature == plain("::1").signature
    assert plain("x").is_crash
    fact = (
        '{"level": "error", "message": "call fact refused", '
        "\"error\": \"'utf-8' codec can't encode '\\\\udc80'\"}"
    )
    assert LogRecord("ERROR", "call fact refused", fact, 0.0).signature.startswith("call fact refused | ")
    assert not LogRecord("ERROR", "call fact refused", fact, 0.0).is_crash
