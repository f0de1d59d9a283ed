"""The SIP listening sockets: UDP and TCP on one port number.

SIP over UDP and over TCP share a port (the Via and Contact name one). With a configured port both
binds either succeed or the start fails, naming the port. With port 0 the system picks a free *UDP*
port, and nothing says the same number is free for TCP: any outgoing TCP connection on the box (a
Kafka client's, say) may hold it as its ephemeral port. So with 0 the pair is chosen again, a bounded
number of times, until both sides bind — instead of failing the start with ``address already in use``.
"""

from __future__ import annotations

import errno
import socket
from typing import Final

PAIR_ATTEMPTS: Final = 32
UDP_RCVBUF: Final = 4 << 20  # a burst of INVITEs waits in the kernel, not on the floor


def bind_sip_sockets(host: str, port: int, *, tcp: bool) -> tuple[socket.socket, socket.socket | None]:
    """(UDP socket, TCP listening socket or None) bound to ``host`` on one port number."""
    attempts = PAIR_ATTEMPTS if port == 0 else 1
    for attempt in range(1, attempts + 1):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
            udp.bind((host, port))
            if not tcp:
                return udp, None
            chosen = udp.getsockname()[1]
            try:
                return udp, socket.create_server((host, chosen), backlog=100)
            except OSError as exc:
                if port != 0 or exc.errno != errno.EADDRINUSE or attempt == attempts:
                    raise
            udp.close()  # that number is taken for TCP: choose another pair
        except BaseException:
            udp.close()
            raise
    raise AssertionError("unreachable: the last attempt returns or raises")
