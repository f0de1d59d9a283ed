"""Dialplan resolution: which plan a called number falls under (pure, local, never waits).

A plan's ``pattern`` is matched against the dialled user part (Request-URI user)::

    "*"          every number
    "90212*"     prefix: every number starting with 90212
    "1000"       exactly 1000

Among matching plans the lowest ``priority`` wins, then the most specific pattern (exact before
prefix, longer prefix first), then the plan id, so resolution is deterministic.  When no configured
plan matches, :data:`DEFAULT_PLAN` applies: every number goes to the AI agent.  A plan with business
``hours`` gives way outside them to its ``out_of_hours`` plan (:func:`within_hours`).

Until any dialplan is configured, the sample plans apply (as the sample knowledge base does until any
knowledge entry is): extension 2000 reaches the Turkish sample business, tenant ``ornek`` (language
``tr-TR``: Turkish prompts, voice, transcription and knowledge entries), every other number the English
one, tenant ``default``.  Which tenant's plans are eligible for a call is :mod:`edge.uas.tenants`' choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from schemas.envelope import DEFAULT_TENANT
from sentiric.hours import Span, is_open, parse_hours, zone
from sentiric.sample_business import SAMPLE_TENANT

UTC_ZONE = ZoneInfo("UTC")
ACTIONS = ("agent", "prompt_hangup", "transfer", "reject")
BUSY_ACTIONS = ("reject", "busy_prompt")
RECORD_FORMATS = ("wav", "mp3")
TRANSFER_MODES = ("refer", "bridge", "attended")  # edge.uas.bridge: bridge if REFER refused, or always


@dataclass(frozen=True, slots=True)
class Plan:
    dialplan_id: str
    pattern: str
    action: str
    priority: int = 100
    target: str | None = None
    prompt_uri: str | None = None
    reject_status: int = 403
    require_auth: bool = False
    language: str = "en-US"
    access: str | None = None  # open | trunks_only | digest_required; None: see edge.uas.access
    busy_action: str = "reject"  # no worker can serve: 503 + Retry-After, or answer with the busy prompt
    record: bool = False  # record every answered call (edge.uas.recording_policy)
    record_format: str = "wav"
    record_retention_days: int = 0  # 0: kept
    ring_ms: int | None = None  # None: the edge's sip_ring_ms
    hours: tuple[Span, ...] | None = None  # None: always open
    timezone: ZoneInfo = UTC_ZONE
    out_of_hours: str | None = None  # the dialplan id applied outside hours
    transfer_mode: str = "refer"  # refer: REFER the caller (bridge if refused); bridge: the edge bridges
    tenant: str = DEFAULT_TENANT  # whose plan it is (edge.uas.tenants): its calls are that tenant's
    transfer_ring_s: float | None = None  # how long a bridged target may ring; None: the edge's setting

    def matches(self, number: str) -> bool:
        if self.pattern == "*":
            return True
        if self.pattern.endswith("*"):
            return number.startswith(self.pattern[:-1])
        return number == self.pattern

    def sort_key(self) -> tuple[int, int, int, str]:
        exact = 0 if not self.pattern.endswith("*") else 1
        return (self.priority, exact, -len(self.pattern), self.dialplan_id)

    @classmethod
    def from_record(cls, record: object) -> Plan:
        """From a ``schemas.models.Dialplan`` config record."""
        get = record.__getattribute__
        action = get("action")
        if action not in ACTIONS:
            raise ValueError(f"unknown dialplan action {action!r}")
        fmt = getattr(record, "record_format", None) or "wav"
        if fmt not in RECORD_FORMATS:
            raise ValueError(f"unknown dialplan record_format {fmt!r}")
        hours = getattr(record, "hours", None)
        busy = getattr(record, "busy_action", None) or "reject"
        if busy not in BUSY_ACTIONS:
            raise ValueError(f"unknown dialplan busy_action {busy!r}")
        transfer_mode = getattr(record, "transfer_mode", None) or "refer"
        if transfer_mode not in TRANSFER_MODES:
            raise ValueError(f"unknown dialplan transfer_mode {transfer_mode!r}")
        return cls(
            dialplan_id=get("entity_id"),
            pattern=get("pattern"),
            action=action,
            priority=get("priority"),
            target=get("target"),
            prompt_uri=get("prompt_uri"),
            reject_status=get("reject_status"),
            require_auth=get("require_auth"),
            language=get("language"),
            access=getattr(record, "access", None),
            busy_action=busy,
            record=bool(getattr(record, "record", False)),
            record_format=fmt,
            ring_ms=getattr(record, "ring_ms", None),
            hours=parse_hours(hours) if hours else None,
            timezone=zone(getattr(record, "timezone", None) or "UTC"),
            out_of_hours=getattr(record, "out_of_hours", None),
            transfer_mode=transfer_mode,
            transfer_ring_s=_ring_s(getattr(record, "transfer_ring_s", None)),
            record_retention_days=int(getattr(record, "record_retention_days", 0) or 0),
            tenant=getattr(record, "tenant", None) or DEFAULT_TENANT,
        )


MAX_TRANSFER_RING_S = 40.0
"""The dialog waits 45 s (`transfer_timeout_s`) after the edge starts calling a target: a longer ring
would have the agent take the caller back while the target still rings."""


def _ring_s(value: float | None) -> float | None:
    if value is None:
        return None
    if not 0 <= value <= MAX_TRANSFER_RING_S:  # as the admin API checks; a record written around it
        raise ValueError(f"dialplan transfer_ring_s {value!r} out of range 0-{MAX_TRANSFER_RING_S:g}")
    return float(value)


DEFAULT_PLAN = Plan(dialplan_id="default", pattern="*", action="agent", priority=2**31 - 1)
CLOSED_PLAN = Plan(dialplan_id="closed", pattern="*", action="prompt_hangup", priority=2**31 - 1)
"""Outside a plan's hours with no (known) ``out_of_hours`` plan: the default closing prompt, then BYE."""
SAMPLE_PLANS = (
    Plan(dialplan_id="sample-tr", pattern="2000", action="agent", language="tr-TR", tenant=SAMPLE_TENANT),
)
"""The plans of a platform with no dialplan configured: the Turkish sample business on 2000 (tenant
``ornek``); every other number reaches the default plan, the English sample business (tenant
``default``)."""


def resolve(plans: Iterable[Plan], number: str, default: Plan = DEFAULT_PLAN) -> Plan:
    """The plan for ``number``: the best matching configured plan (the sample plans while none is
    configured), else ``default``."""
    configured = list(plans)
    best: Plan | None = None
    for plan in configured or SAMPLE_PLANS:
        if plan.matches(number) and (best is None or plan.sort_key() < best.sort_key()):
            best = plan
    return best or default


def within_hours(plan: Plan, plans: Iterable[Plan], at: datetime) -> Plan:
    """``plan`` during its business hours; outside them its ``out_of_hours`` plan (one hop: that plan's
    own hours are not consulted again), else :data:`CLOSED_PLAN`."""
    if plan.hours is None or is_open(plan.hours, plan.timezone, at):
        return plan
    if plan.out_of_hours is not None:
        for other in plans:
            if other.dialplan_id == plan.out_of_hours:
                return other
    return CLOSED_PLAN
