"""REGISTER (RFC 3261 §10): a registrar with digest authentication, bindings and expiry.

The To URI's user is the account: the authenticated username must match it (403 otherwise), so one
user cannot register another's address of record. A To URI host that a tenant lists in its ``domains``
(``edge.uas.tenants``) admits only that tenant's SIP users.
"""

from __future__ import annotations

from edge import metrics as m
from edge.sip.message import SipRequest
from edge.sip.registrar import Registrar
from edge.uas.addresses import user_of
from edge.uas.call import Effect, Peer
from edge.uas.directory import DigestGate, count_auth_failure
from edge.uas.ratelimit import SourceGuard
from edge.uas.tenants import tenant_of_domain
from edge.uas.transactions import Transactions


class Registration:
    """REGISTER handling over the registrar bindings."""

    def __init__(
        self,
        *,
        registrar: Registrar,
        txns: Transactions,
        gate: DigestGate,
        guard: SourceGuard,
        require_auth: bool,
    ) -> None:
        self.registrar = registrar
        self.txns = txns
        self.gate = gate
        self.guard = guard
        self.require_auth = require_auth

    def register(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        to_uri = req.to_addr.uri
        if self.require_auth:
            host = getattr(to_uri, "host", "") or ""
            outcome = self.gate.check(
                req, now, tenant_of_domain(self.gate.directory.tenants().values(), host)
            )
            if not outcome.ok:
                if outcome.challenge:
                    if outcome.reason:
                        m.AUTH_FAILURES.labels(outcome.reason).inc()
                    self.txns.respond(req, peer, 401, now, out, headers=list(outcome.challenge))
                else:
                    m.AUTH_FAILURES.labels(outcome.reason or "invalid").inc()
                    count_auth_failure(self.guard, peer.addr[0], now)
                    self.txns.respond(req, peer, 403, now, out)
                return
            if outcome.username != user_of(to_uri):
                m.AUTH_FAILURES.labels("user_mismatch").inc()
                count_auth_failure(self.guard, peer.addr[0], now)
                self.txns.respond(req, peer, 403, now, out)
                return
        aor = f"sip:{user_of(to_uri)}@{getattr(to_uri, 'host', '')}"
        self.registrar.expire(now)
        result = self.registrar.register(req, aor, now)
        self.txns.respond(
            req, peer, result.status, now, out, reason=result.reason, headers=list(result.headers)
        )
