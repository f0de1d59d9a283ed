"""Agent actions in a re-run: a stub endpoint answering from the recorded call, and each turn's action
calls as the diff shows them (`sentiric replay rerun`, `replay check`).

A re-run never calls a real action endpoint: booking a second appointment to find out whether a new
version still books is not a test. `RecordedActions` stands in for the worker's `Executor`
(`streams.agents.actions.ActionCaller`): every `ActionRequested` of the recorded call with its
outcome (`ActionCompleted` or `ActionFailed`, joined by request id) answers one call the re-run
makes with the same action name and the same arguments (JSON, keys sorted, as the request carries
them). A call with no such recording — new arguments, another action, a second call where the
record has one — is answered as a failure whose error is `NO_RECORDING`, so the re-run's dialog says
its spoken fallback exactly as it would for a down endpoint, and the diff names the call.

`ActionCall` is one call as a turn shows it: recorded (`actions_of(recorded facts)`) and re-run
(`actions_of(the re-run's facts)`), compared side by side by `streams.replay_diff`.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import Any

from schemas import models as m
from streams.agents.actions import CallResult
from streams.replay_diff import NO_RECORDING, ActionCall


def canonical_arguments(arguments: Any) -> str:
    """Arguments as `ActionRequested.arguments` holds them: JSON with sorted keys."""
    return json.dumps(arguments if isinstance(arguments, dict) else {}, sort_keys=True)


def actions_of(facts: Iterable[Any]) -> dict[str, tuple[ActionCall, ...]]:
    """The action calls among `facts`, by the utterance that caused them, in order."""
    requested: dict[str, m.ActionRequested] = {}
    outcomes: dict[str, m.ActionCompleted | m.ActionFailed] = {}
    for fact in facts:
        if isinstance(fact, m.ActionRequested):
            requested.setdefault(fact.request_id, fact)
        elif isinstance(fact, m.ActionCompleted | m.ActionFailed):
            outcomes.setdefault(fact.request_id, fact)
    out: dict[str, list[ActionCall]] = {}
    for request_id, req in requested.items():
        done = outcomes.get(request_id)
        if isinstance(done, m.ActionCompleted):
            call = ActionCall(req.name, req.arguments, "completed", done.result)
        elif isinstance(done, m.ActionFailed):
            unrecorded = done.error == NO_RECORDING
            call = ActionCall(req.name, req.arguments, "no recording" if unrecorded else "failed", done.error)
        else:
            call = ActionCall(req.name, req.arguments, "no result")
        out.setdefault(req.utterance_id or "", []).append(call)
    return {k: tuple(v) for k, v in out.items()}


def _result_of(done: m.ActionCompleted | m.ActionFailed) -> CallResult:
    if isinstance(done, m.ActionFailed):
        return CallResult(False, done.status_code, None, done.error, done.attempts, done.latency_ms)
    try:
        result = json.loads(done.result)
    except ValueError:  # cut at the fact's bound: the text as the endpoint's answer
        result = {"text": done.result}
    return CallResult(True, done.status_code, result, "", done.attempts, done.latency_ms)


class RecordedActions:
    """An `ActionCaller` answering from a recorded call's action results; never touches the network."""

    def __init__(self, facts: Iterable[Any]) -> None:
        facts = list(facts)
        outcomes: dict[str, m.ActionCompleted | m.ActionFailed] = {}
        for fact in facts:
            if isinstance(fact, m.ActionCompleted | m.ActionFailed):
                outcomes.setdefault(fact.request_id, fact)
        self._answers: dict[tuple[str, str], deque[CallResult]] = {}
        seen: set[str] = set()
        for fact in facts:
            if not isinstance(fact, m.ActionRequested) or fact.request_id in seen:
                continue
            seen.add(fact.request_id)
            done = outcomes.get(fact.request_id)
            if done is not None:
                key = (fact.name, canonical_arguments(_loads(fact.arguments)))
                self._answers.setdefault(key, deque()).append(_result_of(done))
        self.unmatched: list[tuple[str, str]] = []
        """(action name, arguments) of each call no recording answered."""

    async def call(self, action: m.Action, body: bytes, request_id: str) -> CallResult:
        try:
            arguments = json.loads(body).get("arguments")
        except (ValueError, AttributeError):
            arguments = None
        key = (action.name, canonical_arguments(arguments))
        answers = self._answers.get(key)
        if answers:
            return answers.popleft()
        self.unmatched.append(key)
        return CallResult(False, None, None, NO_RECORDING, 0, 0.0)


def _loads(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
