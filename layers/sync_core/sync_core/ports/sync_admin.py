"""Sync administration's ports: versioned configuration, the sync-status index, held changes, the scheduled
sync's runs and requests, dead-letter queues.

Keys (DynamoDB adapters: sync_core.adapters.dynamodb.config and .sync_admin):
    sync config table  ENTITY / <entity>                       the configuration in force (its `version`)
                       CONFIG_VERSION / <entity>#<version>      every saved version, with who and when
    sync state table   HELD#<entity> / <stamp>#<change>         a change from Salesforce held while stopped
                       SCHEDULE / <entity>, PULL_REQUEST / <entity>  the scheduled sync's (ports.schedules, .pulls)
                       index by_status: <entity>#<sync status>  the records in a sync status (keys only)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sync_core.domain.entities import EntityName
from sync_core.domain.records import Page
from sync_core.domain.sync.changes import Change
from sync_core.domain.sync.schedule import EntityRun
from sync_core.domain.sync_admin import ConfigVersion
from sync_core.domain.sync_config import EntitySyncConfig
from sync_core.domain.sync_state import SyncStatus
from sync_core.ports.pulls import PullRequest


class VersionedSyncConfigs(Protocol):
    def get(self, entity: EntityName) -> EntitySyncConfig: ...

    def list(self) -> list[EntitySyncConfig]: ...

    def save(
        self, config: EntitySyncConfig, *, expected_version: int, change: str, actor: str, now: datetime
    ) -> EntitySyncConfig:
        """Store `config` as the next version (with who, when and what kind of change), on condition that the
        one in force is still `expected_version`; StaleVersionError (expected, current) otherwise."""
        ...

    def versions(self, entity: EntityName, *, limit: int, cursor: str | None) -> Page[ConfigVersion]:
        """Saved versions, newest first."""
        ...


class SyncStatusIndex(Protocol):
    def count(self, entity: EntityName, status: SyncStatus, *, limit: int) -> int:
        """How many records of the entity are in `status`, counting at most `limit`."""
        ...

    def record_ids(
        self, entity: EntityName, status: SyncStatus, *, limit: int, cursor: str | None
    ) -> tuple[list[str], str | None]:
        """A page of the ids of the entity's records in `status`, and the cursor of the next page."""
        ...


class HeldChanges(Protocol):
    """Changes from Salesforce held while their entity is stopped, in the order they arrived."""

    def hold(self, changes: Sequence[Change], *, reason: str, now: datetime) -> None: ...

    def held(self, entity: EntityName, *, limit: int) -> list[Change]:
        """The oldest held changes of the entity (still held until released)."""
        ...

    def count_held(self, entity: EntityName, *, limit: int) -> int: ...

    def release(self, changes: Sequence[Change]) -> None:
        """Forget these held changes (they are on the sync queue now)."""
        ...


class ScheduledRuns(Protocol):
    """What the scheduled sync remembers of each entity (sync_core.ports.schedules.ScheduleLedger reads it)."""

    def runs(self) -> dict[EntityName, EntityRun]: ...


class SyncRequests(Protocol):
    """Pull requests (sync_core.ports.pulls.PullRequests): "sync this entity at the next tick"."""

    def request(self, entity: EntityName, *, reason: str, at: datetime) -> None: ...

    def pending(self) -> list[PullRequest]: ...


@dataclass(frozen=True)
class DeadLetter:
    """A message received from a dead-letter queue (invisible to others until deleted or released)."""

    message_id: str
    body: str
    receipt: str


class DeadLetterQueue(Protocol):
    def receive(self, *, limit: int) -> list[DeadLetter]:
        """Up to `limit` (at most 10) messages, kept invisible for a while; [] when none is left to see."""
        ...

    def delete(self, letters: Sequence[DeadLetter]) -> None: ...

    def release(self, letters: Sequence[DeadLetter]) -> None:
        """Make them visible again at once (left in the dead-letter queue)."""
        ...
