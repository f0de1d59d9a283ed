"""The end-to-end harness: a real edge, a real streams worker, sipp as the caller, tshark on the wire.

Shared by the e2e tests (`tests/integration/e2e/`) and the voice benchmarks (`bench/voice_latency.py`,
`bench/conversations.py`):

- `Worker`: `python -m streams.app` as a subprocess (Whisper base, knowledge base, hibari), its own
  `SENTIRIC_HOME`, reading the call topic from offset 0; `kill()` is a SIGKILL.
- `start_edge`: the edge (`edge.app.EdgeApp`) in this process on free SIP, RTP, metrics and web ports.
- `CallLog`: every record of `sentiric.calls` and of the edge's command topic, decoded, with its Kafka
  timestamp, as it arrives; `wait_for(predicate)` fails early when the worker dies.
- `caller_scenario`: the sipp UAC scenario `tests/fixtures/e2e/uac_caller.xml` with its pauses and pcap.
- `Capture`: tshark on `lo` with a capture filter on the edge's RTP port range; `packets()` reads the
  pcap it wrote back as (time, source, destination, RTP packet).
- `pcm_of`: the µ-law payloads of a packet list decoded to 8 kHz PCM, in sequence order.
"""

from __future__ import annotations

import asyncio
import os
import signal
import string
import struct
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
from aiokafka import AIOKafkaConsumer

from edge.app import EdgeApp
from edge.media.codecs.g711 import ulaw_decode
from edge.media.rtp.packet import RtpPacket, RtpParseError
from schemas import models as m
from schemas.codec import CodecError, decode
from schemas.turn_ids import answered_utterance
from sentiric.eventlog.topics import CALLS, WORKERS, commands_topic
from tests.support.sipp import edge_settings

ROOT: Final = Path(__file__).resolve().parents[3]
FIXTURES: Final = ROOT / "tests" / "fixtures" / "e2e"
QUESTION_PCAP: Final = FIXTURES / "opening_hours_pcmu.pcap"
DTMF_PCAP: Final = FIXTURES / "dtmf_12hash.pcap"
ORDER_PCAP: Final = FIXTURES / "order_number_pcmu.pcap"  # "My order number is" … 1 s … "four five six"
PERSON_PCAP: Final = FIXTURES / "talk_to_a_person_pcmu.pcap"  # "I want to talk to a person."
SCENARIO: Final = FIXTURES / "uac_caller.xml"
TSHARK: Final = "/usr/bin/tshark"
PARTITIONS: Final = 3


# --- processes -----------------------------------------------------------------------------------------


def worker_env(bootstrap: str, home: Path, cache: Path, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")},
        "SENTIRIC_KAFKA_BOOTSTRAP": bootstrap,
        "SENTIRIC_HOME": str(home),
        "SENTIRIC_CACHE_HOME": str(cache),
        "SENTIRIC_TOPIC_PARTITIONS": str(PARTITIONS),
        "SENTIRIC_STREAMS_OFFSET_RESET": "earliest",
        "SENTIRIC_NO_INPUT_TIMEOUT_S": "300",
        **extra,
    }


class Worker:
    """A streams worker subprocess; its output goes to `home/worker.log`."""

    def __init__(self, bootstrap: str, home: Path, cache: Path, **extra: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.env = worker_env(bootstrap, home, cache, **extra)
        self.log = home / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n=== worker start {self.starts} ===\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.app"], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def ready(self, within_s: float = 120.0) -> None:
        """Until this start's worker reports Faust's `Ready` (engines loaded, partitions assigned)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        marker = f"=== worker start {self.starts} ===".encode()
        while True:
            text = self.log.read_bytes()
            if b"Ready" in text[text.rfind(marker) :]:
                return
            if not self.alive():
                raise AssertionError(f"the worker exited: {self.tail()}")
            if loop.time() > deadline:
                raise AssertionError(f"the worker is not ready after {within_s} s: {self.tail()}")
            await asyncio.sleep(0.2)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


async def start_edge(bootstrap: str, home: Path, **overrides: Any) -> EdgeApp:
    """The edge in this process: free SIP/RTP/metrics/web ports, its own node id and command topic."""
    settings = edge_settings(
        bootstrap, home, topic_partitions=PARTITIONS, ws_port=0, media_timeout_s=60.0, **overrides
    )
    app = EdgeApp(settings)
    await app.start()
    return app


async def served(edge: EdgeApp, within_s: float = 60.0) -> None:
    """Until the edge sees live workers holding every call partition (it answers agent calls then)."""
    assert edge.placement is not None, "an edge with require_worker"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        held = {p for w in edge.workers.workers() if loop.time() - w.seen_at < 3 for p in w.partitions}
        if held >= set(range(edge.call_partitions)):
            return
        if loop.time() > deadline:
            raise AssertionError(f"partitions held after {within_s} s: {sorted(held)}")
        await asyncio.sleep(0.2)


async def worker_heartbeat(bootstrap: str, within_s: float = 60.0, **client: Any) -> None:
    """Until the workers' heartbeats on `sentiric.workers` cover every call partition (for edges run as
    a subprocess: they admit agent calls once they read it)."""
    consumer = AIOKafkaConsumer(
        WORKERS, group_id=None, auto_offset_reset="earliest", **({"bootstrap_servers": bootstrap} | client)
    )
    await consumer.start()
    held: dict[str, set[int]] = {}
    try:
        async with asyncio.timeout(within_s):
            async for msg in consumer:
                beat = decode(msg.value) if msg.value else None
                if isinstance(beat, m.WorkerHeartbeat):
                    held[beat.worker_id] = set(beat.partitions)  # several workers split them
                    if set().union(*held.values()) >= set(range(PARTITIONS)):
                        return
    finally:
        await consumer.stop()


async def settled(edge: EdgeApp, within_s: float = 10.0) -> None:
    """Until the edge's event-loop lag has decayed: above `sip_max_loop_lag_ms` it answers 503, and this
    process (the test, Whisper) shares the edge's loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while edge.loop_lag > 0.05 and loop.time() < deadline:  # noqa: ASYNC110 - polling a gauge
        await asyncio.sleep(0.1)


# --- the log -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Logged:
    record: Any
    topic: str
    timestamp_ms: int  # the Kafka record timestamp (CreateTime: when the producer sent it)

    @property
    def kind(self) -> str:
        return type(self.record).__name__


@dataclass
class CallLog:
    """The call topic and one edge's command topic, decoded as they arrive (a group-less consumer)."""

    bootstrap: str
    edge_node: str
    alive: Callable[[], bool] = lambda: True
    client: dict[str, Any] = field(default_factory=dict)  # client_options() for a secured cluster
    records: list[Logged] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            CALLS,
            commands_topic(self.edge_node),
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
            **({"bootstrap_servers": self.bootstrap} | self.client),
        )
        await consumer.start()
        self._task = asyncio.create_task(self._run(consumer))

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            async for msg in consumer:
                if msg.value is None:
                    continue
                try:
                    record = decode(msg.value)
                except CodecError:
                    continue
                self.records.append(Logged(record, msg.topic, msg.timestamp))
                self._changed.set()
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def of(self, call_id: str) -> list[Logged]:
        return [r for r in self.records if getattr(r.record, "call_id", None) == call_id]

    def find(self, predicate: Callable[[Any], bool]) -> Logged | None:
        return next((r for r in self.records if predicate(r.record)), None)

    async def wait_for(self, predicate: Callable[[Any], bool], what: str, within_s: float = 90.0) -> Logged:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        seen = 0
        while True:
            for logged in self.records[seen:]:
                if predicate(logged.record):
                    return logged
            seen = len(self.records)
            self._changed.clear()
            if loop.time() > deadline:
                kinds = [f"{r.kind}/{getattr(r.record, 'source', '')}" for r in self.records[-40:]]
                raise AssertionError(f"no {what} within {within_s} s; last records: {kinds}")
            try:
                await asyncio.wait_for(self._changed.wait(), 1.0)
            except TimeoutError:
                if not self.alive():
                    raise AssertionError(f"the worker died waiting for {what}") from None


def is_(cls: type[Any], **fields: Any) -> Callable[[Any], bool]:
    return lambda r: isinstance(r, cls) and all(getattr(r, k) == v for k, v in fields.items())


def answering(utterance_id: str, **fields: Any) -> Callable[[Any], bool]:
    """An `AgentReplied` to the caller's utterance: its own turn's, or the early turn prepared at the
    caller's pause (`schemas.turn_ids`), which is that utterance's answer when it was kept."""
    return lambda r: (
        is_(m.AgentReplied, **fields)(r) and answered_utterance(r.utterance_id or "") == utterance_id
    )


# --- sipp ----------------------------------------------------------------------------------------------


def caller_scenario(
    workdir: Path, pcap: Path, *, before_ms: int, pcap_ms: int, after_ms: int, template: Path = SCENARIO
) -> str:
    """The caller scenario with its pauses and pcap filled in; returns the file's absolute path."""
    workdir.mkdir(parents=True, exist_ok=True)
    text = string.Template(template.read_text()).substitute(
        before_ms=before_ms, pcap=str(pcap), pcap_ms=pcap_ms, after_ms=after_ms
    )
    path = workdir / f"{template.stem}-{before_ms}-{after_ms}.xml"
    path.write_text(text)
    return str(path)


# --- the wire ------------------------------------------------------------------------------------------

_PCAP_GLOBAL = struct.Struct("<IHHiIII")
_PCAP_RECORD = struct.Struct("<IIII")
LINKTYPE_ETHERNET: Final = 1
LINKTYPE_LINUX_SLL: Final = 113


@dataclass(frozen=True, slots=True)
class WirePacket:
    at: float  # capture time, seconds since the epoch
    src: tuple[str, int]
    dst: tuple[str, int]
    rtp: RtpPacket


def read_pcap(data: bytes) -> list[WirePacket]:
    """UDP datagrams carrying RTP from a little- or big-endian microsecond libpcap file."""
    magic = data[:4]
    endian = "<" if magic == b"\xd4\xc3\xb2\xa1" else ">" if magic == b"\xa1\xb2\xc3\xd4" else None
    if endian is None:
        raise ValueError(f"not a microsecond pcap file (magic {magic.hex()})")
    linktype = struct.unpack_from(f"{endian}I", data, 20)[0]
    link_len = {LINKTYPE_ETHERNET: 14, LINKTYPE_LINUX_SLL: 16}.get(linktype)
    if link_len is None:
        raise ValueError(f"unsupported pcap link type {linktype}")
    out: list[WirePacket] = []
    offset = _PCAP_GLOBAL.size
    while offset + _PCAP_RECORD.size <= len(data):
        sec, usec, incl, _orig = struct.unpack_from(f"{endian}IIII", data, offset)
        offset += _PCAP_RECORD.size
        frame = data[offset : offset + incl]
        offset += incl
        ip = frame[link_len:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        src_ip, dst_ip = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
        sport, dport, length = struct.unpack_from("!HHH", ip, ihl)
        try:
            rtp = RtpPacket.parse(ip[ihl + 8 : ihl + length])
        except RtpParseError:
            continue  # RTCP and anything else
        if rtp.payload_type >= 72 and rtp.payload_type <= 76:
            continue  # RTCP SR/RR seen through the RTP parser
        out.append(WirePacket(sec + usec / 1e6, (src_ip, sport), (dst_ip, dport), rtp))
    return out


class Capture:
    """tshark on the loopback interface, UDP on a port range only, written as a libpcap file."""

    def __init__(self, path: Path, port_min: int, port_max: int) -> None:
        self.path = path
        self.filter = f"udp and portrange {port_min}-{port_max}"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            TSHARK, "-i", "lo", "-f", self.filter, "-F", "pcap", "-w", str(self.path), "-q",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stderr is not None
        seen = b""
        while b"Capturing on" not in seen:
            line = await asyncio.wait_for(self.proc.stderr.readline(), 30)
            if not line:
                raise AssertionError(f"tshark did not start: {seen.decode(errors='replace')}")
            seen += line

    async def stop(self) -> list[WirePacket]:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.communicate(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.packets()

    def packets(self) -> list[WirePacket]:
        return read_pcap(self.path.read_bytes()) if self.path.exists() else []


def pcm_of(packets: Iterable[WirePacket], payload_type: int = 0) -> np.ndarray:
    """The µ-law audio of these packets, in RTP sequence order (one stream), as 8 kHz int16."""
    audio = sorted((p for p in packets if p.rtp.payload_type == payload_type), key=lambda p: p.at)
    if not audio:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate([ulaw_decode(p.rtp.payload) for p in audio])


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if pcm.size else 0.0


def pcap_pcm(path: Path) -> np.ndarray:
    """The audio a fixture pcap carries (what sipp sends)."""
    return pcm_of(read_pcap(path.read_bytes()))
