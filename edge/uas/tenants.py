"""Which tenant a call belongs to, and which of the dialplans are its to choose from. Pure, local.

A tenant is a business the platform serves (the ``Tenant`` config record); ``default`` needs no record
(everything that predates tenants is in it). Entity ids are global across tenants: a record names its
tenant in its ``tenant`` field, and ``dialplan:hours`` cannot exist twice.

An INVITE is routed in this order (:func:`route`):

1. **SIP domain.** The Request-URI host (lower-case, without port) listed in a tenant's ``domains``:
   the call is that tenant's, and only that tenant's dialplans are eligible for the called number
   (none matching: the default agent plan, in the tenant's language). Two tenants listing the same
   domain is a configuration error: the default tenant wins, then the smallest tenant id (warned).
2. **Called number.** No domain matched: the best dialplan for the number among every tenant's
   (:func:`edge.uas.dialplan.resolve`'s order) decides, and the call is its tenant's. Plans of
   different tenants that tie on that order (the same number, as specific, at the same priority) are
   ambiguous: the default tenant's wins, then the smallest tenant id — a warning is logged, once per
   number and choice.
3. Nothing matched: the default tenant, the default agent plan.

The tenant's ``language`` is the call's language when the chosen plan names none (the default agent
plan, or a plan whose ``language`` is empty). A disabled tenant's calls are refused (the SIP core
answers 403, ``CallRejected``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Final

import structlog

from edge.uas.dialplan import DEFAULT_PLAN, SAMPLE_PLANS, Plan
from schemas.envelope import DEFAULT_TENANT
from sentiric.sample_business import SAMPLE_TENANT, sample_tenant

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Tenant:
    """A ``Tenant`` config record as the edge uses it."""

    tenant_id: str
    name: str = ""
    domains: tuple[str, ...] = ()
    language: str = "en"
    enabled: bool = True

    @classmethod
    def from_record(cls, record: object) -> Tenant:
        """From a ``schemas.models.Tenant`` config record."""
        get = record.__getattribute__
        return cls(
            tenant_id=get("entity_id"),
            name=get("name"),
            domains=tuple(sorted({host_of(d) for d in get("domains") if host_of(d)})),
            language=get("language") or "en",
            enabled=bool(get("enabled")),
        )


@dataclass(frozen=True, slots=True)
class Route:
    """Where an INVITE goes: its tenant and the plan for its number."""

    tenant: str
    plan: Plan
    every_plan: tuple[Plan, ...]
    enabled: bool = True

    @property
    def plans(self) -> Iterator[Plan]:
        """The plans the plan's ``out_of_hours`` may name: the tenant's (looked at only off hours)."""
        return (p for p in self.every_plan if p.tenant == self.tenant)


SAMPLE_TENANTS: Final = {SAMPLE_TENANT: Tenant.from_record(sample_tenant())}
"""The sample tenants until the config topic has a record of them (`sentiric.sample_business`)."""


def host_of(value: str) -> str:
    """A Request-URI host (or a configured domain) as compared: lower-case, without port or brackets."""
    host = value.strip().lower()
    if host.startswith("["):  # an IPv6 literal, maybe with a port: [::1]:5060
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _tenant_rank(tenant: str) -> tuple[int, str]:
    """The default tenant before every other, then by id: how ties between tenants are broken."""
    return (0, "") if tenant == DEFAULT_TENANT else (1, tenant)


def tenant_of_domain(tenants: Iterable[Tenant], host: str) -> str | None:
    """The tenant whose ``domains`` list ``host`` (a REGISTER's: its users are that tenant's); None: no
    tenant claims it."""
    return _by_domain(tenants, host_of(host))


def _by_domain(tenants: Iterable[Tenant], host: str) -> str | None:
    claiming = [t.tenant_id for t in tenants if host in t.domains]
    if len(claiming) < 2:
        return claiming[0] if claiming else None
    claiming.sort(key=_tenant_rank)
    log.warning("SIP domain claimed by several tenants", domain=host, tenants=claiming, chose=claiming[0])
    return claiming[0]


_warned: set[tuple[str, str]] = set()  # (number, chosen plan id): each ambiguity logged once


def _order(plan: Plan) -> tuple[int, int, int, tuple[int, str], str]:
    priority, exact, longer, _ = plan.sort_key()
    return (priority, exact, longer, _tenant_rank(plan.tenant), plan.dialplan_id)


def best_plan(plans: Iterable[Plan], number: str, tenant: str | None = None) -> Plan | None:
    """The best plan for ``number`` (no sample plans, no default), among ``tenant``'s when given; ties
    across tenants broken by :func:`_tenant_rank`, and warned about."""
    matching = [p for p in plans if (tenant is None or p.tenant == tenant) and p.matches(number)]
    if not matching:
        return None
    if len(matching) == 1:
        return matching[0]
    best = min(matching, key=_order)
    spec = best.sort_key()[:3]
    rivals = sorted({p.tenant for p in matching if p.sort_key()[:3] == spec} - {best.tenant})
    if rivals and (number, best.dialplan_id) not in _warned:
        _warned.add((number, best.dialplan_id))
        log.warning(
            "several tenants' dialplans match the number equally: the default tenant's (else the "
            "smallest tenant id's) is used",
            number=number, chosen=best.dialplan_id, tenant=best.tenant, other_tenants=rivals,
        )  # fmt: skip
    return best


def route(configured: Iterable[Plan], tenants: Mapping[str, Tenant], host: str, number: str) -> Route:
    """Route an INVITE to ``number`` at Request-URI host ``host`` (module docstring)."""
    plans = tuple(configured) or SAMPLE_PLANS  # the sample business until any dialplan is configured
    tenant_id = _by_domain(tenants.values(), host_of(host)) if host else None
    if tenant_id is not None:
        plan = best_plan(plans, number, tenant_id) or DEFAULT_PLAN
    else:
        found = best_plan(plans, number)
        plan = found or DEFAULT_PLAN
        tenant_id = found.tenant if found is not None else DEFAULT_TENANT
    tenant = tenants.get(tenant_id) or SAMPLE_TENANTS.get(tenant_id)
    if tenant is not None and (plan is DEFAULT_PLAN or not plan.language):
        plan = replace(plan, language=tenant.language)
    return Route(tenant_id, plan, plans, enabled=tenant is None or tenant.enabled)
