"""The edge's command dispatcher: signalling commands go to the SIP side, OriginateCall among them."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from edge.command_consumer import CommandDispatcher
from schemas import models


class Sip:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def hangup(self, call_id: str, reason: str) -> None:
        self.seen.append(("hangup", call_id))

    def transfer(self, call_id: str, target: str, mode: str | None = None, brief: str | None = None) -> None:
        self.seen.append(("transfer", target))

    def originate(self, command: Any) -> None:
        self.seen.append(("originate", command.to_uri))


def test_originate_goes_to_the_sip_side() -> None:
    sip = Sip()
    command = models.OriginateCall(
        event_id=uuid.uuid4(), call_id="c1", seq=0, occurred_at=datetime.now(UTC), source="api", trace_id="t",
        to_uri="sip:1000@127.0.0.1:5080", to="sip:1000@127.0.0.1:5080",
    )  # fmt: skip
    outcome = asyncio.run(CommandDispatcher(sip, engine=None).dispatch(command))
    assert outcome == "ok" and sip.seen == [("originate", "sip:1000@127.0.0.1:5080")]
