"""The edge's registrations with its trunks (``Trunk.outbound_register``), kept in step with the config.

``sync(trunks, now)`` starts a :class:`~edge.uac.registration.TrunkRegistration` for each enabled trunk
that asks for one (at its ``outbound_address``, as ``outbound_username``), replaces one whose settings
changed (unregistering the old binding) and unregisters those no longer configured.  Responses are
matched by Call-ID (each binding has its own), timers by :class:`OutboundDue` keyed ``reg:<trunk id>``.
Outcomes are logged and exported as ``sentiric_sip_trunk_registered{trunk}`` (1 registered, 0 not).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog

from edge import metrics as m
from edge.effects import Send
from edge.sip.message import SipResponse
from edge.uac.credentials import Credentials
from edge.uac.registration import Registered, RegistrationEvent, RegistrationFailed, TrunkRegistration
from edge.uas.access import Trunk
from edge.uas.addresses import LocalAddresses
from edge.uas.call import Effect, Peer
from edge.uas.config import UasConfig
from edge.uas.outbound import OriginateRefused, target_peer
from edge.uas.timers import CoreTimers, OutboundDue

log = structlog.get_logger(__name__)
PREFIX = "reg:"  # OutboundDue keys of registrations: never a platform call id (those are UUIDs)


def _signature(trunk: Trunk) -> tuple[object, ...]:
    return (trunk.outbound_address, trunk.outbound_username, trunk.outbound_password)


@dataclass(slots=True)
class TrunkRegistrations:
    config: UasConfig
    local: LocalAddresses
    timers: CoreTimers
    active: dict[str, tuple[tuple[object, ...], TrunkRegistration]] = field(default_factory=dict)
    by_call_id: dict[str, str] = field(default_factory=dict)  # SIP Call-ID -> trunk id
    leaving: dict[str, TrunkRegistration] = field(default_factory=dict)  # unregistering, by Call-ID

    def sync(self, trunks: Iterable[Trunk], now: float, out: list[Effect]) -> None:
        wanted = {
            t.trunk_id: t
            for t in trunks
            if t.enabled and t.outbound_register and t.outbound_address is not None
        }
        for trunk_id in [
            tid
            for tid, (sig, _) in self.active.items()
            if tid not in wanted or sig != _signature(wanted[tid])
        ]:
            _, old = self.active.pop(trunk_id)
            self.by_call_id.pop(old.call_id, None)
            self.leaving[old.call_id] = old
            out.extend(old.stop(now))
            m.TRUNK_REGISTERED.labels(trunk_id).set(0)
            self._schedule(trunk_id, old)
        for trunk_id, trunk in wanted.items():
            if trunk_id in self.active:
                continue
            assert trunk.outbound_address is not None
            try:
                peer = target_peer(f"sip:{trunk.outbound_address}", tls=self.local.tls_port is not None)
            except OriginateRefused as exc:
                log.warning("trunk registration impossible", trunk=trunk_id, error=str(exc))
                continue
            user = trunk.outbound_username or trunk.outbound_from_user or "sentiric"
            creds = None
            if trunk.outbound_username and trunk.outbound_password is not None:
                creds = Credentials(trunk.outbound_username, trunk.outbound_password)
            host = trunk.outbound_address  # "ip[:port][;transport=tcp|tls]"
            contact = self.local.contact(peer.transport).strip("<>").replace("sip:", f"sip:{user}@", 1)
            reg = TrunkRegistration(
                registrar=f"sip:{host}", aor=f"sip:{user}@{host.partition(';')[0]}", contact=contact,
                via_host=self.local.host, via_port=self.local.port_for(peer.transport), peer=peer,
                credentials=creds, timers=self.config.timers, transport=peer.transport.upper(),
            )  # fmt: skip
            self.active[trunk_id] = (_signature(trunk), reg)
            self.by_call_id[reg.call_id] = trunk_id
            out.extend(reg.start(now))
            self._schedule(trunk_id, reg)

    def stop_all(self, now: float, out: list[Effect]) -> None:
        self.sync((), now, out)

    def claims(self, resp: SipResponse) -> bool:
        return resp.call_id in self.by_call_id or resp.call_id in self.leaving

    def response(self, resp: SipResponse, peer: Peer, now: float, out: list[Effect]) -> None:
        trunk_id = self.by_call_id.get(resp.call_id)
        if trunk_id is not None:
            _, reg = self.active[trunk_id]
            if peer.addr[0] != reg.peer.addr[0]:
                m.DROPPED.labels("foreign_source").inc()
                return
            self._events(trunk_id, reg.receive_response(resp, now), out)
            self._schedule(trunk_id, reg)
            return
        leaving = self.leaving.get(resp.call_id)
        if leaving is not None:
            leaving.receive_response(resp, now)
            if leaving.next_deadline is None:
                self.leaving.pop(resp.call_id, None)

    def on_timer(self, key: str, now: float, out: list[Effect]) -> None:
        trunk_id = key.removeprefix(PREFIX)
        entry = self.active.get(trunk_id)
        if entry is not None:
            self._events(trunk_id, entry[1].on_timer(now), out)
            self._schedule(trunk_id, entry[1])
        for call_id, reg in list(self.leaving.items()):
            out.extend(a for a in reg.on_timer(now) if isinstance(a, Send))
            if reg.next_deadline is None:
                self.leaving.pop(call_id, None)
            else:
                self.timers.schedule(OutboundDue(f"{PREFIX}{trunk_id}"), reg.next_deadline)

    def _events(self, trunk_id: str, events: list[Send | RegistrationEvent], out: list[Effect]) -> None:
        for e in events:
            if isinstance(e, Send):
                out.append(e)
            elif isinstance(e, Registered):
                m.TRUNK_REGISTERED.labels(trunk_id).set(1)
                log.info("registered with trunk", trunk=trunk_id, expires=e.expires)
            elif isinstance(e, RegistrationFailed):
                m.TRUNK_REGISTERED.labels(trunk_id).set(0)
                log.warning("trunk registration failed", trunk=trunk_id, status=e.status, reason=e.reason)

    def _schedule(self, trunk_id: str, reg: TrunkRegistration) -> None:
        key = OutboundDue(f"{PREFIX}{trunk_id}")
        deadlines = [
            d for d in (reg.next_deadline, *(r.next_deadline for r in self.leaving.values())) if d is not None
        ]
        if deadlines:
            self.timers.schedule(key, min(deadlines))
        else:
            self.timers.cancel(key)
