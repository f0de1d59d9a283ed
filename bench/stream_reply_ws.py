"""Reply while thinking, end to end: typed question over /ws → the reply's first audio at the browser,
whole replies (SENTIRIC_STREAM_REPLIES=false) vs streamed.

    .venv/bin/python bench/stream_reply_ws.py [--turns 5] [--delay-ms 30]

Per mode: a real local Kafka, a `sentiric worker` process whose dialog engine is an OpenAI-compatible
model (tests/support/fake_chat.py on loopback, a 3-sentence, 40-token answer, one token every
`--delay-ms`), the /ws gateway in this process, and a `websockets` client that types the question
`--turns` times, each after the previous answer has played. Printed (p50 / max ms from sending the
question): the first audio frame of the answer at the client, and the answer's last piece finished.
Everything else as `make run` (hibari voice, speech cache on: whole answers repeat, so from the second
turn the whole-reply mode voices from the cache; sentences repeat too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402

from edge.facts import FactRecorder  # noqa: E402
from edge.ws import protocol as p  # noqa: E402
from edge.ws.server import WebService  # noqa: E402
from sentiric.broker.local_kafka import LocalKafka  # noqa: E402
from sentiric.eventlog import topics  # noqa: E402
from sentiric.eventlog.admin import ensure_topics  # noqa: E402
from sentiric.eventlog.connection import client_options  # noqa: E402
from sentiric.eventlog.producer import EventProducer  # noqa: E402
from sentiric.net import free_port  # noqa: E402
from sentiric.settings import Settings  # noqa: E402
from tests.support.fake_chat import FakeChatServer  # noqa: E402

NODE = "edge-stream-bench"
TOKEN = "stream-bench-admin-token-0123456789"
ANSWER = (
    "We are open from nine thirty in the morning until six in the evening on weekdays. "
    "On Saturdays we open at ten and close at two in the afternoon. "
    "On Sundays and public holidays the shop stays closed all day."
)


def cache_home() -> Path:
    configured = os.environ.get("SENTIRIC_CACHE_HOME")
    return Path(configured) if configured else Path.home() / ".cache" / "sentiric"


async def run_mode(streamed: bool, turns: int, delay_s: float, workdir: Path) -> list[tuple[float, float]]:
    cache = cache_home()
    settings = Settings(
        home=workdir / "kafka", cache_home=cache, node_id=NODE, admin_token=TOKEN, kafka_port=free_port(),
        kafka_controller_port=free_port(),
    )  # fmt: skip
    broker = LocalKafka(settings)
    broker.start(detach=False)
    chat = FakeChatServer(delay_s=delay_s)
    chat.say(*[word + " " for word in ANSWER.split()])
    settings = Settings(
        home=workdir, cache_home=cache, node_id=NODE, admin_token=TOKEN, kafka_bootstrap=broker.bootstrap
    )
    client = client_options(settings)
    await ensure_topics(
        topics.platform_topics(
            partitions=1, calls_retention_ms=settings.calls_retention_ms, node_ids=(NODE,)
        ),
        **client,
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")},
        "SENTIRIC_KAFKA_BOOTSTRAP": broker.bootstrap, "SENTIRIC_HOME": str(workdir),
        "SENTIRIC_CACHE_HOME": str(cache), "SENTIRIC_TOPIC_PARTITIONS": "1",
        "SENTIRIC_STREAMS_OFFSET_RESET": "earliest", "SENTIRIC_NO_INPUT_TIMEOUT_S": "300",
        "SENTIRIC_DIALOG_ENGINE": "openai", "SENTIRIC_LLM_URL": chat.url, "SENTIRIC_LLM_MODEL": "fake",
        "SENTIRIC_STREAM_REPLIES": "true" if streamed else "false",
    }  # fmt: skip
    with (workdir / "worker.log").open("ab") as out:
        worker = subprocess.Popen(  # noqa: ASYNC220 - starting a process does not block; it is not awaited
            [sys.executable, "-m", "sentiric.cli", "worker"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    producer = EventProducer(**client)
    await producer.start()
    service = WebService(settings, FactRecorder(producer, NODE), own_commands=True, port=0)
    await service.start()
    rows: list[tuple[float, float]] = []
    try:
        url = f"ws://127.0.0.1:{service.port}/ws?caller=bench&to=help"
        async with connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
            p.SessionInfo.parse(await ws.recv())
            greeting = await next_message(ws, lambda m: isinstance(m, p.Reply))
            await next_message(ws, lambda m: isinstance(m, p.PlaybackEvent) and m.event == "finished"
                               and m.playback_id == greeting.reply_id)  # fmt: skip
            for _ in range(turns):
                start = time.perf_counter()
                await ws.send(json.dumps({"type": "text", "text": "when are you open"}))
                first: float | None = None
                answer_id: str | None = None
                while True:
                    frame = await asyncio.wait_for(ws.recv(), 120)
                    if isinstance(frame, bytes):
                        first = first or time.perf_counter()
                        continue
                    message = p.parse_server(frame)
                    if isinstance(message, p.Reply):
                        answer_id = message.reply_id
                    if (
                        isinstance(message, p.PlaybackEvent) and message.event == "finished" and answer_id
                        and message.playback_id.split("#")[0] == answer_id
                        and (not streamed or message.playback_id.endswith("#2"))
                    ):  # fmt: skip
                        break
                assert first is not None
                rows.append(((first - start) * 1000, (time.perf_counter() - start) * 1000))
            await ws.send(json.dumps({"type": "hangup"}))
    finally:
        await service.stop()
        await producer.stop()
        worker.terminate()
        worker.wait(timeout=30)
        chat.stop()
        broker.stop()
    return rows


async def next_message(ws: Any, wanted: Any) -> Any:
    while True:
        frame = await asyncio.wait_for(ws.recv(), 300)
        if isinstance(frame, str) and wanted(message := p.parse_server(frame)):
            return message


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--delay-ms", type=float, default=30.0)
    args = parser.parse_args()
    print(f"40-token answer, one token every {args.delay_ms:.0f} ms; {args.turns} turns per mode")
    print(f"{'mode':10} {'first audio at client':>24} {'answer played':>24}   (p50 / max ms)")
    for name, streamed in (("whole", False), ("streamed", True)):
        with tempfile.TemporaryDirectory(prefix=f"stream-bench-{name}-") as tmp:
            rows = asyncio.run(run_mode(streamed, args.turns, args.delay_ms / 1000, Path(tmp)))
        cols = [[r[i] for r in rows] for i in range(2)]
        cells = [f"{statistics.median(c):8.0f} / {max(c):8.0f}" for c in cols]
        print(f"{name:10} {cells[0]:>24} {cells[1]:>24}", flush=True)


if __name__ == "__main__":
    main()
