"""Concurrent calls one edge process carries: RTP both ways at 50 packets/s, VAD on, SRTP off or on.

Two processes on loopback:

- the edge: a real ``MediaEngine`` (uvloop) with N sessions; each plays a long prompt to its caller
  (G.711 encoding every frame) and runs VAD endpointing, jitter buffering and RTCP on what it receives;
- a load generator: one UDP socket standing in for N callers, sending each session µ-law speech (the
  espeak fixture on a loop) on a fixed 20 ms grid, and receiving the edge's packets with kernel arrival
  timestamps (SO_TIMESTAMPNS), so its own scheduling does not colour the spacing measured.

A run passes when, over the measured window, the p99 spacing between consecutive packets of each of
the edge's outgoing streams (pooled over all sessions) is within 20 ± 5 ms, no outgoing packet is
missing (sequence gaps), and the edge received every packet the generator sent. CPU time per call is
the edge process's user+system time over the window divided by N (ms of CPU per second of call).

Run:  .venv/bin/python bench/media_load.py                       # search N, plain and SRTP
      .venv/bin/python bench/media_load.py --sessions 300 --seconds 10 [--srtp]
      .venv/bin/python bench/media_load.py --tick-only 300           # session work alone, no sockets

``--tick-only N`` measures the Python work of N sessions without sockets or event loop: per 20 ms
tick each session receives one µ-law packet and the media clock runs its tick (jitter buffer, decode,
VAD, prompt encode, packet build) into a null transport, on a simulated time. Its CPU time per session-tick is
steady on a loaded machine, unlike the socket run, where the kernel's loopback delivery and the event
loop's per-datagram dispatch add about as much again.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing as mp
import os
import random
import resource
import select
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.facts import F  # noqa: E402 - after the path set-up, for running from a checkout
from edge.media.codecs.g711 import PCMU  # noqa: E402
from edge.media.playback import load_wav  # noqa: E402
from edge.media.rtp.packet import RtpPacket  # noqa: E402
from edge.media.srtp import CryptoAttribute, SrtpContext  # noqa: E402
from edge.media_port import MediaOptions  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "media" / "opening_hours_8k.wav"
WARMUP_S = 2.0
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


class NullFacts:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def record(self, fact: F) -> F:
        name = type(fact).__name__
        self.counts[name] = self.counts.get(name, 0) + 1
        return fact


# --- the load generator (child process) ---


def generator(conn: Any, ports: list[int], keys: list[tuple[str, str]] | None, seconds: float) -> None:
    speech = load_wav(FIXTURE)
    speech = np.concatenate([speech, np.zeros(8000, dtype=np.int16)])
    frames = [PCMU.encode(speech[i : i + 160]) for i in range(0, speech.size - 159, 160)]
    total_ticks = int((WARMUP_S + seconds) / 0.02)
    n = len(ports)
    contexts = (
        [SrtpContext(CryptoAttribute.parse(t), CryptoAttribute.parse(o)) for o, t in keys] if keys else None
    )
    # Pre-build every packet (SRTP protection included) so sending costs one sendto each.
    packets: list[list[bytes]] = []
    for s in range(n):
        offset = random.randrange(len(frames))
        row = []
        for k in range(total_ticks):
            data = bytes(
                RtpPacket(
                    0, k & 0xFFFF, (160 * k) & 0xFFFFFFFF, 0x10000 + s, frames[(offset + k) % len(frames)]
                )
            )
            row.append(contexts[s].protect(data) if contexts else data)
        packets.append(row)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setblocking(False)
    conn.send(sock.getsockname())
    conn.recv()  # the edge has opened its sessions

    targets = [("127.0.0.1", p) for p in ports]

    arrivals: list[tuple[int, int, int]] = []  # (ssrc, seq, kernel ns)
    start = time.monotonic() + 0.2
    warm_end_ns = None
    sent = 0
    for k in range(total_ticks):
        deadline = start + k * 0.02
        while True:  # receive until this tick is due
            wait = deadline - time.monotonic()
            if wait <= 0:
                break
            ready, _, _ = select.select([sock], [], [], wait)
            if ready:
                _drain(sock, arrivals)
        if k == int(WARMUP_S / 0.02):
            warm_end_ns = time.time_ns()
            sent = 0
        for s in range(n):
            sock.sendto(packets[s][k], targets[s])
        sent += n
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        ready, _, _ = select.select([sock], [], [], 0.05)
        if ready:
            _drain(sock, arrivals)
    conn.send((n * total_ticks, warm_end_ns, arrivals))  # every packet sent, warm-up included
    sock.close()


def _drain(sock: socket.socket, arrivals: list[tuple[int, int, int]]) -> None:
    while True:
        try:
            data, anc, _, _ = sock.recvmsg(2048, 64)
        except BlockingIOError:
            return
        if len(data) < 12:
            continue
        ns = time.time_ns()
        for level, kind, value in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", value[:16])
                ns = sec * 1_000_000_000 + nsec
        seq, _, ssrc = struct.unpack_from("!HII", data, 2)
        arrivals.append((ssrc, seq, ns))


# --- the edge (this process) ---


async def run_edge(sessions: int, srtp: bool, seconds: float, profile: str | None = None) -> dict[str, Any]:
    from edge.media.engine import MediaEngine
    from schemas.envelope import envelope
    from schemas.models import PlayAudio
    from sentiric.settings import Settings

    base = random.randrange(10000, 20000) & ~1  # below the ephemeral range
    settings = Settings(
        rtp_host="127.0.0.1",
        rtp_port_min=base,
        rtp_port_max=base + 4 * sessions + 1,
        rtp_port_quarantine_s=0,
        media_quality_interval_s=5.0,
    )
    facts = NullFacts()
    engine = MediaEngine(settings, facts)
    await engine.start()
    ports = []
    while len(ports) < sessions:  # skip ports another process holds
        port = engine.pool.allocate(time.monotonic())
        try:
            for p in (port, port + 1):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.bind(("127.0.0.1", p))
            ports.append(port)
        except OSError:
            continue
    keys = (
        [(str(CryptoAttribute.generate()), str(CryptoAttribute.generate())) for _ in ports] if srtp else None
    )
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=generator, args=(child, ports, keys, seconds))
    proc.start()
    loop = asyncio.get_running_loop()
    gen_addr = await loop.run_in_executor(None, parent.recv)
    prompt = np.tile(load_wav(FIXTURE), 30)
    for i, port in enumerate(ports):
        local, remote = keys[i] if keys else (None, None)
        await engine.open_session(
            f"bench-{i}",
            MediaOptions(
                local_port=port,
                remote_addr=tuple(gen_addr),
                codec="PCMU",
                payload_type=0,
                dtmf_payload_type=101,
                ptime_ms=20,
                crypto_local=local,
                crypto_remote=remote,
            ),
        )
        await engine.execute(
            PlayAudio(
                **envelope(f"bench-{i}", seq=1, source="bench"),
                playback_id="p",
                pcm=prompt.tobytes(),
                sample_rate=8000,
                barge_in=False,
            )
        )
    parent.send("go")
    await asyncio.sleep(0.2 + WARMUP_S)
    cpu0 = _cpu()
    sys0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    late0, skipped0 = engine.clock.late_ticks, engine.clock.skipped_ticks
    profiler = cProfile.Profile(time.thread_time) if profile else None  # CPU time, not wall clock
    if profiler is not None:
        profiler.enable()
    await asyncio.sleep(seconds)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)  # type: ignore[arg-type]
    cpu = _cpu() - cpu0
    system = resource.getrusage(resource.RUSAGE_SELF).ru_stime - sys0
    late, skipped = engine.clock.late_ticks - late0, engine.clock.skipped_ticks - skipped0
    sent, warm_end_ns, arrivals = await loop.run_in_executor(None, parent.recv)
    await asyncio.sleep(0.2)
    received = sum(engine.session(f"bench-{i}").packets_received for i in range(sessions))
    dropped = sum(sum(engine.session(f"bench-{i}").dropped.values()) for i in range(sessions))
    proc.join()
    await engine.stop()
    result = _score(
        sessions, srtp, seconds, cpu, sent, received, dropped, warm_end_ns, arrivals, late, skipped, facts
    )
    result["cpu_sys_ms_per_call_s"] = 1000 * system / seconds / sessions  # kernel: sendto/recvfrom
    return result


def tick_only(sessions: int, ticks: int = 500, rounds: int = 5, batched: bool = True) -> None:
    """The sessions' own work per tick (see the module docstring), best of ``rounds``."""
    from edge.media.clock import MediaClock
    from edge.media.endpoint import RtpEndpoint
    from edge.media.session import MediaSession
    from edge.media.storage import UriStore
    from edge.media.vad.silero import SileroBatch

    class NullWire:
        def sendto(self, data: bytes, addr: Any) -> None:
            pass

    speech = load_wav(FIXTURE)
    prompt = np.tile(speech, 30)
    ulaw = PCMU.encode(np.tile(speech, 3))
    packets = [
        bytes(
            RtpPacket(0, i & 0xFFFF, (160 * i) & 0xFFFFFFFF, 5, ulaw[(160 * i) % (len(ulaw) - 160) :][:160])
        )
        for i in range(ticks * rounds)
    ]
    made = []
    clock = MediaClock()  # not started: ticked by hand below, through its phases as the timer does
    batch = SileroBatch() if batched else None  # as the engine does (or each window scored alone)
    if batch is not None:
        clock.add_batch(batch.run)
    for k in range(sessions):
        media = MediaSession(
            f"tick-{k}",
            local_port=1,
            remote_addr=("127.0.0.1", 9),
            codec=PCMU,
            payload_type=0,
            dtmf_payload_type=101,
            ptime_ms=20,
            now=1000.0,
            vad_batch=batch,
        )
        s = RtpEndpoint(media, facts=NullFacts(), clock=clock, store=UriStore())
        s.rtp_transport = NullWire()  # type: ignore[assignment]  # a null socket
        media.player.play(prompt, prompt_id="p", barge_in=False)
        clock.add(s)
        made.append(s)
    addr = ("127.0.0.1", 9)
    best = float("inf")
    for r in range(rounds):
        t0 = time.process_time()
        for i in range(r * ticks, (r + 1) * ticks):
            now = 1000.0 + i * 0.02  # simulated time: the sans-IO session takes it as an argument
            packet = packets[i]
            for s in made:
                s.session.receive_rtp(packet, addr, now)
            clock.run_tick(now)
        best = min(best, (time.process_time() - t0) / ticks / sessions)
    print(
        f"tick-only N={sessions}: {best * 1e6:.1f} µs CPU per session-tick (receive + tick) = "
        f"{best * 50 * 1000:.2f} ms/s per call (best of {rounds} x {ticks} ticks"
        f"{', VAD batched' if batched else ', VAD window by window'})",
        flush=True,
    )


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _score(
    sessions: int,
    srtp: bool,
    seconds: float,
    cpu: float,
    sent: int,
    received: int,
    dropped: int,
    warm_end_ns: int,
    arrivals: list[tuple[int, int, int]],
    late: int,
    skipped: int,
    facts: NullFacts,
) -> dict[str, Any]:
    data = np.array(arrivals, dtype=np.int64)
    data = data[data[:, 2] >= warm_end_ns]
    data = data[np.lexsort((data[:, 2], data[:, 0]))]  # by ssrc, then arrival
    same = data[1:, 0] == data[:-1, 0]
    spacing_ms = (np.diff(data[:, 2]) / 1e6)[same]
    seq_step = (np.diff(data[:, 1]) % 65536)[same]
    gaps = int((seq_step - 1).clip(min=0).sum())
    streams = len(np.unique(data[:, 0]))
    p01, p50, p99, p999 = np.percentile(spacing_ms, [1, 50, 99, 99.9]) if spacing_ms.size else (0, 0, 0, 0)
    ok = 15.0 <= p01 and p99 <= 25.0 and gaps == 0 and received >= sent and streams == sessions
    return {
        "sessions": sessions,
        "srtp": srtp,
        "ok": ok,
        "p01_ms": p01,
        "p50_ms": p50,
        "p99_ms": p99,
        "p999_ms": p999,
        "max_ms": float(spacing_ms.max()) if spacing_ms.size else 0.0,
        "out_gaps": gaps,
        "in_sent": sent,
        "in_received": received,
        "in_dropped": dropped,
        "streams": streams,
        "cpu_ms_per_call_s": 1000 * cpu / seconds / sessions,
        "cpu_core_pct": 100 * cpu / seconds,
        "late_ticks": late,
        "skipped_ticks": skipped,
        "utterances": facts.counts.get("UtteranceCaptured", 0),
    }


def show(r: dict[str, Any]) -> None:
    print(
        f"N={r['sessions']:4d} srtp={'on ' if r['srtp'] else 'off'} {'PASS' if r['ok'] else 'FAIL'}  "
        f"out spacing p1/p50/p99/p99.9/max = {r['p01_ms']:.1f}/{r['p50_ms']:.1f}/{r['p99_ms']:.1f}/"
        f"{r['p999_ms']:.1f}/{r['max_ms']:.1f} ms, out gaps {r['out_gaps']}, "
        f"in {r['in_received']}/{r['in_sent']} (dropped {r['in_dropped']}), "
        f"edge CPU {r['cpu_core_pct']:.0f}% of a core = {r['cpu_ms_per_call_s']:.2f} ms/s per call "
        f"({r.get('cpu_sys_ms_per_call_s', 0.0):.2f} of it in the kernel), "
        f"late ticks {r['late_ticks']}, skipped {r['skipped_ticks']}, utterances {r['utterances']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, help="one run with this many calls (default: search)")
    parser.add_argument("--srtp", action="store_true")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--profile", help="diagnostic: cProfile the edge's measured window into this file")
    parser.add_argument("--gc-off", action="store_true", help="diagnostic: disable the cyclic GC in the edge")
    parser.add_argument("--tick-only", type=int, metavar="N", help="the sessions' work alone (no sockets)")
    parser.add_argument(
        "--unbatched", action="store_true", help="--tick-only: score each Silero window alone (no batch)"
    )
    args = parser.parse_args()
    if args.tick_only:
        tick_only(args.tick_only, batched=not args.unbatched)
        return
    if args.gc_off:
        import gc

        gc.disable()
    if not args.no_uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    print(f"{os.cpu_count()} CPUs, {'asyncio' if args.no_uvloop else 'uvloop'}, {args.seconds:.0f} s windows")
    if args.sessions:
        show(asyncio.run(run_edge(args.sessions, args.srtp, args.seconds, args.profile)))
        return
    for srtp in (False, True):
        best = 0
        for n in (100, 200, 250, 300, 350, 400, 500):
            result = asyncio.run(run_edge(n, srtp, args.seconds))
            show(result)
            if not result["ok"]:
                break
            best = n
        print(f"max N with SRTP {'on' if srtp else 'off'}: {best}", flush=True)


if __name__ == "__main__":
    main()
