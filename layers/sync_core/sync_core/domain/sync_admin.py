"""Sync administration's vocabulary: the entity table's rows, saved configuration versions, runs, and what a
process or stop did. Plain data; sync_core.services.sync_admin fills it in."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.policy import SyncDirection, SyncMode
from sync_core.domain.sync_config import EntitySyncConfig, ProcessStatus, Schedule
from sync_core.domain.sync_state import SyncStatus

# Counting a status of an entity reads at most this many index keys (one query page of keys only): a count that
# reaches it is reported as "at least" (EntityRow.counts_at_least), so the entity table costs the same whatever
# the number of records.
COUNT_LIMIT = 1000

# Fields of a configuration that its own PUT does not set: the process status (process/stop), the watermark (the
# runs) and the version stamps (the save).
MANAGED_FIELDS = ("status", "watermark", "updated_at", "version", "updated_by")


class EntityProcessStatus(StrEnum):
    """The entity table's Process Status: Active, Stopped, or Error (active, with records in Error)."""

    ACTIVE = "Active"
    STOPPED = "Stopped"
    ERROR = "Error"


class RunOutcome(StrEnum):
    COMPLETE = "complete"
    CATCHING_UP = "catching up"  # it stopped at a limit, a deadline or a refusal: the next tick carries on


class EntityRow(BaseModel):
    """One row of the entity table (GET /sync/entities)."""

    entity: EntityName
    process_status: EntityProcessStatus
    import_scenario: str
    export_scenario: str
    direction: SyncDirection
    mode: SyncMode
    schedule: Schedule | None
    watermark: datetime | None = Field(description="SystemModstamp of the newest change the scheduled sync pulled")
    last_run: datetime | None = Field(description="When the entity's last complete scheduled run finished")
    last_run_outcome: RunOutcome | None = Field(description="Of the latest run; null before the first")
    sync_requested: datetime | None = Field(
        description="A pending sync now or pull request: changes from this moment on are pulled at the next tick"
    )
    counts: dict[SyncStatus, int] = Field(description="Records by sync status (bounded: see counts_at_least)")
    counts_at_least: list[SyncStatus] = Field(
        description=f"Statuses whose count reached the bound ({COUNT_LIMIT}): there are at least that many"
    )
    held_changes: int = Field(description="Changes from Salesforce held while the entity is stopped (bounded too)")
    config_version: int


def process_status(config: EntitySyncConfig, counts: dict[SyncStatus, int]) -> EntityProcessStatus:
    if config.status is ProcessStatus.STOPPED:
        return EntityProcessStatus.STOPPED
    return EntityProcessStatus.ERROR if counts.get(SyncStatus.ERROR, 0) else EntityProcessStatus.ACTIVE


class ConfigVersion(BaseModel):
    """A saved version of an entity's configuration: who saved it, when, and what it was."""

    entity: EntityName
    version: int = Field(ge=1)
    saved_at: datetime
    saved_by: str
    change: str = Field(description='What the save was: "config", "process", "stop"')
    config: EntitySyncConfig


class ProcessResult(BaseModel):
    """What processing (or stopping) an entity did."""

    entity: EntityName
    status: ProcessStatus
    changed: bool = Field(description="False when it already was in that status")
    config_version: int
    changes_released: int = Field(default=0, description="Held changes from Salesforce sent to the sync queue")
    exports_queued: int = Field(default=0, description="Records Modified Locally sent to the export queue")
    still_held: int = Field(default=0, description="Held changes the sync queue refused: held still, try again")
    more_to_do: bool = Field(
        default=False, description="A backlog larger than one call moves, or a queue refused some: process it again"
    )
