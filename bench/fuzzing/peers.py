"""The fuzzer's SIP side: UDP and TCP sender processes, the OPTIONS probe, a real call for the media phase.

UDP senders are flow-controlled by the edge itself: after each window of mutated messages a sender
sends a well-formed OPTIONS from its request socket and waits for the answer. The edge reads its one
UDP socket in order, so that answer means the whole window was handled; the campaign therefore runs
at the rate the edge can take (``--rate`` caps it lower) and never overflows the edge's socket buffer.

Each mutated message leaves from one of three sockets by its shape (``bench.fuzzing.sip.kind``):
requests, responses and junk. Whatever comes back is checked (a valid SIP response?) and sorted by the
socket it reached: an answer on the response socket is an answer to a response (never allowed), an
answer on the junk socket is bytes sent back for garbage (amplification, counted).
A 2xx to an INVITE is followed by a well-formed ACK and BYE, so calls end and their ports return.

After each window a sender compares the shared count of kinds of ERROR record in the edge's log (by
signature) with the one it saw last; when it grew, it dumps its last four windows (the exact bytes) as
suspects for triage.
"""

from __future__ import annotations

import random
import re
import select
import socket
import struct
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.fuzzing.sip import SipMutator, load_corpus

SIP_HEADERS = (b"via", b"from", b"to", b"call-id", b"cseq")
COMPACT_OF = {b"v": b"via", b"f": b"from", b"t": b"to", b"i": b"call-id", b"l": b"content-length"}
_STATUS = re.compile(rb"SIP/2\.0 ([1-6]\d\d) [^\r\n]*\r\n")
_REQUEST = re.compile(rb"[A-Z]+ \S+ SIP/2\.0\r\n")
_FZ_ID = re.compile(rb"fz([0-9a-f]+)\.([0-9a-f]+)@")


def options(call_id: str, local: tuple[str, int], edge_port: int, transport: str = "UDP") -> bytes:
    host, port = local
    return (
        f"OPTIONS sip:probe@127.0.0.1:{edge_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} {host}:{port};branch=z9hG4bK-{call_id};rport\r\n"
        f"Max-Forwards: 70\r\n"
        f"From: <sip:fuzzer@{host}>;tag={call_id[-10:]}\r\n"
        f"To: <sip:probe@127.0.0.1:{edge_port}>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: 1 OPTIONS\r\n"
        f"Accept: application/sdp\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


def headers_of(data: bytes) -> dict[bytes, bytes]:
    """First value of each header, names lower-cased and compact forms expanded (responses only)."""
    head = data.split(b"\r\n\r\n", 1)[0]
    out: dict[bytes, bytes] = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        out.setdefault(COMPACT_OF.get(key, key), value.strip())
    return out


def check_response(data: bytes) -> str | None:
    """What is wrong with a response from the edge, or None. Independent of the edge's own parser.
    (A 400 may lack what the request lacked; a NUL may be a legal quoted-pair, RFC 3261 §25.1.)"""
    if not _STATUS.match(data):
        return "bad status line"
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return "no end of headers"
    if re.search(rb"\r(?!\n)|(?<!\r)\n", head):
        return "bare CR or LF in the headers (header injection)"
    hdrs = headers_of(data)
    missing = [h.decode() for h in SIP_HEADERS if h not in hdrs]
    if missing and _status(data) != 400:
        return "missing " + ",".join(missing)
    length = hdrs.get(b"content-length")
    if length is None or not length.isdigit() or int(length) != len(body):
        return f"Content-Length {length!r} for a body of {len(body)}"
    return None


def _status(data: bytes) -> int:
    m = _STATUS.match(data)
    return int(m.group(1)) if m else 0


def follow_ups(resp: bytes, local: tuple[str, int], edge_port: int) -> list[bytes]:
    """ACK and BYE for a 2xx to an INVITE (so the call ends), from the response's dialog identifiers."""
    h = headers_of(resp)
    cseq = h.get(b"cseq", b"").split()
    if len(cseq) != 2 or not cseq[0].isdigit() or int(cseq[0]) > 2**31 - 2:
        return []
    host, port = local
    number = int(cseq[0])
    out = []
    for method, n in ((b"ACK", number), (b"BYE", number + 1)):
        branch = b"z9hG4bK-fu%d%s" % (n, method)
        out.append(
            b"%s sip:edge@127.0.0.1:%d SIP/2.0\r\n" % (method, edge_port)
            + b"Via: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n" % (host.encode(), port, branch)
            + b"Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
            % (h[b"from"], h[b"to"], h[b"call-id"])
            + b"CSeq: %d %s\r\nContent-Length: 0\r\n\r\n" % (n, method)
        )
    return out


def ok_for(request: bytes) -> bytes:
    """A 200 OK to a request of the edge's (its BYE to a caller that went quiet, say)."""
    head = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    keep = (b"via", b"v", b"from", b"f", b"to", b"t", b"call-id", b"i", b"cseq")
    lines = [h for h in head if h.partition(b":")[0].strip().lower() in keep]
    return b"\r\n".join([b"SIP/2.0 200 OK", *lines, b"Content-Length: 0", b"", b""])


def origin(data: bytes, seed: int) -> int | None:
    """The campaign index a response answers, from the Call-ID the mutator gave the request."""
    m = _FZ_ID.search(data)
    if m is None or int(m.group(1), 16) != seed:
        return None
    return int(m.group(2), 16)


def write_suspects(path: Path, items: list[tuple[int, str, bytes]]) -> None:
    with path.open("ab") as fh:
        for index, transport, data in items:
            fh.write(b"%d %s %d\n" % (index, transport.encode(), len(data)) + data + b"\n")


def read_suspects(path: Path) -> list[tuple[int, str, bytes]]:
    raw, out, at = path.read_bytes(), [], 0
    while at < len(raw):
        nl = raw.index(b"\n", at)
        index, transport, size = raw[at:nl].split()
        start = nl + 1
        out.append((int(index), transport.decode(), raw[start : start + int(size)]))
        at = start + int(size) + 1
    return out


@dataclass
class WorkerConfig:
    worker: int
    seed: int
    indexes: range
    edge_port: int
    corpus_root: str
    suspects: str  # directory
    window: int = 64
    rate: float = 0.0  # messages per second for this worker, 0: as fast as the edge answers
    tcp_every: int = 0  # every n-th index goes over TCP (0: none)
    sync_timeout_s: float = 3.0


@dataclass
class WorkerStats:
    worker: int
    sent: Counter[str] = field(default_factory=Counter)  # by kind (+ "tcp", "send_error")
    bytes_out: Counter[str] = field(default_factory=Counter)  # what the fuzzer sent, by kind
    bytes_in: Counter[str] = field(default_factory=Counter)  # what the edge answered, by socket kind
    answers: Counter[str] = field(default_factory=Counter)  # "<kind> <status class>"
    invalid: list[tuple[str, int | None, bytes]] = field(default_factory=list)  # problem, index, response
    odd: list[tuple[str, int | None, bytes]] = field(default_factory=list)  # answers to responses
    problems: Counter[str] = field(default_factory=Counter)  # every invalid answer, by kind of problem
    follow_ups: int = 0
    sync_lost: int = 0
    tcp: Counter[str] = field(default_factory=Counter)
    suspect_dumps: int = 0
    generator_errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


class UdpSender:
    """One sender process's sockets and bookkeeping (runs in a child process: ``run_worker``)."""

    def __init__(self, cfg: WorkerConfig, errors: Any) -> None:
        self.cfg = cfg
        self.errors = errors  # multiprocessing.Value: kinds of ERROR record seen in the edge's log so far
        self.edge = ("127.0.0.1", cfg.edge_port)
        self.socks: dict[str, socket.socket] = {}
        for k in ("request", "response", "junk"):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            self.socks[k] = s
        self.by_fd = {s.fileno(): k for k, s in self.socks.items()}
        self.local = self.socks["request"].getsockname()
        self.stats = WorkerStats(cfg.worker)
        # the last four windows: an error may be logged (and seen) a window or two after its input
        self.ring: deque[tuple[int, str, bytes]] = deque(maxlen=4 * cfg.window)
        self._sync_id: str | None = None
        self._sync_n = 0

    def send(self, index: int, k: str, data: bytes) -> None:
        try:
            self.socks[k].sendto(data, self.edge)
        except OSError:
            self.stats.sent["send_error"] += 1
            return
        self.stats.sent[k] += 1
        self.stats.bytes_out[k] += len(data)
        self.ring.append((index, "udp", data))

    def sync(self) -> None:
        """Send the window's closing OPTIONS; read every answer until it comes back."""
        self._sync_n += 1
        self._sync_id = f"sync-{self.cfg.worker}-{self._sync_n}-{random.getrandbits(32):x}"
        probe = options(self._sync_id, self.local, self.cfg.edge_port)
        deadline = time.monotonic() + self.cfg.sync_timeout_s
        resend = time.monotonic()
        while self._sync_id is not None:
            now = time.monotonic()
            if now >= deadline:
                self.stats.sync_lost += 1
                self._sync_id = None
                break
            if now >= resend:
                self.socks["request"].sendto(probe, self.edge)
                resend = now + 0.5
            ready, _, _ = select.select(list(self.socks.values()), [], [], min(0.1, deadline - now))
            for s in ready:
                self._drain(s)
        self._check_log()

    def _drain(self, s: socket.socket) -> None:
        k = self.by_fd[s.fileno()]
        while True:
            try:
                data = s.recv(70000)
            except BlockingIOError:
                return
            except OSError:
                continue  # an ICMP error reported on this socket
            if self._sync_id is not None and self._sync_id.encode() in data:
                self._sync_id = None
                continue
            self._answer(k, data)

    def _answer(self, k: str, data: bytes) -> None:
        st = self.stats
        st.bytes_in[k] += len(data)
        status = _status(data)
        if not status:
            # Not a response: a request of the edge's own (a BYE after the media timeout, a
            # retransmitted one...) to an address a mutated Contact named, or bytes that are not SIP.
            method = data.split(b" ", 1)[0][:16].decode(errors="replace") if _REQUEST.match(data) else None
            st.answers[f"{k} edge request {method}" if method else f"{k} not SIP"] += 1
            if method is not None and method != "ACK":  # answered like a UA would: no retransmissions
                self.socks[k].sendto(ok_for(data), self.edge)
            if method is None:
                st.problems["not SIP"] += 1
                if len(st.invalid) < 50:
                    st.invalid.append(("not SIP", origin(data, self.cfg.seed), data[:2000]))
            return
        st.answers[f"{k} {status // 100}xx"] += 1
        index = origin(data, self.cfg.seed)
        problem = check_response(data)
        if problem is not None:
            st.problems[problem.split(" for a body")[0].split(" '")[0]] += 1
            if len(st.invalid) < 50:
                st.invalid.append((problem, index, data[:2000]))
        if k == "response" and len(st.odd) < 50:
            st.odd.append(("answer to a response", index, data[:2000]))
        if k == "request" and 200 <= status < 300 and b"INVITE" in headers_of(data).get(b"cseq", b""):
            for msg in follow_ups(data, self.local, self.cfg.edge_port):
                self.socks["request"].sendto(msg, self.edge)
                st.follow_ups += 1

    def _check_log(self) -> None:
        seen = self.errors.value
        if seen != getattr(self, "_errors_seen", 0):
            self._errors_seen = seen
            write_suspects(Path(self.cfg.suspects) / f"udp-{self.cfg.worker}.bin", list(self.ring))
            self.stats.suspect_dumps += 1


def run_worker(cfg: WorkerConfig, errors: Any, results: Any) -> None:
    """A sender process: its share of the campaign's indexes, UDP (and every n-th over TCP)."""
    mutator = SipMutator(load_corpus(Path(cfg.corpus_root)), cfg.seed)
    sender = UdpSender(cfg, errors)
    sender._errors_seen = errors.value
    tcp = TcpSender(cfg, mutator, sender)
    started = time.monotonic()
    in_window = 0
    for index in cfg.indexes:
        if cfg.tcp_every and index % cfg.tcp_every == 0:
            tcp.add(index)
            continue
        try:
            m = mutator.message(index)
        except Exception as exc:  # a bug of the fuzzer's own: counted (the campaign reports it), not fatal
            sender.stats.sent["generator_error"] += 1
            sender.stats.generator_errors.append(f"{index}: {type(exc).__name__}: {exc}"[:200])
            continue
        sender.send(index, m.kind, m.data)
        in_window += 1
        if cfg.rate > 0:
            ahead = sum(sender.stats.sent.values()) / cfg.rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        if in_window >= cfg.window:
            sender.sync()
            tcp.poll()
            in_window = 0
    tcp.flush()
    tcp.poll(final=True)
    sender.sync()
    time.sleep(0.3)
    for s in sender.socks.values():
        sender._drain(s)
    sender.stats.elapsed_s = time.monotonic() - started
    results.put(sender.stats)


class TcpSender:
    """Every n-th message goes over TCP, in connections of 1-20 messages with framing games: pipelined,
    split writes, garbage and keep-alives between messages, a Content-Length past the end, an endless
    header, an abortive close (RST)."""

    PLANS = ("pipeline", "split", "garbage", "cl_past_end", "endless_header", "abort", "one_by_one")

    def __init__(self, cfg: WorkerConfig, mutator: SipMutator, udp: UdpSender) -> None:
        self.cfg = cfg
        self.mutator = mutator
        self.udp = udp
        self.pending: list[int] = []
        self.open: list[list[Any]] = []  # [socket, opened at, bytes read]
        self.stats = udp.stats.tcp
        self._size = 0

    def add(self, index: int) -> None:
        if not self.pending:
            self._size = random.Random(self.cfg.seed * 7919 + index).choice((1, 1, 2, 5, 20))
        self.pending.append(index)
        if len(self.pending) >= self._size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        indexes, self.pending = self.pending, []
        rng = random.Random(self.cfg.seed * 104729 + indexes[0])
        plan = rng.choice(self.PLANS)
        try:
            messages = [self.mutator.message(i).data for i in indexes]
        except Exception as exc:
            self.udp.stats.sent["generator_error"] += len(indexes)
            self.udp.stats.generator_errors.append(f"{indexes}: {type(exc).__name__}: {exc}"[:200])
            return
        try:
            self._connection(rng, plan, messages, indexes)
        except OSError as exc:
            self.stats[f"error {type(exc).__name__}"] += 1

    def _connection(self, rng: random.Random, plan: str, messages: list[bytes], indexes: list[int]) -> None:
        st = self.stats
        st["connections"] += 1
        st[f"plan {plan}"] += 1
        st["messages"] += len(messages)
        self.udp.stats.sent["tcp"] += len(messages)
        chunks: list[bytes] = []
        for msg in messages:
            if plan == "garbage":
                chunks.append(
                    rng.choice((b"\r\n\r\n", b"\r\n", b"\x00" * 8, rng.randbytes(16), b"\r\n\r\n\r\n"))
                )
            if plan == "split" and len(msg) > 2:
                cuts = sorted(rng.sample(range(1, len(msg)), min(len(msg) - 1, rng.choice((1, 3, 10)))))
                chunks += [msg[a:b] for a, b in zip([0, *cuts], [*cuts, len(msg)], strict=True)]
            else:
                chunks.append(msg)
        if plan == "cl_past_end":
            chunks.append(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nContent-Length: 100000\r\n\r\npartial body")
        elif plan == "endless_header":
            chunks.append(b"INVITE sip:x@127.0.0.1 SIP/2.0\r\nX-Long: " + b"A" * 70000)
        transport = "tcp-abort" if plan == "abort" else "tcp"
        for index, msg in zip(indexes, messages, strict=True):
            self.udp.ring.append((index, transport, msg))
        self.udp.stats.bytes_out["tcp"] += sum(map(len, chunks))
        conn = socket.create_connection(self.udp.edge, timeout=2.0)
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if plan == "pipeline":
                conn.sendall(b"".join(chunks))
            else:
                for chunk in chunks:
                    conn.sendall(chunk)
            if plan == "abort":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return
            if plan == "one_by_one":
                conn.shutdown(socket.SHUT_WR)
        except OSError:
            conn.close()
            raise
        conn.setblocking(False)
        self.open.append([conn, time.monotonic(), b""])  # read later (poll): senders never wait on TCP
        if len(self.open) > self.MAX_OPEN:
            self._finish(self.open.pop(0), "left open by the edge")

    MAX_OPEN = 64
    LINGER_S = 2.0

    def poll(self, final: bool = False) -> None:
        """Read what the edge answered on the open connections; finish those it closed or that are old."""
        if final:
            time.sleep(self.LINGER_S / 2)
        now = time.monotonic()
        for entry in list(self.open):
            conn = entry[0]
            state = None
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        state = "closed by the edge"
                        break
                    entry[2] += data
            except BlockingIOError:
                pass
            except OSError:
                state = "reset by the edge"
            if state is None and (final or now - entry[1] > self.LINGER_S):
                state = "left open by the edge"
            if state is not None:
                self.open.remove(entry)
                self._finish(entry, state)

    def _finish(self, entry: list[Any], state: str) -> None:
        conn, _, buf = entry
        conn.close()
        self.stats[state] += 1
        self.udp.stats.bytes_in["tcp"] += len(buf)
        for resp in split_stream(buf):
            self.udp.stats.answers[f"tcp {_status(resp) // 100 or 'not-sip'}xx"] += 1
            problem = check_response(resp)
            if problem is not None:
                self.udp.stats.problems["tcp: " + problem.split(" for a body")[0]] += 1
                if len(self.udp.stats.invalid) < 50:
                    self.udp.stats.invalid.append(
                        (f"tcp: {problem}", origin(resp, self.cfg.seed), resp[:2000])
                    )


def split_stream(buf: bytes) -> list[bytes]:
    """Responses on a TCP stream, by Content-Length (CRLF keep-alive pongs skipped)."""
    out = []
    while buf:
        buf = buf.lstrip(b"\r\n")
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if buf:
                out.append(buf)
            break
        length = headers_of(buf[: end + 4]).get(b"content-length", b"0")
        total = end + 4 + (int(length) if length.isdigit() else 0)
        out.append(buf[:total])
        buf = buf[total:]
    return out


class Prober:
    """A well-formed OPTIONS from its own address (127.0.0.2) every ``interval_s``, all through the run:
    each must be answered within ``timeout_s`` (retransmitted like a UAC would, RFC 3261 Timer E)."""

    def __init__(self, edge_port: int, interval_s: float = 0.1, timeout_s: float = 2.0) -> None:
        self.edge = ("127.0.0.1", edge_port)
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.2", 0))
        self.local = self.sock.getsockname()
        self.sent = 0
        self.latencies: list[float] = []
        self.retransmitted = 0
        self.unanswered: list[tuple[str, float]] = []  # call-id, wall time sent
        self._outstanding: dict[str, list[float]] = {}  # call-id -> [first sent, next resend, interval]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="options-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop sending; wait for the outstanding probes to be answered or time out."""
        self._stop.set()
        self._thread.join(self.timeout_s + 2)

    def _run(self) -> None:
        next_probe = time.monotonic()
        while True:
            now = time.monotonic()
            if self._stop.is_set() and not self._outstanding:
                return
            if not self._stop.is_set() and now >= next_probe:
                call_id = f"probe-{self.sent}-{random.getrandbits(32):x}"
                self.sent += 1
                self._outstanding[call_id] = [now, now + 0.5, 0.5]
                self.sock.sendto(options(call_id, self.local, self.edge[1]), self.edge)
                next_probe = now + self.interval_s
            for call_id, state in list(self._outstanding.items()):
                if now - state[0] > self.timeout_s:
                    del self._outstanding[call_id]
                    self.unanswered.append((call_id, time.time() - (now - state[0])))
                elif now >= state[1]:
                    self.sock.sendto(options(call_id, self.local, self.edge[1]), self.edge)
                    self.retransmitted += 1
                    state[2] = min(state[2] * 2, 4.0)
                    state[1] = now + state[2]
            ready, _, _ = select.select([self.sock], [], [], 0.01)
            if ready:
                data = self.sock.recv(70000)
                m = re.search(rb"Call-ID: (probe-\S+)", data)
                if m is not None:
                    state = self._outstanding.pop(m.group(1).decode(), None)
                    if state is not None:
                        self.latencies.append(time.monotonic() - state[0])
