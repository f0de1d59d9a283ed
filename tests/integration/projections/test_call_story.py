"""The call page's API in-process (ASGI) over the real broker and PostgreSQL, its projector running:
`/story` (the call's whole story from the log), `/audio/{offset}.wav` (one utterance or reply, never
another call's record) and `/golden` (the ended call exported as files `replay check` reads)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from projections.api.app import create_app
from projections.api.services import ApiConfig
from projections.golden import load_call
from schemas import models as m
from sentiric.eventlog.consumer import partition_for
from streams.dialog.script import CallScript
from tests.integration.projections.conftest import PARTITIONS, Env
from tests.support.waiting import until

TOKEN = "test-admin-token-story-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
QUESTION = (b"\x10\x00\xf0\xff" * 4000)[:16000]  # 1 s at 8 kHz
ANSWER = b"\x20\x00\xe0\xff" * 8000  # 1 s at 16 kHz


@contextlib.asynccontextmanager
async def api(env: Env, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    config = ApiConfig(dsn=env.dsn, client=env.client, admin_token=TOKEN, topics=env.topics,
                       run_webhooks=False, **options)  # fmt: skip
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", headers=AUTH, timeout=60
        ) as client:
            yield client


def two_calls_on_one_partition() -> tuple[str, str]:
    first = f"story-{uuid.uuid4()}"
    while True:
        other = f"story-{uuid.uuid4()}"
        if partition_for(other, PARTITIONS) == partition_for(first, PARTITIONS):
            return first, other


def conversation(call_id: str, *, ended: bool) -> list[Any]:
    s = CallScript(call_id)
    facts = [*s.setup(), s.established()]
    facts += [
        s.fact(
            m.UtteranceCaptured, utterance_id="u1", pcm=QUESTION, sample_rate=8000, start_ms=0, end_ms=1000
        ),
        s.transcribed("u1", "opening hours"),
        s.replied("u1", "Nine to six", intent="hours"),
        s.fact(m.SpeechSynthesized, reply_id="u1:reply", text="Nine to six", pcm=ANSWER, sample_rate=16000),
        *s.played("u1:reply"),
        s.fact(m.MediaQualityReported, jitter_ms=3.0, mos=4.2, final=True),
    ]
    return [*facts, s.ended()] if ended else facts


def interleave(a: list[Any], b: list[Any]) -> list[Any]:
    out: list[Any] = []
    for i in range(max(len(a), len(b))):
        out += a[i : i + 1] + b[i : i + 1]
    return out


def pcm_of(wav: bytes) -> tuple[bytes, int]:
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return w.readframes(w.getnframes()), w.getframerate()


async def test_story_audio_and_golden_of_a_call(env: Env, tmp_path: Path) -> None:
    ended_id, live_id = two_calls_on_one_partition()
    await env.produce(interleave(conversation(ended_id, ended=True), conversation(live_id, ended=False)))
    golden_root = tmp_path / "golden"
    async with api(env, golden_root=golden_root) as client:

        async def projected() -> bool:
            ended = (await client.get(f"/api/calls/{ended_id}")).json()
            live = (await client.get(f"/api/calls/{live_id}")).json()
            return bool(ended.get("finished_at") and live.get("answered_at"))

        await until(projected, "both calls in the CDR")
        story = (await client.get(f"/api/calls/{ended_id}/story")).json()
        question, answer = story["turns"]
        assert (question["speaker"], question["text"], question["duration_ms"]) == (
            "caller",
            "opening hours",
            1000,
        )
        assert (answer["text"], answer["intent"], answer["duration_ms"]) == ("Nine to six", "hours", 1000)
        assert set(answer["latency_ms"]) == {"stt", "dialog", "tts", "playout", "voice_to_voice"}
        assert [q["mos"] for q in story["quality"]] == [4.2]
        assert story["sip_source"] == "derived" and story["sip"][0]["first_line"].startswith("INVITE ")
        assert {e["call_id"] for e in story["events"]} == {ended_id}

        # Each utterance and reply plays, byte for byte what the log holds.
        heard = await client.get(question["audio_url"])
        assert heard.status_code == 200 and heard.headers["content-type"] == "audio/wav"
        assert pcm_of(heard.content) == (QUESTION, 8000)
        said = await client.get(answer["audio_url"])
        assert pcm_of(said.content) == (ANSWER, 16000)

        # Never another call's record: the live call's utterance sits inside this call's offset range.
        other = (await client.get(f"/api/calls/{live_id}/story")).json()["turns"][0]
        assert question["offset"] < other["offset"] < answer["offset"]
        crossed = await client.get(f"/api/calls/{ended_id}/audio/{other['offset']}.wav")
        assert crossed.status_code == 404, crossed.text
        assert (await client.get(other["audio_url"])).status_code == 200  # under its own call it plays
        invite = story["events"][0]["log"]["offset"]
        for bad_offset in (invite, 10**12):  # a record without audio, past the call's end
            r = await client.get(f"/api/calls/{ended_id}/audio/{bad_offset}.wav")
            assert r.status_code == 404 and r.json()["error"] == "no audio of this call at that offset"
        for malformed in ("abc", "-1", "1.5"):
            assert (await client.get(f"/api/calls/{ended_id}/audio/{malformed}.wav")).status_code == 422
        assert (await client.get(f"/api/calls/nope-{uuid.uuid4()}/audio/0.wav")).status_code == 404
        assert (await client.get(f"/api/calls/nope-{uuid.uuid4()}/story")).status_code == 404

        # Golden: only an ended call; the files read back as the call's facts.
        not_yet = await client.post(f"/api/calls/{live_id}/golden")
        assert not_yet.status_code == 409 and not_yet.json()["error"] == "the call has not ended"
        assert (await client.post(f"/api/calls/nope-{uuid.uuid4()}/golden")).status_code == 404
        done = await client.post(f"/api/calls/{ended_id}/golden")
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["path"] == str(golden_root / ended_id) and body["utterances"] == 1
        facts = load_call(Path(body["path"]))
        assert len(facts) == body["facts"] == len(story["events"])
        assert next(f for f in facts if isinstance(f, m.UtteranceCaptured)).pcm == QUESTION
        first = (golden_root / ended_id / "facts.jsonl").read_bytes()
        wav = (golden_root / ended_id / "utterance-001.wav").read_bytes()
        twice = await asyncio.gather(*(client.post(f"/api/calls/{ended_id}/golden") for _ in range(2)))
        assert [r.status_code for r in twice] == [200, 200]
        # Stable (no diff to commit), and two clicks at once do not interleave their files.
        assert (golden_root / ended_id / "facts.jsonl").read_bytes() == first
        assert (golden_root / ended_id / "utterance-001.wav").read_bytes() == wav
        assert sorted(p.name for p in (golden_root / ended_id).iterdir()) == [
            "facts.jsonl",
            "utterance-001.wav",
        ]


async def test_golden_without_a_directory_is_refused(env: Env) -> None:
    call_id = f"story-{uuid.uuid4()}"
    await env.produce(conversation(call_id, ended=True))
    async with api(env) as client:

        async def projected() -> bool:
            return bool((await client.get(f"/api/calls/{call_id}")).json().get("finished_at"))

        await until(projected, "the call in the CDR")
        refused = await client.post(f"/api/calls/{call_id}/golden")
        assert refused.status_code == 503 and "golden directory" in refused.json()["error"]
