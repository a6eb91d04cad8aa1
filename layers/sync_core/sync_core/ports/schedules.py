"""Scheduled-sync ports: what the scheduler remembers per entity (with the lease that keeps two runs apart), and
the hub records a scheduled run pushes.

Keys in the sync state table (DynamoDB adapter: sync_core.adapters.dynamodb.schedules):
    SCHEDULE / <entity>     the entity's watermark, last run, whether it is catching up, and its lease
                            (lease_owner, lease_until), taken by a conditional write
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.schedule import EntityRun
from sync_core.domain.sync_state import SyncState


class ScheduleLedger(Protocol):
    def runs(self) -> dict[EntityName, EntityRun]:
        """What is remembered of every entity that ran before."""
        ...

    def acquire(self, entity: EntityName, *, owner: str, now: datetime, until: datetime) -> EntityRun | None:
        """Take the entity's lease until `until` (one conditional write) and return what is remembered of it; None
        when another run holds an unexpired lease (this run then leaves the entity alone)."""
        ...

    def finish(
        self,
        entity: EntityName,
        *,
        owner: str,
        watermark: datetime | None,
        last_run: datetime | None,
        catching_up: bool,
    ) -> bool:
        """Record the run (a None watermark or last run leaves the one held) and give the lease back; False when
        the lease was lost meanwhile (expired and taken): nothing is recorded, the next run repeats the work."""
        ...


class PendingExports(Protocol):
    def candidates(
        self, entity: EntityName, *, modified_before: datetime, error_before: datetime, limit: int
    ) -> list[SyncState]:
        """States of the entity's records that are Modified Locally since before `modified_before`, or in Error since
        before `error_before` (at most `limit`, oldest first); the service picks those due (domain.sync.schedule)."""
        ...
