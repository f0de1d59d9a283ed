"""Compare a recorded call's turns with a re-run of them (`sentiric replay rerun`, `replay check`).

A turn is one caller utterance and what the platform made of it: the transcript, the dialog engine's
decision (its `intent`, which names the knowledge entry it answered from, `fallback`, or an action),
the reply text and whether it ended the conversation, and the latency of each stage. Two turns
differ when the transcript, the decision, the reply or the end flag differ; latencies, event ids and
engine names are shown but never count as a change (they are expected to vary between runs). A
turn's agent actions (`ActionCall`: name, arguments, outcome) are compared too: the re-run's come
from a stub answering with the recorded results (`streams.replay_actions`), so another action, other
arguments or a call the recording cannot answer is a change.

The transcript is also scored: word error rate (WER) of the re-run against the recorded transcript,
`(substitutions + deletions + insertions) / words of the recorded one`, on lower-cased word tokens
(punctuation and case are not errors: "Thank you, goodbye." = "thank you goodbye").

Pure: no engines, no log. `streams.replay_rerun` makes the turns, `streams.replay_report` prints them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

NO_RECORDING: Final = "no recording for this action call"
"""The error a re-run's action call gets when the recorded call has no result for it."""
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, words in `reference`): Levenshtein over word tokens."""
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1], len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference`; an empty reference scores 0 against an
    empty hypothesis and 1 against anything else."""
    errors, n = word_errors(reference, hypothesis)
    if n == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / n


@dataclass(frozen=True, slots=True)
class ActionCall:
    """One action call of a turn: its name, arguments (canonical JSON) and outcome."""

    name: str
    arguments: str
    outcome: str
    """`completed`, `failed`, `no recording` (a re-run's call the record cannot answer) or `no
    result` (requested, but no outcome recorded: the worker died mid-call)."""
    result: str = ""
    """The result (JSON text) or the error."""

    def __str__(self) -> str:
        told = f": {self.result}" if self.result and self.result != NO_RECORDING else ""
        return f"{self.name}({self.arguments}) → {self.outcome}{told}"


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What one run made of one utterance. `reply` is None when the engine was not asked (the dialog
    held an unfinished sentence, an empty transcript)."""

    utterance_id: str
    transcript: str
    reply: str | None = None
    intent: str | None = None
    end_conversation: bool = False
    stt_engine: str = ""
    dialog_engine: str = ""
    stt_ms: float | None = None
    dialog_ms: float | None = None
    actions: tuple[ActionCall, ...] = ()
    """The action calls the turn made (`streams.replay_actions`)."""


@dataclass(frozen=True, slots=True)
class TurnDiff:
    recorded: TurnResult | None
    rerun: TurnResult | None
    by_decision: bool = False
    """Reply texts not compared (an LLM engine that does not answer word for word the same)."""

    @property
    def utterance_id(self) -> str:
        turn = self.recorded or self.rerun
        assert turn is not None
        return turn.utterance_id

    @property
    def wer(self) -> float | None:
        if self.recorded is None or self.rerun is None:
            return None
        return wer(self.recorded.transcript, self.rerun.transcript)

    @property
    def transcript_changed(self) -> bool:
        if self.recorded is None or self.rerun is None:
            return True
        return words(self.recorded.transcript) != words(self.rerun.transcript)

    @property
    def decision_changed(self) -> bool:
        if self.recorded is None or self.rerun is None:
            return True
        a, b = self.recorded, self.rerun
        answered = (a.intent, a.end_conversation, a.reply is None)
        return answered != (b.intent, b.end_conversation, b.reply is None)

    @property
    def reply_changed(self) -> bool:
        if self.recorded is None or self.rerun is None:
            return True
        return not self.by_decision and self.recorded.reply != self.rerun.reply

    @property
    def actions_changed(self) -> bool:
        """Another action called, with other arguments, or with another outcome (a call the
        recording cannot answer is one)."""
        old = self.recorded.actions if self.recorded is not None else ()
        new = self.rerun.actions if self.rerun is not None else ()
        return old != new

    @property
    def changed(self) -> bool:
        return self.transcript_changed or self.decision_changed or self.reply_changed or self.actions_changed


@dataclass(frozen=True, slots=True)
class CallDiff:
    call_id: str
    turns: tuple[TurnDiff, ...]

    @property
    def changed(self) -> tuple[TurnDiff, ...]:
        return tuple(t for t in self.turns if t.changed)


def compare(
    call_id: str, recorded: Sequence[TurnResult], rerun: Sequence[TurnResult], *, by_decision: bool = False
) -> CallDiff:
    """Pair the turns by utterance id, in the recorded order (then any the re-run adds)."""
    made = {t.utterance_id: t for t in rerun}
    turns = [TurnDiff(r, made.pop(r.utterance_id, None), by_decision) for r in recorded]
    turns += [TurnDiff(None, t, by_decision) for t in made.values()]
    return CallDiff(call_id, tuple(turns))


@dataclass(frozen=True, slots=True)
class Summary:
    calls: int = 0
    turns: int = 0
    changed: int = 0
    transcript_changed: int = 0
    decision_changed: int = 0
    reply_changed: int = 0
    word_errors: int = 0
    reference_words: int = 0
    calls_changed: int = 0
    changed_calls: tuple[str, ...] = field(default=())
    actions_changed: int = 0
    unrecorded_actions: int = 0
    """Action calls of the re-run no recording answered (`streams.replay_actions.NO_RECORDING`)."""

    @property
    def wer(self) -> float:
        return self.word_errors / self.reference_words if self.reference_words else 0.0

    def __str__(self) -> str:
        if not self.changed:
            return f"{self.calls} calls, {self.turns} turns re-run: no differences (WER {self.wer:.1%})"
        return (
            f"{self.calls} calls, {self.turns} turns re-run: {self.changed} turns changed in "
            f"{self.calls_changed} calls ({self.transcript_changed} transcripts, {self.decision_changed} "
            f"decisions, {self.reply_changed} replies{self._actions()}); WER {self.wer:.1%}"
        )

    def _actions(self) -> str:
        if not self.actions_changed:
            return ""
        unrecorded = f", {self.unrecorded_actions} with no recording" if self.unrecorded_actions else ""
        return f", {self.actions_changed} action calls{unrecorded}"


def summarize(diffs: Iterable[CallDiff]) -> Summary:
    calls = turns = changed = transcripts = decisions = replies = errors = ref_words = 0
    actions = unrecorded = 0
    changed_calls: list[str] = []
    for diff in diffs:
        calls += 1
        if diff.changed:
            changed_calls.append(diff.call_id)
        for turn in diff.turns:
            turns += 1
            changed += turn.changed
            transcripts += turn.transcript_changed
            decisions += turn.decision_changed
            replies += turn.reply_changed
            actions += turn.actions_changed
            if turn.rerun is not None:
                unrecorded += sum(a.outcome == "no recording" for a in turn.rerun.actions)
            if turn.recorded is not None and turn.rerun is not None:
                e, n = word_errors(turn.recorded.transcript, turn.rerun.transcript)
                errors, ref_words = errors + e, ref_words + n
    return Summary(
        calls, turns, changed, transcripts, decisions, replies, errors, ref_words,
        len(changed_calls), tuple(changed_calls), actions, unrecorded,
    )  # fmt: skip
