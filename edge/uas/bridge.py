"""The edge's own transfer (B2BUA): when the caller's side refuses REFER, the edge calls the target.

A blind transfer asks the caller's phone to place the new call (REFER, :mod:`edge.uas.in_dialog`).
A phone or trunk that refuses (a 4xx-6xx to the REFER, a NOTIFY whose sipfrag is a failure) — or a
dialplan whose ``transfer_mode`` is ``bridge`` — leaves the edge to do it itself: it places a second
call to the target as a UAC (:mod:`edge.uas.outbound`, the *leg*), the caller hears ringback
meanwhile, and on answer the two calls' media are joined (:mod:`edge.media.bridge`).  Facts, on the
caller's call (the leg records its own call's facts under its own call id)::

    CallTransferred(bridging, sip_status=the REFER's refusal, leg_call_id)
      ─leg answered─▶ CallTransferred(bridged, 200)        media joined; the agent stays silent
      ─leg busy / failed / no answer in ring time─▶ CallTransferred(failed, the leg's status)
                                                           the dialog takes the caller back

An *attended* transfer (``TransferCall`` mode ``attended``, or the dialplan's ``transfer_mode``) puts
the agent between the answer and the join: the person hears a brief ("Transferring <caller name or
number>: <why>") on the leg while the caller still holds, then the calls are joined::

    CallTransferred(bridging) ─leg answered─▶ CallTransferred(briefing, 200)   BriefTarget effect
      ─the brief played (``briefed``)─▶ CallTransferred(bridged, 200)          media joined
      ─the person hangs up during the brief─▶ CallTransferred(failed, 603)     back to the agent

Once bridged either side's end ends the other: the caller's BYE BYEs the target (a leg still
ringing is CANCELled), the target's BYE BYEs the caller (``CallEnded`` reason ``transferred``).
Sans-IO: the entry points take ``now`` and append effects (SIP sends and the media driver's
:class:`Ringback` / :class:`JoinMedia`) to ``out``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import structlog

from edge import call_facts as cf
from edge.uas.call import BriefTarget, Call, Effect, JoinMedia, Ringback
from edge.uas.call_facts import CallFacts
from edge.uas.call_table import CallTable
from edge.uas.dialplan import Plan
from edge.uas.outbound import Originator
from edge.uas.teardown import Teardown

log = structlog.get_logger(__name__)

LEG_PLAN = Plan(dialplan_id="transfer-bridge", pattern="*", action="bridge")  # no agent on the leg
DEFAULT_REASON = "a caller asked to speak to a person"  # an attended transfer with no brief
DECLINED = 603  # the person hung up during the brief: the transfer failed as if declined
MAX_BRIEF_CHARS = 300  # spoken while the caller holds (~20 s at most): keep it short


@dataclass(slots=True)
class Bridging:
    """One transfer the edge carries out itself: the caller's call and the leg to the target."""

    call_id: str
    leg_call_id: str
    target: str
    answered: bool = False
    attended: bool = False
    brief: str = ""  # attended: what the person hears before the calls are joined
    joined: bool = False


@dataclass(slots=True)
class TransferBridges:
    table: CallTable
    facts: CallFacts
    originator: Originator
    teardown: Teardown
    ring_s: float  # how long the target may ring (0: never bridge), unless the call's plan says
    by_call: dict[str, Bridging] = field(default_factory=dict)  # by either call's platform id

    def start(
        self, call: Call, target: str, refused: int | None, now: float, out: list[Effect],
        *, attended: bool = False, brief: str | None = None,
    ) -> bool:  # fmt: skip
        """Call ``target`` for ``call`` (its REFER was refused with ``refused``, or the edge was asked
        to call it); ``attended``: brief the person first.  False: not bridging."""
        ring_s = self.ring_s_for(call)
        if ring_s <= 0 or call.call_id in self.by_call or not call.live:
            return False
        leg_id = str(uuid.uuid4())
        bridging = Bridging(call.call_id, leg_id, target, attended=attended)
        if attended:
            bridging.brief = self.brief_text(call, brief)
        self.by_call[call.call_id] = self.by_call[leg_id] = bridging
        call.transfer_target = target
        self.facts.record(
            cf.call_transferred(
                call.call_id, target_uri=target, status="bridging", sip_status=refused, leg_call_id=leg_id
            )
        )
        out.append(Ringback(call.call_id, on=True))
        self.originator.originate_leg(
            leg_id,
            target,
            ring_s,
            LEG_PLAN,
            _caller_of(call),
            now,
            out,
            tenant=call.tenant,
            parent_call_id=call.call_id,
        )
        return True

    def ring_s_for(self, call: Call) -> float:
        """The call's dialplan ring time for the target, else the edge's ``transfer_ring_s``."""
        plan_ring = call.plan.transfer_ring_s if call.plan is not None else None
        return self.ring_s if plan_ring is None else plan_ring

    def answered(self, leg: Call, now: float, out: list[Effect]) -> None:
        """The target answered (its media is open): join the legs' media."""
        bridging = self.by_call.get(leg.call_id)
        if bridging is None or bridging.leg_call_id != leg.call_id:
            return
        call = self.table.get(bridging.call_id)
        if call is None or not call.live:  # the caller left meanwhile (ended() BYEs the leg)
            return
        bridging.answered = True
        if bridging.attended:
            self.facts.record(
                cf.call_transferred(
                    call.call_id, target_uri=bridging.target, status="briefing", sip_status=200,
                    leg_call_id=leg.call_id,
                )
            )  # fmt: skip
            language = call.plan.language if call.plan is not None else "en-US"
            out.append(BriefTarget(call.call_id, leg.call_id, bridging.brief, language))
            return
        self._join(call, bridging, out)

    def briefed(self, leg_call_id: str, now: float, out: list[Effect]) -> None:
        """The brief has played to the person (or could not be): join the calls."""
        bridging = self.by_call.get(leg_call_id)
        if bridging is None or bridging.leg_call_id != leg_call_id or not bridging.answered:
            return
        call, leg = self.table.get(bridging.call_id), self.table.get(leg_call_id)
        if call is None or not call.live or leg is None or not leg.live or bridging.joined:
            return
        self._join(call, bridging, out)

    def _join(self, call: Call, bridging: Bridging, out: list[Effect]) -> None:
        bridging.joined = True
        self.facts.record(
            cf.call_transferred(
                call.call_id, target_uri=bridging.target, status="bridged", sip_status=200,
                leg_call_id=bridging.leg_call_id,
            )
        )  # fmt: skip
        out.append(JoinMedia(call.call_id, bridging.leg_call_id))

    def brief_text(self, call: Call, reason: str | None) -> str:
        """ "Transferring <caller name or number>: <reason>." """
        number = _caller_of(call)
        known = self.originator.directory.caller(number) if number else None
        who = (known.name if known is not None else None) or number or "a caller"
        why = " ".join((reason or DEFAULT_REASON).split()).rstrip(".")
        return f"Transferring {who}: {why}."[:MAX_BRIEF_CHARS]

    def ended(self, ended: Call, now: float, out: list[Effect]) -> None:
        """``ended`` recorded its CallEnded: end the other side, or take the caller back."""
        bridging = self.by_call.pop(ended.call_id, None)
        if bridging is None:
            return
        is_leg = ended.call_id == bridging.leg_call_id
        other_id = bridging.call_id if is_leg else bridging.leg_call_id
        self.by_call.pop(other_id, None)
        other = self.table.get(other_id)
        if is_leg and not bridging.joined:
            if other is not None and other.live:
                status = ended.final_status or 500
                if bridging.answered:
                    status = DECLINED  # the person heard the brief and hung up: not taking the call
                elif ended.disposition == "no_answer" or status < 300:
                    status = 408  # not the 487 of our own CANCEL: the target did not answer in time
                self.facts.record(
                    cf.call_transferred(
                        other_id, target_uri=bridging.target, status="failed", sip_status=status,
                        leg_call_id=bridging.leg_call_id,
                    )
                )  # fmt: skip
                other.transfer_target = None
                out.append(Ringback(other_id, on=False))
            return
        if other is None or not other.live:
            return
        if is_leg:
            self.teardown.send_bye(other, "transferred", "callee", now, out, force=True)
        elif not self.originator.hangup(other_id, "caller_gone", now, out):
            self.teardown.send_bye(other, "caller_bye", "caller", now, out, force=True)


def _caller_of(call: Call) -> str | None:
    """The caller's user part, shown to the target as who is calling (None: the edge's default)."""
    try:
        user = getattr(call.invite.from_addr.uri, "user", None)  # a tel: or other URI has no user part
    except Exception:  # a From that does not parse: the edge's own name
        return None
    return str(user) if user else None
