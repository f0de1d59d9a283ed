"""bench/tls_bench.py measures both transports end to end (a short run: every figure is a rate)."""

from __future__ import annotations

from bench.tls_bench import run


async def test_a_short_run_measures_tcp_and_tls() -> None:
    figures = await run(0.2)
    assert set(figures) == {
        "options_per_s_tcp",
        "options_per_s_tls",
        "connections_per_s_tcp",
        "connections_per_s_tls",
        "handshake_ms_tls",
    }
    assert all(figures[k] > 0 for k in figures if k.endswith(("_tcp", "_tls")) and "per_s" in k)
