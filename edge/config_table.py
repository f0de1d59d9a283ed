"""The edge's local copy of dialplans, SIP users and API tokens, materialized from the compacted config
topic.

``sentiric.config`` holds one record per entity under the key ``<kind>:<entity_id>`` (``dialplan:<id>``,
``sipuser:<id>``, ``trunk:<id>``, ``apitoken:<id>``, ``prompt:<id>``, ``contact:<id>``: who callers are,
``edge.uas.callerid``; ``tenant:<id>``: whose calls, ``edge.uas.tenants``); a tombstone (null value) deletes
the entity. At start the follower reads the topic from the beginning up to its current end before the edge
takes calls, then keeps applying changes in the background. A record that does not decode or fails to apply is
set aside (logged with its offset, counted, dead-lettered) and the entity keeps its previous value; the
follower's read loop restarts itself after a broker error (`sentiric.eventlog.follower`). The table is an
index fed by the one config view every process reads (`sentiric.eventlog.config_view`): same topic, same
follower, its own lookups (:meth:`ConfigTable.dialplans`, :meth:`ConfigTable.user`,
:meth:`ConfigTable.trunk_for`, :meth:`ConfigTable.api_token`), which are plain dictionary reads: call setup
and the token checks of ``/ws`` and gRPC never wait on the broker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from edge.uas.access import Trunk, TrunkSet
from edge.uas.callerid import Caller, CallerBook
from edge.uas.dialplan import Plan
from edge.uas.directory import UserCredentials
from edge.uas.tenants import Tenant
from schemas.envelope import DEFAULT_TENANT
from sentiric.eventlog import topics
from sentiric.eventlog.config_view import ConfigView
from sentiric.eventlog.consumer import DeadLetters, RawPublisher

log = structlog.get_logger(__name__)


class ConfigTable:
    """Dialplans and users by entity id (implements :class:`edge.uas.directory.Directory`)."""

    def __init__(self) -> None:
        self._plans: dict[str, Plan] = {}
        self._plan_list: tuple[Plan, ...] = ()
        self._users: dict[str, UserCredentials] = {}
        self._by_name: dict[tuple[str, str], UserCredentials] = {}
        self._trunks: dict[str, Trunk] = {}
        self._trunk_set = TrunkSet()
        self._tokens: dict[str, Any] = {}  # ApiToken records by token id (sentiric.auth checks them)
        self._prompts: dict[str, Any] = {}  # Prompt records by id (dialplan prompt_hangup says them)
        self._callers = CallerBook()  # contacts and SIP users' names by caller id
        self._tenants: dict[str, Tenant] = {}  # Tenant records by tenant id

    def apply(self, key: str, record: Any | None) -> None:
        """Apply one config record (None = tombstone) under its topic key."""
        kind, _, entity_id = key.partition(":")
        if kind == "dialplan":
            if record is None:
                self._plans.pop(entity_id, None)
            else:
                try:
                    self._plans[entity_id] = Plan.from_record(record)
                except ValueError as exc:
                    log.warning("dialplan ignored", entity_id=entity_id, error=str(exc))
                    return
            self._plan_list = tuple(self._plans.values())
        elif kind == "contact":
            self._callers.apply(kind, entity_id, record)
        elif kind == "sipuser":
            self._callers.apply(kind, entity_id, record)
            old = self._users.pop(entity_id, None)
            if old is not None:
                self._by_name.pop((old.username, old.realm), None)
            if record is not None:
                user = UserCredentials(
                    record.username,
                    record.realm,
                    record.ha1_md5,
                    record.ha1_sha256,
                    record.enabled,
                    getattr(record, "tenant", None) or DEFAULT_TENANT,
                )
                self._users[entity_id] = user
                self._by_name[(user.username, user.realm)] = user
        elif kind == "trunk":
            self._trunks.pop(entity_id, None)
            if record is not None:
                try:
                    self._trunks[entity_id] = Trunk.from_record(record)
                except ValueError as exc:  # a bad CIDR: the trunk stays out, its sources untrusted
                    log.warning("trunk ignored", entity_id=entity_id, error=str(exc))
            self._trunk_set = TrunkSet(self._trunks.values())
        elif kind == "apitoken":
            if record is None:
                self._tokens.pop(entity_id, None)
            else:
                self._tokens[entity_id] = record
        elif kind == "prompt":
            if record is None:
                self._prompts.pop(entity_id, None)
            else:
                self._prompts[entity_id] = record
        elif kind == "tenant":
            if record is None:
                self._tenants.pop(entity_id, None)
            else:
                self._tenants[entity_id] = Tenant.from_record(record)

    def dialplans(self) -> Iterable[Plan]:
        return self._plan_list

    def user(self, username: str, realm: str) -> UserCredentials | None:
        return self._by_name.get((username, realm))

    def trunk_for(self, ip: str) -> Trunk | None:
        return self._trunk_set.match(ip)

    def trunk(self, trunk_id: str) -> Trunk | None:
        return self._trunks.get(trunk_id)

    def all_trunks(self) -> Iterable[Trunk]:
        return tuple(self._trunks.values())

    def api_token(self, token_id: str) -> Any | None:
        return self._tokens.get(token_id)

    def plan(self, dialplan_id: str) -> Plan | None:
        return self._plans.get(dialplan_id)

    def prompt(self, prompt_id: str) -> Any | None:
        return self._prompts.get(prompt_id)

    def caller(self, caller_id: str, tenant: str | None = None) -> Caller | None:
        return self._callers.lookup(caller_id, tenant)

    def tenants(self) -> Mapping[str, Tenant]:
        return self._tenants

    def __len__(self) -> int:
        return (
            len(self._plans)
            + len(self._users)
            + len(self._trunks)
            + len(self._tokens)
            + len(self._prompts)
            + len(self._callers)
            + len(self._tenants)
        )


class ConfigFollower:
    """Loads ``sentiric.config`` into a :class:`ConfigTable`, then follows it: the table is an index
    over the one :class:`~sentiric.eventlog.config_view.ConfigView` type every process reads."""

    def __init__(
        self,
        table: ConfigTable,
        *,
        topic: str = topics.CONFIG,
        dead_letters: RawPublisher | None = None,
        **client: Any,
    ) -> None:
        self.table = table
        self.topic = topic
        self.view = ConfigView(name="edge-config-follower")
        self.view.subscribe(table.apply)  # raising in apply sets the record aside (the follower)
        self.dead_letters = DeadLetters(dead_letters, self.view.name)
        self._client = client

    @property
    def restarts(self) -> int:
        return self.view.restarts

    async def start(self) -> None:
        """Read the topic from the beginning to its current end, then follow in the background."""
        await self.view.start(self.topic, dead_letters=self.dead_letters, **self._client)
        log.info("config loaded", entries=len(self.table))

    async def stop(self) -> None:
        await self.view.stop()
