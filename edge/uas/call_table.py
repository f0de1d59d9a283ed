"""The UAS core's calls, found three ways, and what they count against.

A call is indexed by the platform call id (commands, media reports), by its INVITE (SIP Call-ID and
From tag: retransmissions, the credentials retry, CANCEL) and, once answered, by its dialog id
(Call-ID, our tag, their tag: in-dialog requests, the ACK).  The table also keeps the two counts
admission reads: live calls (from the first INVITE until ``CallEnded``, O(1) to read) and live calls
per non-trunk source IP.
"""

from __future__ import annotations

from collections.abc import Callable

from edge.sip.message import SipRequest
from edge.uas.call import Call


class CallTable:
    __slots__ = ("by_dialog", "by_invite", "calls", "live", "on_add", "per_source")

    def __init__(self, on_add: Callable[[Call], None] | None = None) -> None:
        self.on_add = on_add  # told of every call added (the SIP ladder follows it)
        self.calls: dict[str, Call] = {}  # platform call_id -> call
        self.by_invite: dict[tuple[str, str], Call] = {}  # (SIP Call-ID, From tag) -> call
        self.by_dialog: dict[tuple[str, str, str], Call] = {}  # (Call-ID, our tag, their tag)
        self.per_source: dict[str, int] = {}  # live calls per source IP (non-trunk)
        self.live = 0  # calls between their first INVITE and CallEnded

    def get(self, call_id: str) -> Call | None:
        return self.calls.get(call_id)

    def for_invite(self, req: SipRequest) -> Call | None:
        """The call an INVITE (or its CANCEL) belongs to, by Call-ID and From tag."""
        return self.by_invite.get((req.call_id, req.from_addr.tag or ""))

    def for_dialog(self, req: SipRequest) -> Call | None:
        """The call of the dialog an in-dialog request (or an ACK) names: the To tag is ours."""
        return self.by_dialog.get((req.call_id, req.to_addr.tag or "", req.from_addr.tag or ""))

    def add(self, call: Call, counted_ip: str | None) -> None:
        """A new call: live, and counted against ``counted_ip`` (None: a trunk, not counted)."""
        self.calls[call.call_id] = call
        self.by_invite[(call.sip_call_id, call.from_tag)] = call
        if self.on_add is not None:
            self.on_add(call)
        self.live += 1
        if counted_ip is not None:
            call.counted_ip = counted_ip
            self.per_source[counted_ip] = self.per_source.get(counted_ip, 0) + 1

    def answered(self, call: Call) -> None:
        """The call has a dialog: in-dialog requests find it from now on."""
        assert call.dialog is not None
        self.by_dialog[call.dialog.id] = call

    def ended(self, call: Call) -> None:
        """``CallEnded`` is recorded: no longer live, no longer counted against its source."""
        self.live -= 1
        self.release_source(call)

    def release_source(self, call: Call) -> None:
        """The call no longer counts against its source IP (idempotent)."""
        ip, call.counted_ip = call.counted_ip, None
        if ip is not None:
            left = self.per_source.get(ip, 1) - 1
            if left > 0:
                self.per_source[ip] = left
            else:
                self.per_source.pop(ip, None)

    def remove(self, call: Call) -> None:
        """The call is over and forgotten: no index finds it any more."""
        self.calls.pop(call.call_id, None)
        key = (call.sip_call_id, call.from_tag)
        if self.by_invite.get(key) is call:
            del self.by_invite[key]
        if call.dialog is not None:
            self.by_dialog.pop(call.dialog.id, None)
