"""Small helpers for local ports: is one free, pick a free one, pick a free RTP range.

Used by the local Kafka and PostgreSQL (refuse to start on a taken port with a clear message), and by
tests and benchmarks, which never hard-code ports.
"""

from __future__ import annotations

import random
import socket

LOCALHOST = "127.0.0.1"


def port_free(port: int, host: str = LOCALHOST) -> bool:
    """True when a TCP listener could bind `host:port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def udp_pair_free(port: int, host: str = LOCALHOST) -> bool:
    """Whether UDP ``port`` and ``port + 1`` (an RTP/RTCP pair) can both be bound on ``host`` now."""
    socks: list[socket.socket] = []
    try:
        for p in (port, port + 1):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(sock)
            sock.bind((host, p))
    except OSError:
        return False
    finally:
        for sock in socks:
            sock.close()
    return True


def free_port(kind: int = socket.SOCK_STREAM, host: str = LOCALHOST) -> int:
    """A port the kernel has just handed out as free (TCP by default, `socket.SOCK_DGRAM` for UDP)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_rtp_range(size: int = 1000, probe: int = 20) -> tuple[int, int]:
    """An even-based UDP port range whose first `probe` ports bind now (a sample: the RTP pool tolerates
    a busy port later in the range)."""
    for _ in range(50):
        low = random.randrange(30000, 60000 - size, 2)
        socks: list[socket.socket] = []
        try:
            for p in range(low, low + min(probe, size)):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((LOCALHOST, p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return low, low + size - 1
    raise RuntimeError("no free RTP port range")


def free_port_for_both(host: str = LOCALHOST, attempts: int = 50) -> int:
    """A port free for UDP and TCP at once (a SIP peer such as sipp binds its port on the transport it
    uses; a UDP-free port may still carry a TCP connection)."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP")
