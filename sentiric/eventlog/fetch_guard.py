"""A worker hands its agents every record it fetches: no fetch drains partitions Faust did not ask for.

A successor worker sometimes never resumed a killed worker's call (issue 11): it recovered the dialog
table, reported ready, and then handled nothing, ever. Its consumer had fetched the call's records and
dropped them. Two faults of faust-streaming 0.15 / aiokafka 0.14 add up to that:

1. Faust's fetcher passes its *live* set of active partitions to the consumer thread, which hands it
   to aiokafka's ``fetched_records``. Faust only asks while the set is non-empty, but the set is
   changed on the event loop while the call is queued or waiting: at the end of a table recovery
   Faust removes the changelogs from it, and the stream partitions are added back only a moment
   later. A call that runs in between sees an *empty* set, and aiokafka reads an empty set as "all
   partitions": it drains the call topic's records (their position moves past them) and Faust
   throws them away, because they are not in its active set.
2. Faust's healing seek after recovery ("Seek stream partitions to committed offsets") uses aiokafka's
   ``seek_to_committed``, which seeks only offsets above 0. A group whose committed offset is 0 —
   the offset ``streams.offsets`` seeds for a fresh group on a fresh topic, still there when the first
   worker dies before its first commit (a second) — is not rewound, so the drained records are gone.
   With a later committed offset the seek rewinds and the records come again, about 1.5 s late.

:class:`GuardedConsumerThread` fixes both where they happen: the fetch uses a snapshot of the set taken
when Faust asked (never an empty one: nothing is fetched then), and the seek to committed offsets also
seeks partitions whose committed offset is 0. :func:`install` makes an app's consumer use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP


class GuardedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, fetching only what was asked and seeking to committed 0 too."""

    async def getmany(self, active_partitions: Set[TP] | None, timeout: float) -> Any:  # noqa: ASYNC109 - Faust's signature
        # The snapshot is taken on the event loop, where Faust checked the set is not empty.
        asked = None if active_partitions is None else frozenset(active_partitions)
        return await super().getmany(asked, timeout)  # type: ignore[arg-type]  # faust annotates Set, reads it only

    async def _fetch_records(
        self,
        consumer: AIOKafkaConsumer,
        active_partitions: Set[TP],
        timeout: float | None = None,  # noqa: ASYNC109 - Faust's signature
        max_records: int | None = None,
    ) -> Any:
        if active_partitions is not None and not active_partitions:
            return {}  # aiokafka would read "no partitions" as "every partition"
        fetch = super()._fetch_records
        return await fetch(consumer, active_partitions, timeout=timeout, max_records=max_records)  # type: ignore[arg-type]  # as above

    async def seek_to_committed(self) -> Mapping[TP, int]:
        return await self.call_thread(self._seek_to_committed)  # type: ignore[no-any-return]  # mode's call_thread returns Any

    async def _seek_to_committed(self) -> Mapping[TP, int]:
        consumer = self._ensure_consumer()
        committed: Mapping[TP, int] = await consumer.seek_to_committed()
        for tp, offset in committed.items():
            if offset == 0:  # aiokafka's seek_to_committed skips it: "0" would look like "none"
                consumer.seek(tp, 0)
        return committed


class GuardedConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return GuardedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class GuardedTransport(faust_aiokafka.Transport):
    Consumer = GuardedConsumer


def install(app: faust.App) -> None:
    """Make ``app`` consume through :class:`GuardedConsumerThread` (before its consumer exists)."""
    app.transport = GuardedTransport(app.conf.broker_consumer, app)
