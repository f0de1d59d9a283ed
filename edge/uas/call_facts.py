"""The UAS core's way out for facts: a recorder that never stops a call.

The core builds each fact with its typed function (:mod:`edge.call_facts`) and records it here, as
it goes.  The record goes to the edge's :class:`~edge.facts.FactSink` (the one recorder, which
stamps and scrubs it); a sink that refuses it (``BufferFull``) is counted and logged, never raised:
a fact the log cannot take must not stop a call.

``forget`` is held until the core calls :meth:`~CallFacts.settle` at the end of the step that asked for
it: the messages that step sends (the 200 answering a BYE) still belong to the call's ladder
(:mod:`edge.uas.ladder`), and their facts must keep counting the call's ``seq`` up.
"""

from __future__ import annotations

import structlog

from edge import metrics as m
from edge.facts import CallFact, FactSink

log = structlog.get_logger(__name__)


class CallFacts:
    """The UAS core's fact recorder over one sink."""

    __slots__ = ("held", "sink")

    def __init__(self, sink: FactSink) -> None:
        self.sink = sink
        self.held: list[str] = []  # calls whose last fact is recorded, forgotten at settle()

    def record(self, fact: CallFact) -> None:
        try:
            self.sink.record(fact)
        except Exception as exc:  # BufferFull: counted; the call goes on
            m.FACT_ERRORS.inc()
            log.error("call fact refused", fact=type(fact).__name__, error=str(exc), call_id=fact.call_id)

    def set_tenant(self, call_id: str, tenant: str) -> None:
        """The call's tenant is known: the sink stamps it on every fact of the call from now on."""
        set_tenant = getattr(self.sink, "set_tenant", None)
        if set_tenant is not None:  # a stand-in sink of a test may not keep tenants
            set_tenant(call_id, tenant)

    def forget(self, call_id: str) -> None:
        """The call's last fact is recorded: the sink may drop its per-call state (at ``settle``)."""
        self.held.append(call_id)

    def settle(self) -> list[str]:
        """The step is over: the sink forgets the calls it was told of; they are returned."""
        held, self.held = self.held, []
        forget = getattr(self.sink, "forget", None)
        if forget is not None:
            for call_id in held:
                forget(call_id)
        return held
