"""Re-run a recorded call's speech through engines and knowledge chosen now (`sentiric replay rerun`).

Input: the call's facts in log order (from the log, `sentiric.eventlog.consumer.read_call`, or from a
golden call's files, `streams.replay_golden`). Each recorded `UtteranceCaptured` goes through the STT
engine (or keeps its recorded transcript: `stt=None`), and each transcript the dialog engine would
have answered goes through the dialog engine with the knowledge given, exactly as the live worker does
(`streams.app`'s `dialog-engine` agent, with the same `streams.agents.speech` functions): the same
history of turns, the same rule for unfinished sentences the dialog holds (`wants_reply`,
`holding_after`), prompts the dialog said itself (`AgentReplied` not from the engine) in the history.

An early turn (`schemas.turn_ids`: the answer the dialog prepared at a pause of the caller, or from a
stable partial) belongs to the utterance it answers: the recorded turn is that utterance's, with the
early reply as its reply unless a later one replaced it (the caller spoke on), and a re-run answers the
utterance once, from its whole transcript, as the worker answers a final whose words it did not answer
early. How early a reply was prepared is latency, which a re-run does not measure.

Transcripts the dialog made itself (a DTMF digit, a held sentence joined with its continuation) are
its recorded decisions and are fed to the engine as recorded: the reducer is not re-run here (`sentiric
replay dialog` does that), so a changed transcript of a held sentence's first half is not joined anew.

Agent actions run as the worker runs them (`streams.agents.actions.action_turn`: slot filling and
confirmation in the embedded engine, tool calls with an LLM), with the call's context folded from its
facts, but every endpoint call is answered by `streams.replay_actions.RecordedActions` from the
call's recorded results: a re-run never books anything.

Nothing is produced and nothing is committed: the engines' outputs stay in memory.

Why async: the action turn is the worker's own coroutine, and the CLI already runs in one event loop
(`asyncio.run` around each `replay` command), so the re-run awaits it there. A synchronous re-run
would need a second loop per call, which `asyncio.run` refuses inside a running one (a thread just
for that). The speech engines stay synchronous calls in the coroutine: nothing else shares the
CLI's loop, so blocking it costs nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from schemas import models as m
from schemas.turn_ids import answered_utterance, is_early
from streams.agents import actions as agent_actions
from streams.agents import speech
from streams.dialog.context import CallContext
from streams.dialog.machine import DEFAULT_POLICY, Policy
from streams.engines.dialog import DialogEngine, Turn
from streams.engines.stt import SpeechToText
from streams.replay_actions import RecordedActions, actions_of
from streams.replay_diff import ActionCall, TurnResult


@dataclass(frozen=True, slots=True)
class Recording:
    """The parts of a recorded call a re-run reads."""

    call_id: str
    facts: tuple[Any, ...]
    """Call facts in log order, de-duplicated by event id (commands left out)."""
    language: str
    dialplan_id: str | None

    @property
    def utterances(self) -> tuple[m.UtteranceCaptured, ...]:
        return tuple(f for f in self.facts if isinstance(f, m.UtteranceCaptured))


def recording(call_id: str, records: Iterable[Any], default_language: str = "en-US") -> Recording:
    seen: set[Any] = set()
    facts: list[Any] = []
    for record in records:
        if isinstance(record, m.Command) or record.event_id in seen:
            continue
        seen.add(record.event_id)
        facts.append(record)
    resolved = next((f for f in facts if isinstance(f, m.DialplanResolved)), None)
    language = resolved.language if resolved is not None else default_language
    return Recording(call_id, tuple(facts), language, resolved.dialplan_id if resolved else None)


def _is_stt(fact: Any) -> bool:
    """A final transcript from the STT worker (not a partial, `streams.agents.partials`)."""
    return isinstance(fact, m.UtteranceTranscribed) and fact.source == speech.STT_SOURCE and fact.is_final


def recorded_turns(rec: Recording, policy: Policy = DEFAULT_POLICY) -> list[TurnResult]:
    """The turns as the record has them: each utterance's recorded transcript and the engine's reply."""
    turns: dict[str, TurnResult] = {}
    called: dict[str, tuple[ActionCall, ...]] = {}
    for uid, calls in actions_of(rec.facts).items():
        called[answered_utterance(uid)] = called.get(answered_utterance(uid), ()) + calls
    for fact in rec.facts:
        if isinstance(fact, m.UtteranceCaptured):
            turns.setdefault(fact.utterance_id, TurnResult(fact.utterance_id, ""))
        elif _is_stt(fact) or (isinstance(fact, m.UtteranceTranscribed) and fact.source == policy.source):
            uid = answered_utterance(fact.utterance_id)
            old = turns.get(uid)
            if old is None or not old.transcript or _is_stt(fact):
                turns[uid] = dataclasses.replace(
                    old or TurnResult(uid, ""), transcript=fact.text, stt_engine=fact.engine,
                    stt_ms=fact.latency_ms,
                )  # fmt: skip
        elif (
            isinstance(fact, m.AgentReplied)
            and fact.source == speech.ENGINE_SOURCE
            and fact.utterance_id
            and fact.final
        ):  # a streamed reply's sentences (final false) are in its final fact's text
            uid = answered_utterance(fact.utterance_id)
            turns[uid] = _with_reply(turns.get(uid) or TurnResult(uid, ""), fact)
    return [dataclasses.replace(t, actions=called.get(t.utterance_id, ())) for t in turns.values()]


def _with_reply(turn: TurnResult, fact: m.AgentReplied) -> TurnResult:
    return dataclasses.replace(
        turn, reply=fact.text, intent=fact.intent, end_conversation=fact.end_conversation,
        dialog_engine=fact.engine, dialog_ms=fact.latency_ms,
    )  # fmt: skip


async def rerun_turns(
    rec: Recording,
    stt: SpeechToText | None,
    dialog: DialogEngine,
    knowledge: Sequence[m.KnowledgeEntry],
    policy: Policy = DEFAULT_POLICY,
    actions: Sequence[m.Action] = (),
) -> list[TurnResult]:
    """The turns as these engines make them. `stt=None` keeps the recorded transcripts. `actions`:
    the agent actions configured now; their calls are answered from the recording."""
    recorded_stt = {f.utterance_id: f for f in rec.facts if _is_stt(f)}
    stub = RecordedActions(rec.facts)
    turns: dict[str, TurnResult] = {}
    history: list[Turn] = []
    holding = False
    pending: bytes | None = None
    context = CallContext()

    async def answer(fact: m.UtteranceTranscribed) -> None:
        nonlocal holding, history, pending, context
        was_holding = holding
        holding = speech.holding_after(fact, policy, holding=was_holding)
        if not speech.wants_reply(fact, policy, holding=was_holding):
            return
        turn = await agent_actions.action_turn(
            fact, pending, dialog, speech.dump_history(history), knowledge, actions, stub, context
        )
        pending = turn.pending
        for made in turn.facts:
            context = context.apply(made)
        out = (
            turn.facts[-1]
            if turn.facts
            else speech.reply(fact, dialog, history, knowledge, context.prompt_facts())
        )
        history = [*history, Turn("caller", fact.text), Turn("agent", out.text)][-speech.HISTORY_TURNS :]
        turn_result = turns.get(fact.utterance_id) or TurnResult(fact.utterance_id, fact.text)
        called = actions_of(turn.facts).get(fact.utterance_id, ())
        turns[fact.utterance_id] = dataclasses.replace(_with_reply(turn_result, out), actions=called)

    for fact in rec.facts:
        if isinstance(fact, m.DialplanResolved):
            context = context.apply(fact)  # the caller's identity; actions' own facts are re-made
        elif isinstance(fact, m.AgentReplied) and fact.source != speech.ENGINE_SOURCE:
            history = [*history, Turn("agent", fact.text)][-speech.HISTORY_TURNS :]
        elif isinstance(fact, m.UtteranceCaptured):
            if stt is not None:
                heard: m.UtteranceTranscribed | None = speech.transcribe(fact, stt, rec.language)
            else:
                heard = recorded_stt.get(fact.utterance_id)
            if heard is None:  # no transcript was recorded (the worker failed): nothing to answer
                turns[fact.utterance_id] = TurnResult(fact.utterance_id, "")
                continue
            turns[fact.utterance_id] = TurnResult(
                fact.utterance_id, heard.text, stt_engine=heard.engine, stt_ms=heard.latency_ms
            )
            await answer(heard)
        elif (
            isinstance(fact, m.UtteranceTranscribed)
            and fact.source == policy.source
            and not is_early(fact.utterance_id)
        ):
            turns.setdefault(fact.utterance_id, TurnResult(fact.utterance_id, fact.text))
            await answer(fact)
    return list(turns.values())
