"""The speech workers: `UtteranceCaptured` → STT → `UtteranceTranscribed`; `UtteranceTranscribed` →
dialog engine → `AgentReplied`; `AgentReplied` → TTS → `SpeechSynthesized`.

Each worker is stateless but for the dialog engine's short per-call history. Its facts carry the
engine's name and latency, and an event id derived from the fact that caused them, so a redelivered
input yields the very same fact (which the reducer then ignores). The dialog reducer decides whether
the flow proceeds: the workers answer every input, and the reducer uses only the answers it waits for.

The functions here are synchronous (engines are CPU-bound); the agents run them in a thread.

An engine may be remote (gRPC, an OpenAI-compatible server): its text is wire text like a caller's, so
transcripts and replies are made safe (`schemas.wiretext`: no NUL or surrogates, bounded) before they
become facts.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Final, TypeVar

import numpy as np
import soxr
import structlog

from schemas import models as m
from schemas.turn_ids import EARLY_ENGINE
from schemas.wiretext import safe_field
from sentiric.eventlog.topics import MAX_MESSAGE_BYTES
from streams.agents import dialog as dialog_step
from streams.agents.partials import PartialAudio
from streams.dialog.completeness import normalized
from streams.dialog.language import detect_text_language, for_language, is_auto, same_language
from streams.dialog.machine import CALLER_RESUMED, DEFAULT_POLICY, Policy, holds
from streams.dialog.state import StateError
from streams.engines.dialog import FALLBACK_INTENT, DialogEngine, Reply, StreamingDialogEngine, Turn
from streams.engines.errors import EngineError
from streams.engines.openai_chat import END_MARKER, OpenAIChatEngine
from streams.engines.sentences import DEFAULT_MIN_CHARS, SentenceSplitter
from streams.engines.spoken import spoken_text
from streams.engines.stt import SpeechToText, Transcript
from streams.engines.tts import Speech, TextToSpeech
from streams.skip import is_ended

log = structlog.get_logger("sentiric.streams")
STT_SOURCE: Final = "stt"
ENGINE_SOURCE: Final = "dialog-engine"
TTS_SOURCE: Final = "tts"
TTS_RATE: Final = 16000
MAX_SPEECH_BYTES: Final = MAX_MESSAGE_BYTES // 2
"""A reply's audio is cut here (131 s at 16 kHz), so its fact and the PlayAudio copying it fit the log."""
HISTORY_TURNS: Final = 12
_NS: Final = uuid.UUID("b7f0e6c2-39d4-4f5e-8a17-2c6b5d4e3f21")
T = TypeVar("T")


def _derived(cause: Any, source: str) -> dict[str, Any]:
    """Envelope of a worker's fact: same call, the cause's seq and time, a reproducible event id."""
    return {
        "event_id": uuid.uuid5(_NS, f"{cause.call_id}/{source}/{cause.event_id}"),
        "call_id": cause.call_id,
        "seq": cause.seq,
        "occurred_at": cause.occurred_at,
        "source": source,
        "trace_id": cause.trace_id,
        "tenant": cause.tenant,  # a call's records are all its tenant's
    }


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - start) * 1000.0


def transcribe(fact: m.UtteranceCaptured, stt: SpeechToText, language: str) -> m.UtteranceTranscribed:
    """`language`: the call's (`call_language`); `auto` lets the engine (or, for typed text,
    `detect_text_language`) say which, and the transcript carries what it said."""
    if fact.text is not None:  # the edge (or a browser) already had a transcript
        if is_auto(language):
            language = detect_text_language(fact.text)
        return m.UtteranceTranscribed(
            **_derived(fact, STT_SOURCE), utterance_id=fact.utterance_id, text=fact.text, language=language,
            confidence=None, is_final=True, engine="provided", latency_ms=0.0,
        )  # fmt: skip
    result, ms = _timed(lambda: stt.transcribe(fact.pcm, fact.sample_rate, language))
    return m.UtteranceTranscribed(
        **_derived(fact, STT_SOURCE), utterance_id=fact.utterance_id, text=safe_field("text", result.text),
        language=result.language, confidence=result.confidence, is_final=True, engine=stt.name, latency_ms=ms,
    )  # fmt: skip


def transcribe_batch(
    work: Sequence[tuple[m.UtteranceCaptured, str]], stt: SpeechToText
) -> list[m.UtteranceTranscribed]:
    """Several calls' final utterances at once, each with its call's language, in order. An engine
    with ``transcribe_many`` (Whisper) decodes the audio ones together — several simultaneous
    questions cost less than one decode each (bench/stt_bench.py ``--mode batch``); each transcript's
    ``latency_ms`` is the batch's, what its caller waited. Typed ones (``text``) pass through."""
    many = getattr(stt, "transcribe_many", None)
    spoken = [i for i, (fact, _) in enumerate(work) if fact.text is None]
    if many is None or len(spoken) < 2:
        return [transcribe(fact, stt, language) for fact, language in work]
    out: list[m.UtteranceTranscribed | None] = [
        transcribe(fact, stt, language) if fact.text is not None else None for fact, language in work
    ]
    results, ms = _timed(lambda: many([(work[i][0].pcm, work[i][0].sample_rate, work[i][1]) for i in spoken]))
    for i, result in zip(spoken, results, strict=True):
        fact = work[i][0]
        out[i] = m.UtteranceTranscribed(
            **_derived(fact, STT_SOURCE), utterance_id=fact.utterance_id, is_final=True,
            text=safe_field("text", result.text), language=result.language, confidence=result.confidence,
            engine=stt.name, latency_ms=ms,
        )  # fmt: skip
    return [t for t in out if t is not None]


def transcribe_partials(
    work: Sequence[tuple[PartialAudio, str]], stt: SpeechToText
) -> list[m.UtteranceTranscribed]:
    """Previews of utterances in progress (``is_final=False``), each its audio so far with its call's
    language, in order; several (pause chunks of different calls: ``Partials.take``) in one batched
    decode when the engine has ``transcribe_many``, each ``latency_ms`` the batch's."""
    many = getattr(stt, "transcribe_many", None)
    asked = [(audio.pcm, audio.chunk.sample_rate, language) for audio, language in work]
    timed: list[tuple[Transcript, float]]
    if many is not None and len(work) > 1:
        results, ms = _timed(lambda: many(asked))
        timed = [(result, ms) for result in results]
    else:
        timed = [_timed(partial(stt.transcribe, *args)) for args in asked]
    out = []
    for (audio, _), (result, ms) in zip(work, timed, strict=True):
        chunk = audio.chunk
        fact = m.UtteranceTranscribed(
            **_derived(chunk, STT_SOURCE), utterance_id=chunk.utterance_id, is_final=False,
            text=safe_field("text", result.text), language=result.language, confidence=result.confidence,
            engine=stt.name, latency_ms=ms, pause=chunk.pause,
        )  # fmt: skip
        out.append(fact)
    return out


def transcribed_at_pause(fact: m.UtteranceCaptured, heard: m.UtteranceTranscribed) -> m.UtteranceTranscribed:
    """The final transcript of an utterance whose audio its pause chunk's decode already heard
    (``Partials.final``): those words, as the utterance's own fact (its event id, as ``transcribe``
    would give); ``latency_ms`` is that decode's, the STT work these words took (the KPIs' stt)."""
    return m.UtteranceTranscribed(
        **_derived(fact, STT_SOURCE), utterance_id=fact.utterance_id, is_final=True,
        text=heard.text, language=heard.language, confidence=heard.confidence, engine=heard.engine,
        latency_ms=heard.latency_ms,
    )  # fmt: skip


def wants_reply(
    fact: m.UtteranceTranscribed, policy: Policy = DEFAULT_POLICY, *, holding: bool = False
) -> bool:
    """Whether the dialog engine answers this transcript. The dialog's own (a DTMF digit, a caller's
    turn it held and joined) always; a caller's final words unless they look unfinished
    (`streams.dialog.machine.holds`) or follow unfinished ones (`holding`, from `holding_after`):
    those the dialog keeps and records whole, so the engine answers each caller turn once."""
    if not fact.is_final or not fact.text.strip():
        return False
    if fact.source == policy.source:
        return True
    return not holding and not holds(policy, fact)


def holding_after(fact: m.UtteranceTranscribed, policy: Policy = DEFAULT_POLICY, *, holding: bool) -> bool:
    """The engine's mirror of the reducer's `held_text`: set by an unfinished caller transcript,
    cleared by the next transcript the dialog records (which carries the held words)."""
    if fact.source == policy.source:
        return False
    if not fact.is_final:  # a partial (streams.agents.partials): the dialog records none of them
        return holding
    return holding or holds(policy, fact)


def early_words_after(fact: Any, words: str | None, policy: Policy = DEFAULT_POLICY) -> str | None:
    """The engine's mirror of the reducer's early answer (`early_text`): the words of the last early
    turn the dialog recorded (engine `partial`) until a fact ends it — the caller's final transcript,
    a partial with other words, or the edge dropping the prepared answer (`caller_resumed`)."""
    if isinstance(fact, m.UtteranceTranscribed):
        if fact.source == policy.source:
            return normalized(fact.text) if fact.engine == EARLY_ENGINE else words
        if fact.is_final or normalized(fact.text) != words:
            return None
        return words
    if isinstance(fact, m.PlaybackFinished) and fact.reason == CALLER_RESUMED:
        return None
    return words


def answered_early(fact: m.UtteranceTranscribed, words: str | None, policy: Policy = DEFAULT_POLICY) -> bool:
    """Whether this caller's final transcript says the words the dialog already answered early: the
    dialog keeps that answer, so the engine does not answer (or act on) the same turn twice."""
    return (
        words is not None
        and fact.is_final
        and fact.source != policy.source
        and normalized(fact.text) == words
    )


def _answer(
    engine: DialogEngine,
    text: str,
    history: Sequence[Turn],
    knowledge: Sequence[m.KnowledgeEntry],
    context: Mapping[str, Any] | None,
) -> Reply:
    """The engine's reply; an LLM engine is also given the call's context (as data in its prompt)."""
    if context and isinstance(engine, OpenAIChatEngine):
        return engine.reply(text, history, knowledge, context)
    return engine.reply(text, history, knowledge)


def reply(
    fact: m.UtteranceTranscribed,
    engine: DialogEngine,
    history: Sequence[Turn],
    knowledge: Sequence[m.KnowledgeEntry],
    context: Mapping[str, Any] | None = None,
) -> m.AgentReplied:
    """`context`: the call's (`CallContext.prompt_facts`), for an engine that reads it."""
    own = for_language(knowledge, fact.language)  # the call's language's entries, if it has any
    answer, ms = _timed(lambda: _answer(engine, fact.text, history, own, context))
    return m.AgentReplied(
        **_derived(fact, ENGINE_SOURCE), reply_id=f"{fact.utterance_id}:reply",
        utterance_id=fact.utterance_id, text=safe_field("text", answer.text), intent=answer.intent,
        end_conversation=answer.end_conversation, engine=engine.name, latency_ms=ms, language=fact.language,
    )  # fmt: skip


def _piece_id(fact: m.UtteranceTranscribed, part: int) -> uuid.UUID:
    return uuid.uuid5(_NS, f"{fact.call_id}/{ENGINE_SOURCE}/{fact.event_id}/part/{part}")


def spoken_piece(text: str) -> str:
    """A streamed piece as it is voiced: without the model's end marker and the spaces around it."""
    return text.replace(END_MARKER, "").strip()


def reply_streamed(
    fact: m.UtteranceTranscribed,
    engine: StreamingDialogEngine,
    history: Sequence[Turn],
    knowledge: Sequence[m.KnowledgeEntry],
    on_piece: Callable[[m.AgentReplied], None],
    min_chars: int = DEFAULT_MIN_CHARS,
    context: Mapping[str, Any] | None = None,
) -> m.AgentReplied:
    """`reply`, handing each finished sentence of the engine's text to `on_piece` at once (a fact with
    ``final=False`` and its index in `part`, for TTS to voice while the engine writes on). The fact
    returned is the whole reply (the turn), with `part` = the pieces handed out and `rest` = the words
    they did not carry. A reply of one sentence hands out nothing and is returned as `reply` returns it.

    An engine that fails after some pieces were said ends the reply there (the caller heard them),
    rather than leaving a half-said reply without an end."""
    own = for_language(knowledge, fact.language)
    splitter = SentenceSplitter(min_chars)
    parts = 0
    said: list[str] = []
    reply_id = f"{fact.utterance_id}:reply"

    def hand_out(chunks: list[str]) -> None:
        nonlocal parts
        for chunk in chunks:
            text = safe_field("text", spoken_piece(chunk))
            said.append(chunk)
            if not text:
                continue  # a sentence of only the end marker: nothing to say
            envelope = {**_derived(fact, ENGINE_SOURCE), "event_id": _piece_id(fact, parts)}
            piece = m.AgentReplied(
                **envelope, reply_id=reply_id, utterance_id=fact.utterance_id, text=text, intent=None,
                end_conversation=False, engine=engine.name, latency_ms=0.0, language=fact.language,
                final=False, part=parts,
            )  # fmt: skip
            on_piece(piece)
            parts += 1

    def on_text(piece: str) -> None:
        hand_out(splitter.feed(piece))

    start = time.perf_counter()
    try:
        if context and isinstance(engine, OpenAIChatEngine):
            answer = engine.reply_streaming(fact.text, history, own, on_text, context)
        else:
            answer = engine.reply_streaming(fact.text, history, own, on_text)
    except EngineError as exc:
        if not parts:
            raise
        log.warning("dialog engine failed mid-reply", call_id=fact.call_id, error=str(exc), parts=parts)
        answer = Reply(spoken_piece("".join(said)) or "…", intent=FALLBACK_INTENT)
        splitter.flush()
    ms = (time.perf_counter() - start) * 1000.0
    rest = spoken_piece("".join(splitter.flush())) if parts else None
    return m.AgentReplied(
        **_derived(fact, ENGINE_SOURCE), reply_id=reply_id,
        utterance_id=fact.utterance_id, text=safe_field("text", answer.text), intent=answer.intent,
        end_conversation=answer.end_conversation, engine=engine.name, latency_ms=ms, language=fact.language,
        final=True, part=parts, rest=None if rest is None else safe_field("text", rest),
    )  # fmt: skip


def call_language(stored: bytes | None, default: str) -> str:
    """The language of a call as its dialog state (the dialog table's value) says: the dialplan's,
    or the one an `auto` call settled on; `default` before the dialog has stored one."""
    if stored is None or is_ended(stored):
        return default
    try:
        return dialog_step.Stored.parse(stored).state.language or default
    except StateError:
        return default


def synthesize(fact: m.AgentReplied, tts: TextToSpeech, language: str) -> m.SpeechSynthesized:
    """Voice a reply: whole, or one piece of a streamed one (`reply_streamed`: a piece's text; the
    final fact's `rest`, as the last piece, maybe empty when the pieces said everything).

    `language`: the worker's default; the reply's own `language` (the call's) wins. A language no
    voice speaks (a dialplan's `xx-XX`) is spoken in the default's voice: heard, if with an accent,
    rather than silence."""
    default = language
    text = fact.rest or "" if fact.final and fact.part else fact.text
    if fact.language and not is_auto(fact.language):
        language = fact.language

    def voiced() -> Speech:
        try:
            return tts.synthesize(spoken_text(text, language), language)  # "18:00" said as words
        except EngineError as exc:
            if same_language(language, default):
                raise
            log.warning("no voice for the language", call_id=fact.call_id, language=language, error=str(exc))
            return tts.synthesize(spoken_text(text, default), default)

    def run() -> tuple[bytes, int, str]:
        if not text.strip():
            return b"", TTS_RATE, tts.name  # a streamed reply whose pieces said it all: only its end
        speech = voiced()
        engine = speech.engine or tts.name  # a router (voices.ByLanguage) names the voice it chose
        if speech.sample_rate == TTS_RATE:
            return speech.pcm, TTS_RATE, engine
        pcm = np.frombuffer(speech.pcm, dtype="<i2")
        out = soxr.resample(pcm, speech.sample_rate, TTS_RATE, quality="HQ")
        return out.astype("<i2").tobytes(), TTS_RATE, engine

    (pcm, rate, engine), ms = _timed(run)
    if len(pcm) > MAX_SPEECH_BYTES:
        log.warning(
            "reply cut", call_id=fact.call_id, reply_id=fact.reply_id, kept_s=MAX_SPEECH_BYTES // (2 * rate)
        )
        pcm = pcm[:MAX_SPEECH_BYTES]
    return m.SpeechSynthesized(
        **_derived(fact, TTS_SOURCE), reply_id=fact.reply_id, text=text, sample_rate=rate, pcm=pcm,
        engine=engine, latency_ms=ms, part=fact.part, last=fact.final,
    )  # fmt: skip


# The dialog engine's per-call history, as stored in its table: JSON [[role, text], ...].


def load_history(raw: bytes | None) -> list[Turn]:
    if not raw:
        return []
    try:
        return [Turn(role, text) for role, text in json.loads(raw)]
    except (ValueError, TypeError):
        return []


def dump_history(turns: Sequence[Turn]) -> bytes:
    return json.dumps([[t.role, t.text] for t in turns[-HISTORY_TURNS:]]).encode()


def remember(raw: bytes | None, *turns: Turn) -> bytes:
    return dump_history([*load_history(raw), *turns])


def forget_answer(raw: bytes | None, words: str) -> bytes | None:
    """The history without its last exchange if that exchange answered ``words`` (normalized), else
    None: an answer prepared at the caller's pause and dropped because they spoke on
    (``caller_resumed``) was never heard, so the engine must not read it as something it said."""
    turns = load_history(raw)
    if len(turns) >= 2 and turns[-1].role == "agent" and turns[-2].role == "caller":
        if normalized(turns[-2].text) == words:
            return dump_history(turns[:-2])
    return None
