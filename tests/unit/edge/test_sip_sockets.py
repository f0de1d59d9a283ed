"""The SIP UDP/TCP pair: one port number, chosen again when the system's UDP pick is taken for TCP."""

from __future__ import annotations

import errno
import socket
from typing import Any

import pytest

from edge import sip_sockets
from edge.sip_sockets import bind_sip_sockets

HOST = "127.0.0.1"


def test_port_zero_binds_udp_and_tcp_on_one_number() -> None:
    udp, tcp = bind_sip_sockets(HOST, 0, tcp=True)
    try:
        assert tcp is not None
        assert udp.type == socket.SOCK_DGRAM and tcp.type == socket.SOCK_STREAM
        assert udp.getsockname() == tcp.getsockname()
    finally:
        udp.close()
        assert tcp is not None
        tcp.close()


def test_udp_only_when_tcp_is_off() -> None:
    udp, tcp = bind_sip_sockets(HOST, 0, tcp=False)
    udp.close()
    assert tcp is None


def test_a_number_taken_for_tcp_is_chosen_again(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.create_server
    refused: list[int] = []

    def taken_twice(address: Any, **kwargs: Any) -> socket.socket:
        if len(refused) < 2:  # as if an outgoing TCP connection held the number UDP was given
            refused.append(address[1])
            raise OSError(errno.EADDRINUSE, "Address already in use")
        return real(address, **kwargs)

    monkeypatch.setattr(sip_sockets.socket, "create_server", taken_twice)
    udp, tcp = bind_sip_sockets(HOST, 0, tcp=True)
    try:
        assert tcp is not None and len(refused) == 2
        assert udp.getsockname() == tcp.getsockname()
        for number in refused:  # the refused numbers' UDP sockets were closed, not leaked
            if number != udp.getsockname()[1]:
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probe.bind((HOST, number))
                probe.close()
    finally:
        udp.close()
        assert tcp is not None
        tcp.close()


def test_a_configured_port_taken_for_tcp_fails_the_start_and_frees_udp() -> None:
    holder = socket.create_server((HOST, 0))
    port = holder.getsockname()[1]
    try:
        with pytest.raises(OSError) as raised:
            bind_sip_sockets(HOST, port, tcp=True)
        assert raised.value.errno == errno.EADDRINUSE
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind((HOST, port))  # the UDP side was closed on the way out
        probe.close()
    finally:
        holder.close()
