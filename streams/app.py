"""The Faust application `sentiric`: the dialog agent, the speech workers and the analytics.

`create_app(settings, engines)` builds and wires the app; `run_worker(settings)` runs a worker in the
foreground (the `sentiric worker` command); `python -m streams.app` does the same from environment.

Every topic carries raw bytes (our Avro single-object codec does the encoding), keyed by call id.
Per-call agents run with `concurrency=1`: more would reorder a call's facts and could not write
tables safely. Tables share the call topic's partition count, so a call's state lives on the worker
that consumes its facts, and their changelogs let a restarted worker resume where the last stopped.
The agents are thin: decode, call pure code (`streams.dialog`, `streams.agents.speech`,
`streams.analytics.kpi`), emit. With tracing on, the speech agents' work is a span each
(`streams.agents.spans`: ``stt``, ``dialog``, ``tts``) under the one the input record's ``traceparent``
header names, and what they emit names theirs; the dialog agent carries its input's header on.

One record never stops an agent. An exception escaping a Faust agent's coroutine crashes that actor:
faust-streaming logs it and its supervisor starts a new one, but the record is lost or redelivered
forever and the restarts go through the whole stream machinery. So every agent handles each event
inside ``aside.guard(event.message)``: an exception is logged with the record's topic/partition/
offset, counted in ``sentiric_log_dead_lettered_total{consumer=<agent>}``, the record is copied to
``sentiric.deadletter`` (through the app's own producer), and the agent takes the next event. Engine
failures the workers expect (`EngineError`) are still only logged: the dialog reprompts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Awaitable
from dataclasses import replace
from functools import partial
from typing import Any, Protocol

import faust
import structlog

from projections.cdr import LogPosition
from schemas import models as m
from schemas.codec import CodecError, decode, encode
from schemas.turn_ids import is_early
from sentiric import tracing
from sentiric.eventlog.admin import prepare_topics
from sentiric.eventlog.connection import client_options, faust_brokers, faust_credentials
from sentiric.eventlog.consumer import DeadLetters, RawPublisher
from sentiric.eventlog.producer import record_key
from sentiric.eventlog.topics import CALLS, CDR, DEADLETTER, MAX_MESSAGE_BYTES, METRICS, WORKERS, TopicSpec
from sentiric.settings import Settings, get_settings
from streams.agents import actions, spans, speech
from streams.agents import cdr as cdr_step
from streams.agents import dialog as dialog_step
from streams.agents.actions import ActionStore, Executor
from streams.agents.config import KnowledgeStore, PromptStore, follow_config
from streams.agents.partials import PartialAudio, Partials, same_audio
from streams.agents.streaming import reply_streaming
from streams.analytics.kpi import KpiWindows, Measurement, measure
from streams.changelog_fetch import stop_fetching_changelogs
from streams.dialog.context import CallContext
from streams.dialog.language import is_auto
from streams.dialog.machine import Policy
from streams.engines.dialog import StreamingDialogEngine, Turn
from streams.engines.errors import EngineError
from streams.engines.factory import Engines, build_engines
from streams.fetch_guard import install as install_fetch_guard
from streams.heartbeat import Progress, heartbeat, worker_id
from streams.offsets import seed_group_offsets
from streams.skip import SkipCounter, expired, is_ended

log = structlog.get_logger("sentiric.streams")
APP_ID = "sentiric"
KPI_TOPIC = f"{APP_ID}-kpi-measurements"
TIMER_SCAN_S = 0.2
MAX_HELD = 100_000
"""Bound of the dialog engine's set of calls holding an unfinished sentence."""
KPI_CLOSE_S = 5.0
STT_BATCH_RECORDS = 256
"""The speech-to-text agent's batch bound, in records of the call topic (all kinds, most of them not
utterances): a batch is cut here even inside its window."""


def policy_from(settings: Settings) -> Policy:
    default = "en-US" if is_auto(settings.language) else settings.language
    return Policy(
        no_input_timeout_s=settings.no_input_timeout_s,
        turn_hold_s=settings.turn_hold_s,
        early_answer=settings.early_answer,
        pause_answer=settings.pause_answer,
        default_language=default,
    )


def _decode(value: bytes) -> Any:
    try:
        return decode(value)
    except CodecError:
        return None  # the dialog agent logs undecodable messages once; the others skip them


class Emit(Protocol):
    """Produce (topic, key, value, record headers). The app's default sends through Faust; tests pass a
    fake sink. Headers carry a turn's ``traceparent`` (`streams.agents.spans`), () with tracing off."""

    def __call__(
        self, topic: str, key: bytes, value: bytes, headers: tracing.Headers = (), /
    ) -> Awaitable[None]: ...


class FaustDeadLetters:
    """`RawPublisher` over a Faust topic: dead-letter copies go out through the app's producer."""

    def __init__(self, topic: faust.TopicT) -> None:
        self._topic = topic

    def publish_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: tuple[tuple[str, bytes], ...] = ()
    ) -> None:
        self._topic.send_soon(key=key, value=value, headers=list(headers))


def create_app(
    settings: Settings,
    engines: Engines,
    *,
    window_s: float = 60.0,
    emit: Emit | None = None,
    dead_letters: RawPublisher | None = None,
) -> faust.App:
    partitions = settings.topic_partitions
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    raw: dict[str, Any] = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    app = faust.App(
        APP_ID,
        broker=faust_brokers(settings),
        broker_credentials=faust_credentials(settings),  # TLS (private CA) and SASL, as every client
        key_serializer="raw",
        value_serializer="raw",  # changelogs too: table values are our own bytes
        store="memory://",  # rebuilt from the changelog on start; no local state to lose
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=partitions,
        topic_replication_factor=settings.topic_replication,  # changelogs: 3 on a 3-node cluster
        consumer_auto_offset_reset=settings.streams_offset_reset,
        table_standby_replicas=0,
        broker_session_timeout=settings.streams_session_timeout_s,
        broker_heartbeat_interval=2.0,
        broker_client_id=f"sentiric-worker-{os.getpid()}",  # which worker holds which calls, by pid
        broker_commit_every=100,
        broker_commit_interval=1.0,
        producer_acks=-1,
        producer_max_request_size=MAX_MESSAGE_BYTES,  # replies carry their audio
        producer_linger_ms=settings.streams_producer_linger_ms,  # batch a burst's sends
        web_enabled=False,
        autodiscover=False,
    )
    install_fetch_guard(app)  # no fetch drains partitions Faust did not ask for (streams.fetch_guard)
    app.on_rebalance_complete.connect(stop_fetching_changelogs)  # type: ignore[arg-type]  # mode's SignalHandlerT admits no function under mypy 2
    policy = policy_from(settings)
    language = settings.language
    knowledge = KnowledgeStore(settings.knowledge_file)
    prompts = PromptStore()

    def current_policy() -> Policy:
        """The policy with the prompts configured now (a call greeted before an edit keeps its words
        on the log; later prompts speak the new ones)."""
        nonlocal policy
        if policy.prompts is not prompts.book() or policy.tenant_prompts is not prompts.books():
            policy = replace(policy, prompts=prompts.book(), tenant_prompts=prompts.books())
        return policy

    action_store = ActionStore()
    executor = Executor(
        sample_url=settings.sample_action_url, allow_private=settings.webhook_allow_private_targets
    )

    calls = app.topic(CALLS, partitions=partitions, **raw)
    metrics = app.topic(METRICS, **raw)
    workers = app.topic(WORKERS, partitions=1, **raw)
    kpi_topic = app.topic(KPI_TOPIC, partitions=1, internal=True, **raw)
    cdr_topic = app.topic(CDR, partitions=partitions, **raw)
    command_topics: dict[str, faust.TopicT] = {}

    def topic(name: str) -> faust.TopicT:
        known = {CALLS: calls, METRICS: metrics, KPI_TOPIC: kpi_topic, WORKERS: workers, CDR: cdr_topic}
        if name in known:
            return known[name]
        if name not in command_topics:
            command_topics[name] = app.topic(name, **raw)
        return command_topics[name]

    async def send(name: str, key: bytes, value: bytes, headers: tracing.Headers = ()) -> None:
        await topic(name).send(key=key, value=value, headers=list(headers) if headers else None)

    emit = emit or send
    dlq = dead_letters or FaustDeadLetters(app.topic(DEADLETTER, **raw))

    def aside(agent: str) -> DeadLetters:
        return DeadLetters(dlq, agent)

    # bytes key and value types make Faust use the raw serializer for the store and the changelog.
    table: dict[str, Any] = {
        "default": None,
        "partitions": partitions,
        "key_type": bytes,
        "value_type": bytes,
    }
    dialogs = app.Table("dialog", **table)
    histories = app.Table("dialog-history", **table)
    cdrs = app.Table("cdr", **table)
    pending_actions = app.Table("dialog-actions", **table)  # the action being filled in, per call
    contexts = app.Table("call-context", **table)  # caller, answers, written values (streams.dialog.context)
    progress = Progress(agents=("dialog", "stt", "dialog-engine", "tts", "measure", "cdr"))
    skips = SkipCounter()
    app.sentiric_progress = progress  # type: ignore[attr-defined]  # ours on faust's App: tests and benches read it
    app.sentiric_skips = skips  # type: ignore[attr-defined]  # ours on faust's App: tests and benches read it

    def handled(agent: str, event: Any) -> None:
        msg = event.message
        progress.done(agent, msg.partition, msg.offset, msg.timestamp or time.time())

    def ended(agent: str, key: bytes) -> bool:
        """The call of this work has ended (its dialog left an ended marker): skip, and count it."""
        if is_ended(dialogs.get(key)):
            skips.skip(agent)
            return True
        return False

    @app.agent(calls, name="dialog", concurrency=1)
    async def dialog_agent(stream: faust.StreamT[bytes]) -> None:
        dead = aside("dialog")
        async for event in stream.events():
            handled("dialog", event)
            with dead.guard(event.message):
                key = event.key
                outcome = dialog_step.step(dialogs.get(key), key, event.value, current_policy(), time.time())
                carried = spans.passed_on(event.headers)  # a PlayAudio names the tts span (tracing on)
                for name, k, v in outcome.messages:
                    await emit(name, k, v, carried)
                if outcome.changed:
                    if outcome.stored is None:
                        dialogs.pop(key, None)
                    else:
                        dialogs[key] = bytes(outcome.stored)

    fired: dict[uuid.UUID, float] = {}

    @app.timer(interval=TIMER_SCAN_S)
    async def fire_dialog_timers() -> None:
        now = time.time()
        for key, event_id, value in list(dialog_step.due_timers(iter(list(dialogs.items())), now, policy)):
            if event_id in fired:
                continue  # produced already; the dialog agent has not consumed it yet
            fired[event_id] = now
            await emit(CALLS, key, value)
        for marker in [k for k, t in fired.items() if now - t > 120]:
            del fired[marker]

    @app.timer(interval=30.0)
    async def purge_ended_markers() -> None:
        for key in expired(list(dialogs.items()), time.time(), settings.streams_max_call_age_s):
            dialogs.pop(key, None)

    wid = worker_id()
    app.sentiric_worker_id = wid  # type: ignore[attr-defined]  # ours on faust's App: tests read it

    @app.timer(interval=settings.worker_heartbeat_s)
    async def publish_heartbeat() -> None:
        now = time.time()
        mine = [tp for tp in app.consumer.assignment() if tp.topic == CALLS]
        lag, behind = 0, 0.0
        for tp in mine:
            # where the group's reading of it began
            start = app.consumer._committed_offset.get(tp)  # type: ignore[attr-defined]  # faust's Consumer has it, ConsumerT does not say
            if start is None:
                start = await app.consumer.position(tp)
            records, seconds = progress.lag(tp.partition, app.consumer.highwater(tp), start, now)
            lag, behind = lag + records, max(behind, seconds)
        progress.forget(set(range(partitions)) - {tp.partition for tp in mine})
        beat = heartbeat(wid, CALLS, [tp.partition for tp in mine], lag, behind, skips.total, now=now)
        await emit(WORKERS, wid.encode(), encode(beat))

    # Partial transcripts (streams.agents.partials): one decode at a time, off the agent's path, so a
    # final waits behind at most one partial decode and the agent keeps reading the log meanwhile.
    # Pause chunks go first, batched across calls; previews get at most their share of the decoder.
    partials = Partials()
    partial_decoder: list[asyncio.Task[None]] = []
    pause_waiting = asyncio.Event()  # wakes a decoder resting between previews
    # Pause chunks being decoded, by utterance: a final that comes meanwhile with the same audio
    # (`partials.same_audio`) takes that decode's words instead of being decoded again behind it.
    decoding: dict[str, tuple[PartialAudio, asyncio.Future[m.UtteranceTranscribed | None]]] = {}

    async def decode_partials() -> None:
        loop = asyncio.get_running_loop()
        while (rest := partials.ready_in(loop.time())) is not None:
            batch = partials.take(loop.time())
            if not batch:
                pause_waiting.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(pause_waiting.wait(), rest)
                continue
            began, at = spans.started(), loop.time()
            flights: dict[str, asyncio.Future[m.UtteranceTranscribed | None]] = {}
            for audio in batch:
                if audio.chunk.pause:
                    flight = flights[audio.chunk.utterance_id] = loop.create_future()
                    decoding[audio.chunk.utterance_id] = (audio, flight)
            try:
                work = [(a, speech.call_language(dialogs.get(a.key), language)) for a in batch]
                outs = await asyncio.to_thread(speech.transcribe_partials, work, engines.stt)
                partials.decoded(batch, at, loop.time())
                for audio, out in zip(batch, outs, strict=True):
                    uid = audio.chunk.utterance_id
                    if uid in flights and out.text.strip():
                        flights[uid].set_result(out)
                    if partials.current(uid) and out.text.strip():
                        # a pause's decode may answer the turn (the early answer's chain: edge pause →
                        # stt → dialog → tts → playback); the other partials are previews, untraced
                        traced = spans.stage("stt", out, audio.headers, began) if audio.chunk.pause else ()
                        await emit(CALLS, audio.key, encode(out), traced)
                        partials.heard(audio, out)
            except Exception as exc:  # previews lost, never the worker
                log.warning("partial transcription failed", utterances=len(batch), error=str(exc))
            finally:
                for uid, waited in flights.items():
                    if not waited.done():
                        waited.set_result(None)  # no words: a final waiting for them is decoded
                    decoding.pop(uid, None)

    def want_partial(key: bytes, chunk: m.UtteranceChunkCaptured, headers: tracing.Headers) -> None:
        partials.add(key, chunk, headers)
        if chunk.pause:
            pause_waiting.set()
        if not partial_decoder or partial_decoder[0].done():
            partial_decoder[:] = [asyncio.ensure_future(decode_partials())]

    async def transcribe_one(event: Any, fact: m.UtteranceCaptured, dead: DeadLetters) -> None:
        with dead.guard(event.message):
            began = spans.started()
            try:
                spoken = speech.call_language(dialogs.get(event.key), language)  # the call's own
                out = await asyncio.to_thread(speech.transcribe, fact, engines.stt, spoken)
            except EngineError as exc:
                log.warning("transcription failed", call_id=fact.call_id, error=str(exc))
                spans.failed("stt", fact, event.headers, began, exc)
                return
            await emit(CALLS, event.key, encode(out), spans.stage("stt", out, event.headers, began))

    async def transcribe_finals(finals: list[tuple[Any, m.UtteranceCaptured]], dead: DeadLetters) -> None:
        """Several calls' utterances in one batched decode; should the batch fail, each on its own, so
        one bad utterance costs only itself (its engine error logged, or its record dead-lettered)."""
        if len(finals) == 1:
            await transcribe_one(*finals[0], dead)
            return
        began = spans.started()
        try:
            work = [(f, speech.call_language(dialogs.get(e.key), language)) for e, f in finals]
            outs = await asyncio.to_thread(speech.transcribe_batch, work, engines.stt)
        except Exception as exc:
            log.warning("batched transcription failed, one by one", utterances=len(finals), error=str(exc))
            for event, fact in finals:
                await transcribe_one(event, fact, dead)
            return
        for (event, _), out in zip(finals, outs, strict=True):
            with dead.guard(event.message):
                await emit(CALLS, event.key, encode(out), spans.stage("stt", out, event.headers, began))

    # Final utterances are decoded in batches across calls (`speech.transcribe_batch`): the agent takes
    # what the log holds — what arrived while the last batch was decoded, or within the batch window —
    # and Faust acknowledges a batch's records only once it has been handled (`take_events`), so a
    # worker dying mid-batch loses no utterance: its successor reads them again.
    @app.agent(calls, name="stt", concurrency=1)
    async def stt_agent(stream: faust.StreamT[bytes]) -> None:
        dead = aside("stt")
        window_s = settings.stt_batch_window_ms / 1000
        batches = stream.take_events(STT_BATCH_RECORDS, within=window_s)  # type: ignore[attr-defined]  # faust's Stream has it, StreamT does not say
        async for batch in batches:
            finals: list[tuple[Any, m.UtteranceCaptured]] = []
            for event in batch:
                handled("stt", event)
                fact = _decode(event.value)
                if isinstance(fact, m.UtteranceChunkCaptured) and not ended("stt", event.key):
                    with dead.guard(event.message):
                        want_partial(event.key, fact, spans.passed_on(event.headers))
                    continue
                if not isinstance(fact, m.UtteranceCaptured) or ended("stt", event.key):
                    continue
                heard = partials.final(fact.utterance_id, fact.pcm, fact.sample_rate)
                flight = decoding.get(fact.utterance_id)
                if heard is None and flight is not None and same_audio(flight[0], fact.pcm, fact.sample_rate):
                    heard = await flight[1]  # being decoded now: sooner than a decode of its own
                if heard is not None and fact.text is None:  # its pause chunk's decode heard it all
                    with dead.guard(event.message):
                        out = speech.transcribed_at_pause(fact, heard)
                        traced = spans.stage("stt", out, event.headers, spans.started())
                        await emit(CALLS, event.key, encode(out), traced)
                    continue
                finals.append((event, fact))
            if finals:
                await transcribe_finals(finals, dead)

    # Calls whose caller is mid-sentence (`speech.holding_after`): the engine leaves their transcripts
    # to the dialog, which records the whole turn. In memory: a restarted worker forgets it and at worst
    # answers a continuation the dialog ignores (it waits for the joined turn's reply).
    held: dict[bytes, None] = {}
    # Calls with an early answer the dialog may keep (`speech.early_words_after`): the caller's final
    # transcript with those words is not answered again. In memory, like `held`: a restarted worker
    # answers it again, and the dialog ignores that second reply.
    early: dict[bytes, str] = {}
    # Early turns that would act (`actions.acts`): answered when the final confirms their words (the
    # dialog still waits for the early turn's reply), forgotten with the early words otherwise.
    deferred: dict[bytes, m.UtteranceTranscribed] = {}

    async def emit_piece(key: bytes, headers: tracing.Headers, piece: m.AgentReplied) -> None:
        await emit(CALLS, key, encode(piece), headers)  # a streamed reply's sentence, for TTS at once

    @app.agent(calls, name="dialog-engine", concurrency=1)
    async def engine_agent(stream: faust.StreamT[bytes]) -> None:
        dead = aside("dialog-engine")
        async for event in stream.events():
            handled("dialog-engine", event)
            fact, key = _decode(event.value), event.key
            with dead.guard(event.message):
                if isinstance(fact, m.CallEnded):
                    histories.pop(key, None)
                    pending_actions.pop(key, None)
                    contexts.pop(key, None)
                    held.pop(key, None)
                    early.pop(key, None)
                    deferred.pop(key, None)
                elif isinstance(fact, m.PlaybackFinished):
                    words = early.get(key)
                    if speech.early_words_after(fact, words, policy) is None:
                        early.pop(key, None)
                        if deferred.pop(key, None) is None and words is not None:
                            # answered early, and dropped unheard: not a line of the conversation
                            kept = speech.forget_answer(histories.get(key), words)
                            if kept is not None:
                                histories[key] = kept
                elif isinstance(fact, m.DialplanResolved | m.ActionRequested | m.CallContextUpdated):
                    before = contexts.get(key)
                    after = CallContext.from_json(before).apply(fact).to_json()
                    if after != before:
                        contexts[key] = after
                elif isinstance(fact, m.AgentReplied) and fact.source != speech.ENGINE_SOURCE:
                    histories[key] = speech.remember(histories.get(key), Turn("agent", fact.text))
                elif isinstance(fact, m.UtteranceTranscribed):
                    holding = key in held
                    if speech.holding_after(fact, policy, holding=holding):
                        held[key] = None
                        while len(held) > MAX_HELD:
                            del held[next(iter(held))]  # calls whose end this worker never saw
                    else:
                        held.pop(key, None)
                    early_words = early.get(key)
                    if (still_early := speech.early_words_after(fact, early_words, policy)) is None:
                        early.pop(key, None)
                    else:
                        early[key] = still_early
                        while len(early) > MAX_HELD:
                            del early[next(iter(early))]
                    # the early words are over: confirmed by this final (answered now), or dropped
                    confirmed = deferred.pop(key, None) if key not in early else None
                    if speech.answered_early(fact, early_words, policy):
                        if confirmed is None:
                            continue
                        fact = confirmed  # the early turn the dialog waits for, its words now final
                    else:
                        confirmed = None
                    if not speech.wants_reply(fact, policy, holding=holding) or ended("dialog-engine", key):
                        continue
                    context = CallContext.from_json(contexts.get(key))
                    if (
                        confirmed is None
                        and is_early(fact.utterance_id)
                        and actions.acts(
                            fact, pending_actions.get(key), engines.dialog,
                            action_store.actions(fact.tenant), context,
                        )
                    ):  # fmt: skip
                        deferred[key] = fact
                        while len(deferred) > MAX_HELD:
                            del deferred[next(iter(deferred))]
                        continue
                    began = spans.started()
                    try:
                        turn = await actions.action_turn(
                            fact, pending_actions.get(key), engines.dialog, histories.get(key),
                            context.chosen(knowledge.entries(fact.tenant)), action_store.actions(fact.tenant),
                            executor, context,
                        )  # fmt: skip
                    except EngineError as exc:
                        log.warning("dialog engine failed", call_id=fact.call_id, error=str(exc))
                        spans.failed("dialog", fact, event.headers, began, exc)
                        continue
                    if turn.pending is not None:
                        pending_actions[key] = turn.pending
                    elif pending_actions.get(key) is not None:
                        pending_actions.pop(key, None)
                    if turn.facts:
                        traced = spans.stage("dialog", turn.facts[-1], event.headers, began)
                        for out_fact in turn.facts:
                            await emit(CALLS, key, encode(out_fact), traced)
                            context = context.apply(out_fact)  # before the echo: the next turn may come first
                        contexts[key] = context.to_json()
                        said = turn.facts[-1].text
                        histories[key] = speech.remember(
                            histories.get(key), Turn("caller", fact.text), Turn("agent", said)
                        )
                        continue
                    history = speech.load_history(histories.get(key))
                    try:
                        if settings.stream_replies and isinstance(engines.dialog, StreamingDialogEngine):
                            out = await reply_streaming(
                                fact, engines.dialog, history, context.chosen(knowledge.entries(fact.tenant)),
                                partial(emit_piece, key, spans.passed_on(event.headers)),
                                context.prompt_facts(),
                            )  # fmt: skip
                        else:
                            out = await asyncio.to_thread(
                                speech.reply, fact, engines.dialog, history,
                                context.chosen(knowledge.entries(fact.tenant)), context.prompt_facts(),
                            )  # fmt: skip
                    except EngineError as exc:
                        log.warning("dialog engine failed", call_id=fact.call_id, error=str(exc))
                        spans.failed("dialog", fact, event.headers, began, exc)
                        continue
                    await emit(CALLS, key, encode(out), spans.stage("dialog", out, event.headers, began))
                    turns = (Turn("caller", fact.text), Turn("agent", out.text))
                    histories[key] = speech.remember(histories.get(key), *turns)

    @app.agent(calls, name="tts", concurrency=1)
    async def tts_agent(stream: faust.StreamT[bytes]) -> None:
        dead = aside("tts")
        async for event in stream.events():
            handled("tts", event)
            fact = _decode(event.value)
            if not isinstance(fact, m.AgentReplied) or ended("tts", event.key):
                continue
            with dead.guard(event.message):
                began = spans.started()
                try:
                    out = await asyncio.to_thread(speech.synthesize, fact, engines.tts, language)
                except EngineError as exc:
                    log.warning("synthesis failed", call_id=fact.call_id, error=str(exc))
                    spans.failed("tts", fact, event.headers, began, exc)
                    continue
                await emit(CALLS, event.key, encode(out), spans.stage("tts", out, event.headers, began))

    @app.agent(calls, name="cdr", concurrency=1)
    async def cdr_agent(stream: faust.StreamT[bytes]) -> None:
        """Every call fact → the call's record on the compacted `sentiric.cdr` (streams.agents.cdr)."""
        dead = aside("cdr")
        async for event in stream.events():
            handled("cdr", event)  # in the heartbeat's lag: a stuck CDR agent shows as a worker behind
            msg = event.message
            fact = _decode(event.value)
            with dead.guard(msg):
                pos = LogPosition(msg.topic, msg.partition, msg.offset)
                out = cdr_step.step(cdrs.get(event.key), fact, pos)
                if out is None:
                    continue
                if out.stored is not None:
                    cdrs[event.key] = out.stored
                await emit(CDR, out.record.call_id.encode(), encode(out.record))

    @app.timer(interval=60.0)
    async def purge_finished_cdrs() -> None:
        # Calls finished longer ago than a call can last: no fact of theirs is read any more (a fresh
        # group starts that far back, streams.offsets), and their final record is on the topic.
        cutoff = time.time() - settings.streams_max_call_age_s
        for key, value in list(cdrs.items()):
            try:
                done = cdr_step.StoredCdr.parse(value).finished_before(cutoff)
            except ValueError:
                done = True  # unreadable: no fact can be folded into it anyway
            if done:
                cdrs.pop(key, None)

    windows = KpiWindows(window_s=window_s, source=f"{APP_ID}-analytics")

    @app.agent(calls, name="measure", concurrency=1)
    async def measure_agent(stream: faust.StreamT[bytes]) -> None:
        dead = aside("measure")
        async for event in stream.events():
            handled("measure", event)
            fact = _decode(event.value)
            with dead.guard(event.message):
                for x in measure(fact) if fact is not None else ():
                    await emit(KPI_TOPIC, b"kpi", bytes(x))

    @app.agent(kpi_topic, name="kpi", concurrency=1)
    async def kpi_agent(stream: faust.StreamT[bytes]) -> None:
        dead = aside("kpi")
        async for event in stream.events():
            with dead.guard(event.message):  # a malformed measurement (ValueError) included
                windows.observe(Measurement.parse(event.value))

    @app.timer(interval=KPI_CLOSE_S)
    async def close_kpi_windows() -> None:
        for report in windows.close(time.time()):
            await emit(METRICS, record_key(report).encode(), encode(report))

    @app.task
    async def materialize_config() -> None:
        await follow_config(
            knowledge,
            prompts=prompts,
            dead_letters=aside("knowledge"),
            also=(action_store.apply,),
            **client_options(settings),
        )

    return app


def internal_topics(app: faust.App) -> list[TopicSpec]:
    """The app's own topics — one compacted changelog per table, the KPI measurements topic.

    Faust declares them itself while it starts, but not always before the consumer group's first
    assignment: a changelog missing then is left unassigned ("Ignoring missing topic") and every
    write to its table raises `PartitionsMismatch` ("... the changelog topic has 0 partitions")
    until a later rebalance. On a fresh `sentiric up` that was the dialog-history table for the
    first seconds of every run. `run_worker` creates them first."""
    specs = [
        TopicSpec(
            table.changelog_topic.get_topic_name(), table.partitions or 1, {"cleanup.policy": "compact"}
        )
        for table in app.tables.values()
    ]
    return [*specs, TopicSpec(KPI_TOPIC, 1)]


def run_worker(settings: Settings) -> None:
    """Run a streams worker in the foreground until interrupted (the `sentiric worker` command)."""
    tracing.configure(settings, service="sentiric-worker")  # off unless an OTLP endpoint is set
    engines = build_engines(settings)
    app = create_app(settings, engines)
    client = client_options(settings)
    # The platform's topics as every process declares them (a worker may start before any edge; no
    # command topic: those belong to edges), then the Faust changelogs.
    asyncio.run(prepare_topics(settings, node_ids=(), extra=internal_topics(app), client=client))
    # A fresh consumer group starts streams_max_call_age_s back, not at the end (a call placed before
    # the group's first assignment would be silent) nor at the beginning (last week's calls).
    asyncio.run(seed_group_offsets(APP_ID, CALLS, settings.streams_max_call_age_s, **client))
    # override_logging=False: Faust keeps the one pipeline `sentiric.logs` set up (JSON in production)
    # instead of replacing the root handlers with its coloured stdout lines. Its own progress lines
    # ("Ready", assignments, recovery) stay at the worker's level, and the progress spinner is off below
    # WARNING, as Faust's own set-up had them (the test harnesses wait for "Ready").
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    for name in ("faust", "mode"):
        logging.getLogger(name).setLevel(level)
    worker = BoundedStopWorker(app, loglevel=level, quiet=True, override_logging=False)
    worker.on_setup_root_logger(logging.getLogger(), level)
    worker.stop_timeout_s = settings.shutdown_timeout_s
    worker.execute_from_commandline()


class BoundedStopWorker(faust.Worker):
    """A Faust worker whose SIGTERM/SIGINT also arms a hard exit: Faust's orderly stop commits offsets
    and leaves the group through the broker, and with the broker dead it retries for minutes."""

    stop_timeout_s: float = 8.0

    def _on_sigterm(self) -> None:
        self._arm_exit()
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self._arm_exit()
        super()._on_sigint()

    def _arm_exit(self) -> None:
        from sentiric.processes import hard_exit_after

        if not getattr(self, "_exit_armed", False):
            self._exit_armed = True
            hard_exit_after(self.stop_timeout_s, "worker")


if __name__ == "__main__":  # `python -m streams.app`: as `sentiric worker`, with the same logging
    from sentiric.logs import configure

    configure(get_settings(), service="sentiric-worker")
    run_worker(get_settings())
