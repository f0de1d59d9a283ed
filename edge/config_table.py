"""The edge's local copy of dialplans, SIP users and API tokens, materialized from the compacted config
topic.

``sentiric.config`` holds one record per entity under the key ``<kind>:<entity_id>``
(``dialplan:<id>``, ``sipuser:<id>``, ``apitoken:<id>``); a tombstone (null value) deletes the entity.
At start the follower reads the topic from the beginning up to its current end before the edge takes
calls, then keeps applying changes in the background.  Lookups (:meth:`ConfigTable.dialplans`,
:meth:`ConfigTable.user`, :meth:`ConfigTable.api_token`) are plain dictionary reads: call setup and the
token checks of ``/ws`` and gRPC never wait on the broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog

from edge.uas.dialplan import Plan
from edge.uas.directory import UserCredentials
from schemas.codec import CodecError, default_codec
from sentiric.eventlog import topics
from sentiric.eventlog.follower import TopicFollower

log = structlog.get_logger(__name__)


class ConfigTable:
    """Dialplans and users by entity id (implements :class:`edge.uas.directory.Directory`)."""

    def __init__(self) -> None:
        self._plans: dict[str, Plan] = {}
        self._plan_list: tuple[Plan, ...] = ()
        self._users: dict[str, UserCredentials] = {}
        self._by_name: dict[tuple[str, str], UserCredentials] = {}
        self._tokens: dict[str, Any] = {}  # ApiToken records by token id (sentiric.auth checks them)

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
        elif kind == "sipuser":
            old = self._users.pop(entity_id, None)
            if old is not None:
                self._by_name.pop((old.username, old.realm), None)
            if record is not None:
                user = UserCredentials(
                    record.username, record.realm, record.ha1_md5, record.ha1_sha256, record.enabled
                )
                self._users[entity_id] = user
                self._by_name[(user.username, user.realm)] = user
        elif kind == "apitoken":
            if record is None:
                self._tokens.pop(entity_id, None)
            else:
                self._tokens[entity_id] = record

    def dialplans(self) -> Iterable[Plan]:
        return self._plan_list

    def user(self, username: str, realm: str) -> UserCredentials | None:
        return self._by_name.get((username, realm))

    def api_token(self, token_id: str) -> Any | None:
        return self._tokens.get(token_id)

    def __len__(self) -> int:
        return len(self._plans) + len(self._users)


class ConfigFollower:
    """Loads ``sentiric.config`` into a :class:`ConfigTable`, then follows it."""

    def __init__(self, table: ConfigTable, *, topic: str = topics.CONFIG, **client: Any) -> None:
        self.table = table
        self.topic = topic
        self._codec = default_codec()
        self._follower = TopicFollower(
            topic, self._apply, name="edge-config-follower", from_beginning=True, **client
        )

    def _apply(self, msg: Any) -> None:
        if msg.key is None:
            return
        key = msg.key.decode("utf-8", "replace")
        if msg.value is None:
            self.table.apply(key, None)
            return
        try:
            record = self._codec.decode(msg.value)
        except CodecError as exc:
            log.warning("undecodable config record skipped", key=key, offset=msg.offset, error=str(exc))
            return
        self.table.apply(key, record)

    async def start(self) -> None:
        """Read the topic from the beginning to its current end, then follow in the background."""
        await self._follower.start()
        log.info("config loaded", entries=len(self.table))

    async def stop(self) -> None:
        await self._follower.stop()
