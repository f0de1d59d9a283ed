from __future__ import annotations

import pytest

from edge.media.ports import PortPool, PortsExhausted


def test_even_ports_only_with_room_for_rtcp() -> None:
    pool = PortPool(10001, 10008, quarantine_s=0)
    ports = [pool.allocate(0.0) for _ in range(3)]
    assert ports == [10002, 10004, 10006]  # 10008 is excluded: its RTCP port 10009 is out of range
    assert all(p % 2 == 0 for p in ports)
    assert pool.capacity == 3 and pool.in_use == 3 and pool.available(0.0) == 0


def test_exhaustion_raises() -> None:
    pool = PortPool(20000, 20003)
    assert pool.allocate(0.0) == 20000
    assert pool.allocate(0.0) == 20002
    with pytest.raises(PortsExhausted, match="no RTP port free in 20000-20003: 2 in use, 0 in quarantine"):
        pool.allocate(0.0)


def test_released_port_is_not_reused_before_quarantine_ends() -> None:
    pool = PortPool(30000, 30003, quarantine_s=5.0)
    a = pool.allocate(0.0)
    b = pool.allocate(0.0)
    pool.release(a, now=10.0)
    assert pool.in_use == 1
    assert pool.available(14.999) == 0
    assert pool.next_release() == 15.0
    with pytest.raises(PortsExhausted, match="1 in use, 1 in quarantine"):
        pool.allocate(14.999)
    assert pool.available(15.0) == 1
    assert pool.allocate(15.0) == a
    assert pool.is_allocated(a) and pool.is_allocated(b)


def test_quarantine_preserves_release_order_and_lru_reuse() -> None:
    pool = PortPool(40000, 40011, quarantine_s=1.0)
    ports = [pool.allocate(0.0) for _ in range(6)]
    for i, port in enumerate(reversed(ports)):
        pool.release(port, now=float(i))
    # at t=3.5 the first three released (t=0,1,2) are back, in release order
    assert [pool.allocate(3.5) for _ in range(3)] == list(reversed(ports))[:3]
    with pytest.raises(PortsExhausted):
        pool.allocate(3.5)


def test_zero_quarantine_reuses_immediately_after_fresh_ports() -> None:
    pool = PortPool(50000, 50005, quarantine_s=0)
    a = pool.allocate(0.0)
    pool.release(a, 0.0)
    assert pool.allocate(0.0) == 50002  # fresh ports first, then the released one
    assert pool.allocate(0.0) == 50004
    assert pool.allocate(0.0) == a


def test_invalid_use() -> None:
    pool = PortPool(60000, 60010)
    with pytest.raises(ValueError, match="port 60000 is not allocated"):
        pool.release(60000, 0.0)
    port = pool.allocate(0.0)
    pool.release(port, 0.0)
    with pytest.raises(ValueError, match=f"port {port} is not allocated"):
        pool.release(port, 0.0)  # double release
    with pytest.raises(ValueError, match="holds no even RTP port"):
        PortPool(7000, 7000)
    with pytest.raises(ValueError, match="quarantine must not be negative"):
        PortPool(7000, 7001, quarantine_s=-1)


def test_large_pool_cycles_without_leaks() -> None:
    pool = PortPool(10000, 59999, quarantine_s=2.0)
    assert pool.capacity == 25000
    now = 0.0
    live: list[int] = []
    for step in range(20000):
        now = step * 0.01
        live.append(pool.allocate(now))
        if len(live) > 300:
            pool.release(live.pop(0), now)
    assert pool.in_use == 300
    assert pool.in_use + pool.available(now + 2.0) == pool.capacity


def test_a_busy_pair_is_skipped_and_retried_after_a_quarantine() -> None:
    busy = {10002}
    pool = PortPool(10000, 10007, quarantine_s=0, probe=lambda port: port not in busy)
    assert pool.allocate(0.0) == 10000
    assert pool.allocate(0.0) == 10004  # 10002 (or its RTCP port) is held by someone else
    assert pool.skipped == 1
    assert pool.allocate(0.0) == 10006
    with pytest.raises(PortsExhausted):
        pool.allocate(0.5)  # 10002 waits at least 1 s before it is probed again
    busy.clear()
    assert pool.allocate(1.0) == 10002


def test_the_real_probe_sees_a_bound_port() -> None:
    import socket

    from sentiric.net import free_rtp_range, udp_pair_free

    low, _ = free_rtp_range(size=4)
    assert udp_pair_free(low)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", low + 1))  # the RTCP port of the pair
        assert not udp_pair_free(low)
    assert udp_pair_free(low)
