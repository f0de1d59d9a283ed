"""Fuzz campaign against a live edge: mutated SIP (UDP and TCP), RTP/RTCP and WebSocket frames.

Starts a private local Kafka and ``sentiric edge`` in its own process (free ports, JSON logs), then:

1. SIP: ``--sip`` mutated messages from the RFC 4475 and captured corpora (``bench.fuzzing.sip``), from
   ``--workers`` sender processes, every ``--tcp-every``-th over TCP with framing games; each sender
   waits for the edge to answer a well-formed OPTIONS after every window, so the rate is the edge's
   (``--rate`` caps it);
2. media: real calls (PCMU, PCMA, SDES-SRTP) set up with INVITE/ACK, then ``--rtp`` mutated RTP and
   RTCP packets to their ports and to unallocated ports of the RTP range, then BYE;
3. WebSocket: ``--ws`` frames on ``/ws`` connections (bearer token), mutated JSON and audio through a
   client library and raw hand-built frames, reconnecting whenever the edge closes a session.

Throughout, a well-formed OPTIONS from 127.0.0.2 every ``--probe-ms`` must be answered. The edge's log
is watched for ERROR records and tracebacks; each sender keeps its last four windows and dumps them
when the error count grows; at the end every suspect message is replayed alone to find the one that
reproduces the error, saved under ``--findings`` (default ``bench/fuzz_findings``).

The campaign runs in a private network namespace (``unshare --net``, loopback only) unless
``--no-netns``: mutated messages name arbitrary hosts, and the edge must not reach any of them.

Exit status: 0 when the edge did not crash (process alive, no traceback or last-resort handler in its
log) and every probe was answered; 1 otherwise.

    PYTHONPATH=$PWD .venv/bin/python bench/fuzz_edge.py [--quick] [--sip N] [--rtp N] [--ws N] [--seed S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import json
import multiprocessing as mp
import os
import random
import secrets
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fuzzing import media, ws  # noqa: E402
from bench.fuzzing.call import hang_up, open_call  # noqa: E402
from bench.fuzzing.edge import EdgeUnderTest, LogRecord, LogWatch, provision_kafka  # noqa: E402
from bench.fuzzing.peers import (  # noqa: E402
    Prober,
    WorkerConfig,
    WorkerStats,
    follow_ups,
    headers_of,
    options,
    read_suspects,
    run_worker,
    write_suspects,
)
from bench.fuzzing.sip import SipMutator, load_corpus  # noqa: E402
from sentiric.settings import Settings  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "sip"
FINDINGS = ROOT / "bench" / "fuzz_findings"
INSIDE = "SENTIRIC_FUZZ_IN_NETNS"
# Protections the campaign raises so that mutated traffic reaches the parsers instead of a rate limiter
# (issue 10's per-source limits; see sentiric/settings.py). Every name must be a setting: a misspelt one
# would leave its limit at the default and quietly turn the campaign into a rate-limiter test.
CAMPAIGN_PROTECTIONS: dict[str, str] = {
    "sip_rate_invite": "1000000",
    "sip_rate_invite_burst": "1000000",
    "sip_rate_register": "1000000",
    "sip_rate_register_burst": "1000000",
    "sip_rate_options": "1000000",
    "sip_rate_options_burst": "1000000",
    "sip_max_calls_per_source": "100000",
    "sip_auth_fail_limit": "1000000",
    "sip_tcp_max_connections": "100000",
    "sip_tcp_max_per_source": "100000",
}
PROTECTION_WORDS = ("rate", "per_source", "max_conn", "auth_fail", "block", "burst", "flood", "ws_max")


def loopback_up() -> None:
    """Bring ``lo`` up in a fresh network namespace (SIOCGIFFLAGS / SIOCSIFFLAGS, IFF_UP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s.fileno(), 0x8913, ifreq))[1]
        fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH14s", b"lo", flags | 1, b""))


def reexec_in_netns() -> int:
    provision_kafka()  # the jars come from Maven Central: fetch them while there is a network
    unshare = shutil.which("unshare")
    if unshare is None:
        sys.exit(
            "fuzz_edge: `unshare` (util-linux) is needed for the private network namespace; or --no-netns"
        )
    cmd = [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--map-root-user", "--net"]
    env = dict(os.environ, **{INSIDE: "1"})
    return subprocess.call([*cmd, sys.executable, *sys.argv], env=env)


def protections(args: argparse.Namespace) -> dict[str, str]:
    """The edge's setting overrides: CAMPAIGN_PROTECTIONS, then ``--set``; exits on a name that is no
    field of :class:`Settings` (the edge would ignore it)."""
    out = dict(CAMPAIGN_PROTECTIONS)
    for item in args.set or []:
        key, _, value = item.partition("=")
        out[key.strip().lower()] = value
    unknown = unknown_settings(out)
    if unknown:
        sys.exit(f"fuzz_edge: not settings of the edge (sentiric/settings.py): {', '.join(unknown)}")
    return out


def unknown_settings(overrides: dict[str, str]) -> list[str]:
    return sorted(k for k in overrides if k not in Settings.model_fields)


# --- phases ---


def sip_phase(
    args: argparse.Namespace, edge: EdgeUnderTest, errors: Any, workdir: Path
) -> tuple[list[Any], float]:
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    suspects = workdir / "suspects"
    suspects.mkdir(exist_ok=True)
    procs = []
    for w in range(args.workers):
        cfg = WorkerConfig(
            worker=w,
            seed=args.seed,
            indexes=range(w, args.sip, args.workers),
            edge_port=edge.ports.sip,
            corpus_root=str(CORPUS),
            suspects=str(suspects),
            window=args.window,
            rate=args.rate / args.workers if args.rate else 0.0,
            tcp_every=args.tcp_every,
        )
        proc = ctx.Process(target=run_worker, args=(cfg, errors, results), name=f"sip-sender-{w}")
        proc.start()
        procs.append(proc)
    started = time.monotonic()
    stats: list[WorkerStats] = []
    last = started
    while len(stats) < len(procs):
        with contextlib.suppress(Exception):
            stats.append(results.get(timeout=1.0))
        if not edge.alive():
            print("  the edge process died during the SIP phase", flush=True)
            for proc in procs:
                proc.terminate()
            break
        if time.monotonic() - last > 30:
            last = time.monotonic()
            print(
                f"  SIP phase: {time.monotonic() - started:.0f} s, edge CPU {edge.cpu_s():.0f} s", flush=True
            )
        if all(not p.is_alive() for p in procs) and results.empty():
            break
    elapsed = time.monotonic() - started
    for proc in procs:
        proc.join(5)
    return stats, elapsed


def media_phase(args: argparse.Namespace, edge: EdgeUnderTest, errors: Any, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"labels": Counter(), "to": Counter(), "bye": [], "calls": 0, "rx": 0}
    if args.rtp <= 0:
        return out
    calls = [open_call(edge.ports.sip, profile, n) for n, profile in enumerate(("pcmu", "pcma", "srtp"))]
    out["calls"] = len(calls)
    out["refused_503"] = sum(c.refused for c in calls)
    taken = {c.remote_rtp for c in calls}
    free = [p for p in range(edge.ports.rtp_min, edge.ports.rtp_max) if p & ~1 not in taken]
    stray = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stray.bind(("127.0.0.1", 0))
    ring: deque[tuple[int, int, bytes]] = deque(maxlen=200)
    seen = errors.value
    started = time.monotonic()
    seqs = {c.call_id: random.Random(args.seed).getrandbits(16) for c in calls}
    for i in range(args.rtp):
        rng = random.Random(args.seed * 2654435761 + i)
        call = calls[i % len(calls)]
        ssrc = 0x5EED0000 + i % len(calls)
        seqs[call.call_id] += 1
        data, label, rtcp = media.packet(rng, ssrc, seqs[call.call_id], seqs[call.call_id] * 160)
        if rng.random() < 0.75:
            port, sock = call.remote_rtp + (1 if rtcp else 0), call.rtp
            out["to"]["call port"] += 1
        else:
            port, sock = rng.choice(free), stray
            out["to"]["unallocated port"] += 1
        with contextlib.suppress(OSError):
            sock.sendto(data, ("127.0.0.1", port))
        out["labels"][label] += 1
        ring.append((i, port, data))
        if i % 500 == 0:
            for c in calls:  # what the edge sends us: drained, counted
                with contextlib.suppress(OSError):
                    while True:
                        out["rx"] += len(c.rtp.recv(65536)) > 0
            if errors.value != seen:
                seen = errors.value
                (workdir / "suspects").mkdir(exist_ok=True)
                with (workdir / "suspects" / "rtp.txt").open("a") as fh:
                    fh.writelines(f"{n} {p} {d.hex()}\n" for n, p, d in ring)
            if not edge.alive():
                break
        ahead = i / args.rtp_rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    out["elapsed_s"] = time.monotonic() - started
    out["bye"] = [hang_up(c) for c in calls] if edge.alive() else []
    stray.close()
    return out


async def ws_phase(
    args: argparse.Namespace, edge: EdgeUnderTest, errors: Any, workdir: Path
) -> dict[str, Any]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    out: dict[str, Any] = {
        "labels": Counter(),
        "closes": Counter(),
        "server": Counter(),
        "connections": 0,
        "refused": None,
        "suspects": 0,
    }
    url = f"ws://127.0.0.1:{edge.ports.ws}/ws?caller=fuzz"
    headers = {"Authorization": f"Bearer {args.token}"}
    sent, conn_no = 0, 0
    started = time.monotonic()
    while sent < args.ws and edge.alive():
        conn_no += 1
        rng = random.Random(args.seed * 40503 + conn_no)
        out["connections"] += 1
        frames: list[tuple[str, bytes | str, bool]] = []
        seen = errors.value
        if rng.random() < args.ws_raw_share:
            sent += await _raw_ws(rng, edge.ports.ws, args.token, out, frames)
        else:
            try:
                async with connect(
                    url,
                    additional_headers=headers,
                    proxy=None,
                    open_timeout=10,
                    ping_interval=None,
                    max_size=None,
                    close_timeout=3,
                ) as conn:
                    reader = asyncio.create_task(_ws_read(conn, out))
                    try:
                        for _ in range(min(rng.choice((1, 5, 20, 60, 200)), args.ws - sent)):
                            data, text, label = ws.frame(rng)
                            frames.append((label, data, text))
                            await conn.send(data, text=text)
                            out["labels"][label] += 1
                            sent += 1
                            await asyncio.sleep(0)
                        await asyncio.wait_for(conn.send('{"type":"hangup"}'), 3)
                    except (ConnectionClosed, TimeoutError):
                        pass
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(reader, 5)
                    reader.cancel()
                    rcvd = conn.close_code
                    out["closes"][f"{rcvd} {conn.close_reason or ''}".strip()[:60]] += 1
                    if rcvd in (1006, 1011) or errors.value != seen:
                        out["suspects"] += 1
                        _save_ws(workdir, conn_no, frames)
            except InvalidStatus as exc:
                out["refused"] = f"HTTP {exc.response.status_code}"
                break
            except (OSError, TimeoutError) as exc:
                out["closes"][f"connect failed: {type(exc).__name__}"] += 1
    out["elapsed_s"] = time.monotonic() - started
    out["frames"] = sent
    return out


async def _ws_read(conn: Any, out: dict[str, Any]) -> None:
    import json

    with contextlib.suppress(Exception):
        async for msg in conn:
            if isinstance(msg, str):
                obj = json.loads(msg)
                out["server"][f"{obj.get('type')} {obj.get('code', '')}".strip()] += 1
            else:
                out["server"]["binary"] += 1


async def _raw_ws(rng: random.Random, port: int, token: str, out: dict[str, Any], frames: list[Any]) -> int:
    """A hand-written upgrade, then a few hand-built frames; the edge's close code is read back."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    except (OSError, TimeoutError):
        out["closes"]["raw: connect failed"] += 1
        return 0
    n = 0
    try:
        writer.write(ws.upgrade_request(port, token))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        if not head.startswith(b"HTTP/1.1 101"):
            out["closes"][f"raw: upgrade {head[:12].decode(errors='replace')}"] += 1
            return 0
        for _ in range(rng.choice((1, 2, 5))):
            data, label = ws.raw_frame(rng)
            frames.append((f"raw {label}", data, False))
            writer.write(data)
            out["labels"][f"raw {label}"] += 1
            n += 1
        await writer.drain()
        rest = b""
        with contextlib.suppress(TimeoutError, OSError, asyncio.IncompleteReadError):
            while len(rest) < 1 << 20:
                chunk = await asyncio.wait_for(reader.read(65536), 2)
                if not chunk:
                    break
                rest += chunk
        at = rest.find(b"\x88")  # the server's close frame (unmasked, short)
        code = struct.unpack("!H", rest[at + 2 : at + 4])[0] if at >= 0 and len(rest) >= at + 4 else None
        out["closes"][f"raw: {code if code is not None else 'no close frame'}"] += 1
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        out["closes"][f"raw: {type(exc).__name__}"] += 1
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return n


def _save_ws(workdir: Path, conn_no: int, frames: list[tuple[str, bytes | str, bool]]) -> None:
    suspects = workdir / "suspects"
    suspects.mkdir(exist_ok=True)
    items = [
        (
            conn_no,
            ("ws-text" if text else "ws-binary"),
            d if isinstance(d, bytes) else d.encode("utf-8", "surrogatepass"),
        )
        for _, d, text in frames
    ]
    write_suspects(suspects / f"ws-{conn_no}.bin", items)


# --- triage: find the one input that reproduces an error ---


def triage(args: argparse.Namespace, wanted: set[str], workdir: Path) -> list[str]:
    """Replay every suspect input alone against a fresh edge until each error signature of the campaign
    has the input that reproduces it (an error that repeats by itself is blamed on the input that started
    it, once); the reproducers go to ``--findings``."""
    suspects = workdir / "suspects"
    items: dict[bytes, tuple[int, str, bytes]] = {}
    for path in sorted(suspects.glob("*.bin")) if suspects.exists() else []:
        for index, transport, data in read_suspects(path):
            items.setdefault(transport.encode() + data, (index, transport, data))
    if not items:
        return []
    print(f"triage: {len(items)} suspect inputs, {len(wanted)} error signatures, a fresh edge", flush=True)
    edge = EdgeUnderTest(workdir / "triage", protections(args), args.token)
    edge.start()
    found: list[str] = []
    seen: set[str] = set(edge.watch.snapshot())  # anything the edge logs on its own at start
    deadline = time.monotonic() + args.triage_s
    try:
        for index, transport, data in items.values():
            if not wanted - seen or time.monotonic() > deadline:
                break
            replay_one(edge, transport, data)
            settle(edge)
            for sig, entry in edge.watch.snapshot().items():
                if sig not in seen:
                    seen.add(sig)
                    before = entry.count
                    replay_one(edge, transport, data)  # again: does the count grow? (else: timing)
                    settle(edge)
                    again = edge.watch.snapshot()[sig].count > before
                    path = Path(args.findings)
                    found.append(save_finding(path, index, transport, data, entry.first, sig, again))
            if not edge.alive():
                found.append(
                    save_finding(Path(args.findings), index, transport, data, None, "edge died", True)
                )
                break
    finally:
        edge.stop()
    missing = wanted - seen
    if missing:
        found.append(f"not reproduced by one input: {'; '.join(sorted(missing))}")
    return found


def settle(edge: EdgeUnderTest, quiet_s: float = 0.25, most_s: float = 3.0) -> None:
    """Wait until no new kind of error has appeared for ``quiet_s`` (what one input caused is logged);
    an error that keeps repeating (a session failing every tick) does not keep this waiting."""
    end = time.monotonic() + most_s
    last = -1
    while time.monotonic() < end and edge.watch.distinct != last:
        last = edge.watch.distinct
        time.sleep(quiet_s)


def replay_one(edge: EdgeUnderTest, transport: str, data: bytes) -> None:
    """Send one input as the campaign did: a 2xx to an INVITE gets its ACK, then (a little later) a BYE."""
    if transport == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            edge_addr = ("127.0.0.1", edge.ports.sip)
            s.sendto(data, edge_addr)
            s.settimeout(2)
            probe_id = f"triage-{random.getrandbits(32):x}"
            s.sendto(options(probe_id, s.getsockname(), edge.ports.sip), edge_addr)
            later: list[bytes] = []
            with contextlib.suppress(OSError):
                while True:
                    resp = s.recv(70000)
                    if probe_id.encode() in resp:
                        break
                    if resp.startswith(b"SIP/2.0 2") and b"INVITE" in headers_of(resp).get(b"cseq", b""):
                        ack, bye = follow_ups(resp, s.getsockname(), edge.ports.sip)
                        s.sendto(ack, edge_addr)
                        later.append(bye)
            if later:
                time.sleep(0.3)
                for bye in later:
                    s.sendto(bye, edge_addr)
    elif transport.startswith("tcp"):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", edge.ports.sip), 2) as c:
            c.sendall(data)
            if transport == "tcp-abort":  # an abortive close (RST) right after the bytes
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            c.settimeout(0.5)
            with contextlib.suppress(OSError):
                c.recv(65536)
    else:
        asyncio.run(_replay_ws(edge, transport, data))


async def _replay_ws(edge: EdgeUnderTest, transport: str, data: bytes) -> None:
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{edge.ports.ws}/ws?caller=triage"
    token = edge.token
    with contextlib.suppress(Exception):
        async with connect(
            url,
            additional_headers={"Authorization": f"Bearer {token}"},
            proxy=None,
            max_size=None,
            close_timeout=2,
        ) as conn:
            await conn.send(data, text=transport == "ws-text")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.recv(), 2)
                await asyncio.wait_for(conn.recv(), 2)


def save_finding(findings: Path, index: int, transport: str, data: bytes, record: LogRecord | None,
                 signature: str, confirmed: bool) -> str:  # fmt: skip
    findings.mkdir(parents=True, exist_ok=True)
    stem = findings / f"{transport}-{hashlib.sha256(data).hexdigest()[:10]}"
    stem.with_suffix(".bin").write_bytes(data)
    lines = [
        f"signature: {signature}",
        f"transport: {transport}",
        f"campaign index: {index}",
        f"reproduced a second time: {'yes' if confirmed else 'no (may be the input before it)'}",
        "",
        record.text if record else "edge process died",
    ]
    stem.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    shown = stem.relative_to(ROOT) if stem.is_relative_to(ROOT) else stem
    return f"{shown}.bin{'' if confirmed else ' (unconfirmed)'}: {signature}"


def save_odd_answers(args: argparse.Namespace, sip_stats: list[WorkerStats], most: int = 12) -> list[str]:
    """For answers that are not valid SIP responses (or answer a response): the request behind each,
    rebuilt from its campaign index, next to the answer; one per kind of problem."""
    mutator = SipMutator(load_corpus(CORPUS), args.seed)
    saved: dict[str, str] = {}
    for problem, index, answer in [x for st in sip_stats for x in (*st.odd, *st.invalid)]:
        kind = problem.split(" (")[0].split(" for a body")[0].split("'")[0]
        if index is None or kind in saved or len(saved) >= most:
            continue
        request = mutator.message(index)
        findings = Path(args.findings)
        findings.mkdir(parents=True, exist_ok=True)
        stem = findings / f"answer-{hashlib.sha256(request.data).hexdigest()[:10]}"
        stem.with_suffix(".bin").write_bytes(request.data)
        stem.with_suffix(".txt").write_text(
            f"problem: {problem}\ncampaign seed {args.seed} index {index} (rebuild: SipMutator(corpus, seed)"
            f".message(index)); corpus entry {request.base}, mutations {', '.join(request.ops)}\n\n"
            f"the edge's answer:\n{answer!r}\n"
        )
        shown = stem.relative_to(ROOT) if stem.is_relative_to(ROOT) else stem
        saved[kind] = f"{shown}.bin: {problem}"
    return list(saved.values())


# --- the campaign ---


def campaign(args: argparse.Namespace) -> int:
    raised = protections(args)
    known = set(Settings.model_fields)
    workdir = Path(tempfile.mkdtemp(prefix="sentiric-fuzz-"))
    edge = EdgeUnderTest(workdir, raised, args.token)
    print(
        f"fuzz campaign: seed {args.seed}, sip {args.sip}, rtp {args.rtp}, ws {args.ws}, "
        f"workers {args.workers}, "
        f"netns {'yes' if os.environ.get(INSIDE) else 'no'}, load before {os.getloadavg()}",
        flush=True,
    )
    print("protections raised for the campaign (SENTIRIC_* overrides to the edge):")
    for key, value in sorted(raised.items()):
        print(f"  {key}={value}")
    left = [k for k in sorted(known) if any(w in k for w in PROTECTION_WORDS) and k not in raised]
    print(f"  protection-like settings left at their defaults: {', '.join(left) or 'none'}", flush=True)
    edge.start()
    errors = mp.get_context("spawn").Value("i", 0)
    stop_sync = threading.Event()

    def sync_errors() -> None:
        while not stop_sync.wait(0.05):
            errors.value = edge.watch.distinct

    threading.Thread(target=sync_errors, daemon=True).start()
    prober = Prober(edge.ports.sip, args.probe_ms / 1000, args.probe_timeout)
    peak = [0]

    def sample_rss() -> None:
        while not stop_sync.wait(0.5):
            with contextlib.suppress(Exception):
                peak[0] = max(peak[0], edge.rss())

    threading.Thread(target=sample_rss, daemon=True).start()
    time.sleep(1.0)
    rss_before, cpu_before, t0 = edge.rss(), edge.cpu_s(), time.monotonic()
    phase_errors: dict[str, str] = {}
    sip_stats, sip_s, rtp, wsr = [], 0.0, {}, {}

    def phase(name: str, run: Any) -> Any:
        if not edge.alive():
            return None
        try:
            return run()
        except Exception as exc:  # a phase that cannot go on is a finding; the others still run
            phase_errors[name] = f"{type(exc).__name__}: {exc}"
            print(f"{name} phase stopped: {phase_errors[name]}", flush=True)
            return None
        finally:
            print(f"{name} phase done", flush=True)

    try:
        prober.start()
        try:
            sip_stats, sip_s = phase("SIP", lambda: sip_phase(args, edge, errors, workdir)) or ([], 0.0)
            rtp = phase("media", lambda: media_phase(args, edge, errors, workdir)) or {}
            if args.ws:
                wsr = phase("WebSocket", lambda: asyncio.run(ws_phase(args, edge, errors, workdir))) or {}
            time.sleep(2.0)  # late answers, timers, the last log lines
        finally:
            prober.stop()
        run_s = time.monotonic() - t0
        rss_after, cpu_after = edge.rss(), edge.cpu_s()
        metrics = edge.metrics()
        alive = edge.alive()
    finally:
        code = edge.stop()
        stop_sync.set()
    sigs = edge.watch.snapshot()
    wanted = {sig for sig, entry in sigs.items() if entry.first.is_crash} | (
        {"edge died"} if not alive else set()
    )
    found = triage(args, wanted, workdir) if wanted and args.triage else []
    failed = (not alive) or any(e.first.is_crash for e in sigs.values()) or bool(prober.unanswered)
    found += save_odd_answers(args, sip_stats)
    found += [f"{name} phase stopped: {error}" for name, error in phase_errors.items()]
    summary = report(
        args,
        sip_stats,
        sip_s,
        rtp,
        wsr,
        prober,
        edge,
        found,
        metrics,
        (rss_before, rss_after, peak[0]),
        (cpu_after - cpu_before, run_s),
        alive,
        code,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"work directory kept: {workdir}")
    return 1 if failed else 0


def report(
    args, sip_stats, sip_s, rtp, wsr, prober, edge, found, metrics, rss, cpu, alive, code
) -> dict[str, Any]:
    """Print the summary table; return the same figures as data (``--json``)."""
    total: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    tcp: Counter[str] = Counter()
    bytes_out: Counter[str] = Counter()
    bytes_in: Counter[str] = Counter()
    invalid: list[Any] = []
    odd: list[Any] = []
    problems: Counter[str] = Counter()
    follow = lost = 0
    for st in sip_stats:
        total.update(st.sent)
        answers.update(st.answers)
        tcp.update(st.tcp)
        bytes_out.update(st.bytes_out)
        bytes_in.update(st.bytes_in)
        invalid += st.invalid
        odd += st.odd
        problems.update(st.problems)
        follow += st.follow_ups
        lost += st.sync_lost
    sip_sent = sum(v for k, v in total.items() if k not in ("send_error", "generator_error"))
    generator_errors = [e for st in sip_stats for e in st.generator_errors]
    lat = sorted(prober.latencies) or [0.0]
    sigs = edge.watch.snapshot()
    crashes = {sig: e for sig, e in sigs.items() if e.first.is_crash}
    summary: dict[str, Any] = {
        "seed": args.seed,
        "edge_alive": alive,
        "edge_exit_code": code,
        "crash_signatures": {sig: e.count for sig, e in crashes.items()},
        "crashes": sum(e.count for e in crashes.values()) + (0 if alive else 1),
        "error_signatures": {sig: e.count for sig, e in sigs.items()},
        "probes": {
            "sent": prober.sent,
            "answered": len(prober.latencies),
            "unanswered": len(prober.unanswered),
            "retransmitted": prober.retransmitted,
            "p50_ms": 1000 * statistics.median(lat),
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
            "max_ms": 1000 * lat[-1],
        },
        "rss_mib": {"before": rss[0] / 2**20, "after": rss[1] / 2**20, "peak": rss[2] / 2**20},
        "edge_cpu_s": cpu[0],
        "run_s": cpu[1],
        "sip": {
            "sent": sip_sent,
            "by_kind": dict(total),
            "seconds": sip_s,
            "per_s": sip_sent / max(sip_s, 1e-9),
            "answers": dict(answers),
            "bytes_out": dict(bytes_out),
            "bytes_in": dict(bytes_in),
            "tcp": dict(tcp),
            "follow_ups": follow,
            "syncs_lost": lost,
            "invalid_responses": sum(problems.values()),
            "invalid_by_problem": dict(problems),
            "answers_to_responses": len(odd),
        },
        "rtp": {
            "sent": sum(rtp["labels"].values()),
            "by_kind": dict(rtp["labels"]),
            "to": dict(rtp["to"]),
            "calls": rtp["calls"],
            "refused_503": rtp.get("refused_503", 0),
            "bye": rtp["bye"],
            "seconds": rtp.get("elapsed_s", 0),
        }
        if rtp
        else {},
        "ws": {
            "frames": wsr["frames"],
            "connections": wsr["connections"],
            "refused": wsr["refused"],
            "closes": dict(wsr["closes"]),
            "server": dict(wsr["server"]),
            "by_kind": dict(wsr["labels"]),
            "seconds": wsr["elapsed_s"],
        }
        if wsr
        else {},
        "generator_errors": generator_errors,
        "findings": found,
        "phase_errors": [f for f in found if " phase stopped: " in f],
        "load_after": os.getloadavg(),
    }
    p = summary["probes"]
    rows = [
        ("edge process", "alive" if alive else f"DIED (exit code {edge.exit_code()})"),
        ("crashes (tracebacks, last-resort handlers)", f"{summary['crashes']} records, {len(crashes)} kinds"),
        ("ERROR/CRITICAL log records", f"{edge.watch.errors} records, {len(sigs)} kinds"),
        ("OPTIONS probes sent / answered / unanswered", f"{p['sent']} / {p['answered']} / {p['unanswered']}"),
        (
            "probe latency p50 / p99 / max",
            f"{p['p50_ms']:.1f} / {p['p99_ms']:.1f} / {p['max_ms']:.1f} ms; "
            f"{p['retransmitted']} retransmissions",
        ),
        (
            "edge RSS before / after / peak",
            f"{rss[0] / 2**20:.1f} / {rss[1] / 2**20:.1f} / {rss[2] / 2**20:.1f} MiB",
        ),
        (
            "edge CPU during the run",
            f"{cpu[0]:.1f} s in {cpu[1]:.1f} s ({100 * cpu[0] / max(cpu[1], 1e-9):.0f}% "
            f"of a core); load average now {os.getloadavg()[0]:.2f}",
        ),
        (
            "SIP messages sent",
            f"{sip_sent} (UDP requests {total['request']}, responses {total['response']}, junk "
            f"{total['junk']}; TCP {total['tcp']}; send errors {total['send_error']}; fuzzer's own "
            f"generator errors {total['generator_error']})",
        ),
        ("SIP messages per second", f"{summary['sip']['per_s']:.0f} over {sip_s:.1f} s"),
        ("SIP answers by socket and class", ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))),
        ("bytes answered per byte sent: requests", _ratio(bytes_in["request"], bytes_out["request"])),
        ("  junk (amplification)", _ratio(bytes_in["junk"], bytes_out["junk"])),
        ("  responses", _ratio(bytes_in["response"], bytes_out["response"])),
        ("  TCP", _ratio(bytes_in["tcp"], bytes_out["tcp"])),
        ("TCP connections", ", ".join(f"{k}: {v}" for k, v in sorted(tcp.items()))),
        ("ACK+BYE sent after a 2xx; window syncs lost", f"{follow}; {lost}"),
        (
            "invalid SIP answers",
            f"{sum(problems.values())}: " + ", ".join(f"{k}: {v}" for k, v in problems.items()),
        ),
        ("answers to responses", str(len(odd))),
    ]
    if rtp:
        rows += [
            (
                "RTP/RTCP packets sent",
                f"{summary['rtp']['sent']} in {summary['rtp']['seconds']:.1f} s, "
                f"{dict(rtp['to'])}; calls {rtp['calls']}, BYE answered {rtp['bye']}; "
                f"from the edge {rtp['rx']}",
            ),
            ("RTP kinds", ", ".join(f"{k}: {v}" for k, v in sorted(rtp["labels"].items()))),
        ]
    if wsr:
        rows += [
            (
                "WebSocket frames sent",
                f"{wsr['frames']} on {wsr['connections']} connections in "
                f"{wsr['elapsed_s']:.1f} s" + (f"; REFUSED: {wsr['refused']}" if wsr["refused"] else ""),
            ),
            ("WebSocket closes by code", ", ".join(f"{k}: {v}" for k, v in wsr["closes"].most_common())),
            ("WebSocket server messages", ", ".join(f"{k}: {v}" for k, v in wsr["server"].most_common())),
        ]
    print("\n" + "=" * 100 + "\nfuzz campaign summary\n" + "=" * 100)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    words = (
        "parse_errors",
        "requests_total",
        "calls_active",
        "active_sessions",
        "rtp_packets",
        "rate_limited",
        "tick_errors",
        "fact_errors",
        "invites_rejected",
    )
    shown = sorted(k for k in metrics if any(w in k for w in words))
    if shown:
        print("\nedge metrics at the end:")
        for key in shown:
            print(f"  {key} {metrics[key]:g}")
    print(f"\nedge log: {edge.watch.lines} lines")
    for (level, message), n in edge.watch.counts.most_common():
        if level in ("WARNING", "ERROR", "CRITICAL"):
            print(f"  {level} x{n}: {message}")
    print("\nerrors by kind (signature: message | exception, digits folded):")
    for sig, entry in sorted(sigs.items(), key=lambda kv: -kv[1].count):
        print(f"  {'CRASH ' if entry.first.is_crash else ''}x{entry.count}: {sig}")
    for sig, entry in list(crashes.items())[:6]:
        print(f"\nfirst record of {sig}:\n{entry.first.text[-2500:]}")
    for problem, index, data in (invalid + odd)[:5]:
        print(f"\nodd answer ({problem}, campaign index {index}):\n{data[:500]!r}")
    if found:
        print("\ntriage (one input each):")
        for line in found:
            print(f"  {line}")
    verdict = "PASS" if alive and not crashes and not prober.unanswered else "FAIL"
    print(f"\n{verdict}: crashes {summary['crashes']}, unanswered probes {p['unanswered']}", flush=True)
    return summary


def _ratio(inbound: int, outbound: int) -> str:
    return f"{outbound} sent, {inbound} answered (x{inbound / outbound:.3f})" if outbound else "none sent"


def replay(args: argparse.Namespace) -> int:
    """Send reproducer files (raw bytes, or a suspects file) to a fresh edge and show what it logged."""
    workdir = Path(tempfile.mkdtemp(prefix="sentiric-fuzz-replay-"))
    edge = EdgeUnderTest(workdir, protections(args), args.token)
    edge.start()
    try:
        for name in args.replay:
            path = Path(name)
            transport = next(
                (t for t in ("ws-text", "ws-binary", "tcp", "udp") if path.name.startswith(t)), "udp"
            )
            before = set(edge.watch.snapshot())
            replay_one(edge, transport, path.read_bytes())
            time.sleep(0.5)
            new = {k: v for k, v in edge.watch.snapshot().items() if k not in before}
            print(
                f"{path} ({transport}): {len(new)} new kinds of error, "
                f"edge {'alive' if edge.alive() else 'DIED'}"
            )
            for entry in new.values():
                print(entry.first.text[-3000:])
            print(f"  the edge's /metrics {'answers' if edge.metrics() else 'DOES NOT ANSWER'}")
        return 0 if edge.alive() else 1
    finally:
        edge.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def retriage(args: argparse.Namespace) -> int:
    """Triage again the suspects a kept campaign (``--keep``) left in its work directory."""
    workdir = Path(args.retriage)
    watch = LogWatch(workdir / "edge.log")
    watch.start()
    last = -1
    while watch.lines != last:  # read the whole log
        last = watch.lines
        time.sleep(1.0)
    watch.stop()
    wanted = {sig for sig, entry in watch.snapshot().items() if entry.first.is_crash}
    print(f"{watch.lines} log lines, {len(wanted)} kinds of crash")
    for line in triage(args, wanted, workdir):
        print(f"  {line}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sip", type=int, default=1_000_000, help="mutated SIP messages")
    parser.add_argument("--rtp", type=int, default=100_000, help="mutated RTP/RTCP packets")
    parser.add_argument("--ws", type=int, default=10_000, help="WebSocket frames")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="SIP messages/s cap (0: as fast as the edge answers)"
    )
    parser.add_argument("--rtp-rate", type=float, default=4000.0, help="RTP/RTCP packets per second")
    parser.add_argument("--workers", type=int, default=2, help="SIP sender processes")
    parser.add_argument("--window", type=int, default=64, help="SIP messages between two answered OPTIONS")
    parser.add_argument("--tcp-every", type=int, default=10, help="every n-th SIP message over TCP (0: none)")
    parser.add_argument(
        "--ws-raw-share", type=float, default=0.15, help="share of hand-built WebSocket connections"
    )
    parser.add_argument("--probe-ms", type=float, default=100.0, help="OPTIONS probe interval")
    parser.add_argument("--probe-timeout", type=float, default=2.0, help="seconds for a probe to be answered")
    parser.add_argument(
        "--token",
        default=os.environ.get("SENTIRIC_ADMIN_TOKEN") or secrets.token_urlsafe(24),
        help="bearer token for /ws, also the edge's SENTIRIC_ADMIN_TOKEN (default: "
        "$SENTIRIC_ADMIN_TOKEN, else a random one)",
    )
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="another edge setting override")
    parser.add_argument("--findings", default=str(FINDINGS), help="where reproducers are written")
    parser.add_argument("--no-triage", dest="triage", action="store_false")
    parser.add_argument("--triage-s", type=float, default=300.0, help="time budget of the triage")
    parser.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    parser.add_argument("--no-netns", action="store_true", help="run on the host's loopback (no namespace)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (edge log, suspects)")
    parser.add_argument("--replay", nargs="+", metavar="FILE", help="send reproducer files to a fresh edge")
    parser.add_argument("--retriage", metavar="WORKDIR", help="triage the suspects of a kept campaign again")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3,000 SIP, 2,000 RTP, 300 WS")
    args = parser.parse_args()
    if args.quick:
        args.sip, args.rtp, args.ws = min(args.sip, 3000), min(args.rtp, 2000), min(args.ws, 300)
    if not args.no_netns and not os.environ.get(INSIDE):
        return reexec_in_netns()
    if os.environ.get(INSIDE):
        loopback_up()
    if args.retriage:
        return retriage(args)
    return replay(args) if args.replay else campaign(args)


if __name__ == "__main__":
    sys.exit(main())
