"""The dashboard's call page: how long a typical call's story takes to load, and its audio and golden
export, from a real log.

    .venv/bin/python bench/call_page.py [--turns 6] [--other-calls 300] [--loads 20]

Starts a private local Kafka and embedded PostgreSQL on free ports and puts one typical call on the
call topic: a greeting and `--turns` questions answered (each question 2 s and each answer 5 s of
16 kHz audio in the facts, as the platform records them), a quality report every 5 s, and the dialog's
`PlayAudio` commands on a command topic; `--other-calls` other calls (synthetic, no audio) are
interleaved with it on the same partitions, as on a busy edge. The main API (uvicorn on a free port,
its projector on) projects them; then, with the sign-in cookie as a browser sends it:

- the call page's load: `GET /api/calls/{id}` and `GET /api/calls/{id}/story` concurrently (what
  call.js fetches), and `/events` alone for comparison;
- one utterance's audio: `GET /api/calls/{id}/audio/{offset}.wav`;
- the golden button: `POST /api/calls/{id}/golden`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).parent))
from projection_bench import ADMIN_TOKEN, free_port, machine_cache, pct

from projections.api.app import create_app
from projections.api.services import ApiConfig
from projections.synthetic import day_of_calls, interleaved
from schemas import models as m
from sentiric.broker.local_kafka import LocalKafka
from sentiric.database import EmbeddedPostgres
from sentiric.eventlog import topics
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.producer import EventProducer
from sentiric.settings import Settings
from streams.dialog.script import CallScript

RATE = 16000
QUESTION_S, ANSWER_S = 2, 5


def tone(seconds: float, step: int) -> bytes:
    return bytes((i * step) & 0xFF for i in range(int(seconds * RATE) * 2))


def typical_call(call_id: str, turns: int) -> tuple[list[Any], list[Any]]:
    """(its facts, its commands)."""
    s = CallScript(call_id)
    facts: list[Any] = [*s.setup(), s.established()]
    commands: list[Any] = []
    replies = [("greet", None, "Hello, thank you for calling.")] + [
        (f"u{i}:reply", f"u{i}", f"answer {i}") for i in range(1, turns + 1)
    ]
    for reply_id, utterance_id, text in replies:
        if utterance_id is not None:
            facts.append(s.fact(m.SpeechStarted, utterance_id=utterance_id))
            facts.append(s.fact(m.UtteranceCaptured, utterance_id=utterance_id, pcm=tone(QUESTION_S, 3),
                                sample_rate=RATE, start_ms=0, end_ms=QUESTION_S * 1000))  # fmt: skip
            facts.append(s.transcribed(utterance_id, "what are your opening hours"))
        facts.append(s.fact(m.AgentReplied, reply_id=reply_id, utterance_id=utterance_id, text=text))
        speech = s.fact(
            m.SpeechSynthesized, reply_id=reply_id, text=text, pcm=tone(ANSWER_S, 5), sample_rate=RATE
        )
        facts.append(speech)
        envelope = {k: getattr(speech, k) for k in ("event_id", "call_id", "seq", "occurred_at", "trace_id")}
        play = {"playback_id": reply_id, "pcm": speech.pcm, "sample_rate": RATE, "text": text}
        commands.append(m.PlayAudio(**{**envelope, "event_id": uuid.uuid4()}, source="dialog", **play))
        facts += s.played(reply_id)
        facts.append(s.fact(m.MediaQualityReported, jitter_ms=2.0, mos=4.3))
    facts.append(s.ended())
    return facts, commands


async def projected(http: httpx.AsyncClient, call_id: str) -> None:
    """Until the projector has the call as ended (polling the API, as the page does)."""
    for _ in range(600):
        r = await http.get(f"/api/calls/{call_id}")
        if r.is_success and r.json()["finished_at"]:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the call was not projected within 2 minutes")


async def timed(http: httpx.AsyncClient, method: str, *paths: str) -> float:
    began = time.perf_counter()
    responses = await asyncio.gather(*(http.request(method, p) for p in paths))
    for r in responses:
        assert r.status_code == 200, (r.request.url, r.status_code, r.text[:200])
    return (time.perf_counter() - began) * 1000


def report(label: str, ms: list[float]) -> None:
    spread = f"p50 {pct(ms, 50):7.1f} ms  p99 {pct(ms, 99):7.1f} ms  max {max(ms):.1f} ms"
    print(f"{label:<44} n={len(ms):<3} {spread}")


async def run(kafka: str, dsn: str, golden: Path, args: argparse.Namespace) -> None:
    client = {"bootstrap_servers": kafka}
    edge_commands = f"{topics.COMMANDS_PREFIX}edge-1"
    await ensure_topics(
        topics.platform_topics(partitions=4, calls_retention_ms=86_400_000, node_ids=("edge-1",)), **client
    )
    call_id = str(uuid.uuid4())
    facts, commands = typical_call(call_id, args.turns)
    others = interleaved(day_of_calls(args.other_calls, seed=3))
    mixed: list[Any] = []
    step = max(1, len(others) // len(facts))
    for i, fact in enumerate(facts):
        mixed += [fact, *others[i * step : (i + 1) * step]]
    mixed += others[len(facts) * step :]
    async with EventProducer(**client, buffer_max=len(mixed) + len(commands) + 10) as producer:
        for record in mixed:
            producer.publish(record, topic=topics.CALLS)
        for command in commands:
            producer.publish(command, topic=edge_commands)
    audio_bytes = sum(len(f.pcm) for f in facts if isinstance(f, (m.UtteranceCaptured, m.SpeechSynthesized)))
    print(f"one call: {len(facts)} facts + {len(commands)} commands, {audio_bytes / 1e6:.1f} MB of audio; "
          f"{args.other_calls} other calls interleaved ({len(others)} facts)")  # fmt: skip
    app = create_app(
        ApiConfig(dsn=dsn, client=client, admin_token=ADMIN_TOKEN, run_webhooks=False, golden_root=golden)
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.05)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            signed_in = await http.post("/signin", data={"token": ADMIN_TOKEN})
            assert signed_in.status_code == 303, signed_in.text
            await projected(http, call_id)
            base = f"/api/calls/{call_id}"
            story = (await http.get(f"{base}/story")).json()
            audio = next(t["audio_url"] for t in story["turns"] if t["speaker"] == "caller")
            print(f"story: {len(story['events'])} records, {len(story['turns'])} turns")
            origin = {"Origin": f"http://127.0.0.1:{port}"}
            scenarios = {
                "call page load (/api/calls/{id} + /story)": ("GET", base, f"{base}/story"),
                "/events alone": ("GET", f"{base}/events"),
                "one utterance's WAV": ("GET", audio),
            }
            for label, (method, *paths) in scenarios.items():
                await timed(http, method, *paths)  # warm once
                report(label, [await timed(http, method, *paths) for _ in range(args.loads)])
            golden_ms = []
            for _ in range(max(3, args.loads // 4)):
                began = time.perf_counter()
                r = await http.post(f"{base}/golden", headers=origin)
                assert r.status_code == 200, r.text
                golden_ms.append((time.perf_counter() - began) * 1000)
            report("golden export (POST /golden)", golden_ms)
    finally:
        server.should_exit = True
        await task


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--other-calls", type=int, default=300)
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentiric-bench-") as home:
        settings = Settings(
            home=Path(home),
            cache_home=machine_cache(),
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            postgres_port=free_port(),
        )
        broker = LocalKafka(settings)
        broker.start(detach=False)
        database = EmbeddedPostgres(settings)
        try:
            dsn = database.start()
            asyncio.run(run(broker.bootstrap, dsn, Path(home) / "golden", args))
        finally:
            database.stop()
            broker.stop()


if __name__ == "__main__":
    main()
