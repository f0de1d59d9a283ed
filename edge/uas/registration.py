"""REGISTER (RFC 3261 §10): a registrar with digest authentication, bindings and expiry.

The To URI's user is the account: the authenticated username must match it (403 otherwise), so one
user cannot register another's address of record.
"""

from __future__ import annotations

import structlog

from edge import metrics as m
from edge.sip.message import SipRequest
from edge.uas.base import (
    CoreBase,
    Effect,
    user_of,
)
from edge.uas.call import Peer

log = structlog.get_logger(__name__)


class Registration(CoreBase):
    """REGISTER handling over the registrar bindings."""

    def _register(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        to_uri = req.to_addr.uri
        if self.config.register_auth:
            outcome = self.gate.check(req, now)
            if not outcome.ok:
                if outcome.challenge:
                    if outcome.reason:
                        m.AUTH_FAILURES.labels(outcome.reason).inc()
                    self._respond(req, peer, 401, now, out, headers=list(outcome.challenge))
                else:
                    m.AUTH_FAILURES.labels(outcome.reason or "invalid").inc()
                    self._auth_failed(peer, now)
                    self._respond(req, peer, 403, now, out)
                return
            if outcome.username != user_of(to_uri):
                m.AUTH_FAILURES.labels("user_mismatch").inc()
                self._auth_failed(peer, now)
                self._respond(req, peer, 403, now, out)
                return
        aor = f"sip:{user_of(to_uri)}@{getattr(to_uri, 'host', '')}"
        self.registrar.expire(now)
        result = self.registrar.register(req, aor, now)
        self._respond(req, peer, result.status, now, out, reason=result.reason, headers=list(result.headers))
