"""Per-record sync state: the columns users know from Acumatica's Sync Status tab, plus what the sync needs."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sync_core.domain.entities import EntityName

DATA_PROVIDER = "Salesforce"


class SyncStatus(StrEnum):
    MODIFIED_LOCALLY = "Modified Locally"
    MODIFIED_EXTERNALLY = "Modified Externally"
    SYNCHRONIZED = "Synchronized"
    ERROR = "Error"
    SKIPPED = "Skipped"


class SyncOperation(StrEnum):
    INSERT = "Insert"
    UPDATE = "Update"
    DELETE = "Delete"


# Default scenario names per entity; the sync configuration (sync_admin_api) may rename them.
def default_import_scenario(entity: EntityName) -> str:
    return f"Import {entity.value} from Salesforce"


def default_export_scenario(entity: EntityName) -> str:
    return f"Export {entity.value} to Salesforce"


ATTEMPTS_KEPT = 10  # the recent attempts a record's state keeps (its Sync Status history), newest first


class SyncAttempt(BaseModel):
    """One sync attempt of a record, as its Sync Status history shows it."""

    at: datetime
    actor: str = Field(description="Who tried: the import, the export's result, the system")
    event: str = Field(description="What happened: import applied, export succeeded or failed, conflict, skip...")
    status: SyncStatus = Field(description="The record's status after it")
    operation: SyncOperation
    record_version: int | None = None
    message: str | None = Field(default=None, description="The error, the conflict or the skip reason")


class SyncState(BaseModel):
    """Where one hub record stands against Salesforce."""

    model_config = ConfigDict(extra="ignore")

    entity: EntityName
    record_id: str
    data_provider: str = DATA_PROVIDER
    external_ref: str | None = Field(default=None, description="The Salesforce id of the linked record")
    status: SyncStatus
    operation: SyncOperation
    error: str | None = None
    latest_attempt: datetime | None = Field(default=None, description="When a sync last tried this record")
    import_scenario: str
    export_scenario: str
    record_version: int = Field(description="Version of the hub record this state describes")
    synced_hash: str | None = Field(default=None, description="Hash of the mapped values last synced")
    synced_field_hashes: dict[str, str] = Field(
        default_factory=dict, description="Per Salesforce field, a hash of the value last synced (echo detection)"
    )
    synced_version: int | None = Field(default=None, description="The hub record version last synced either way")
    last_salesforce_modstamp: datetime | None = Field(
        default=None, description="The newest Salesforce change the hub has applied or written"
    )
    field_stamps: dict[str, datetime] = Field(
        default_factory=dict, description="Per Salesforce field, the stamp of the change whose value the hub holds"
    )
    skip_reason: str | None = Field(default=None, description="Why a policy skipped the record (status Skipped)")
    updated_at: datetime
    open_errors: list[str] = Field(
        default_factory=list, description="Ids of the record's open error log entries: its next success resolves them"
    )
    deleted_by: str | None = Field(
        default=None,
        description="The actor whose write deleted the record, written in the delete's own transaction (a stream "
        "REMOVE shows only the item before it): a delete the sync applied from Salesforce is never sent back",
    )
    revision: int = Field(
        default=0, ge=0, description="Counts the writes of this state: each is conditional on the one it read"
    )
    recent_attempts: list[SyncAttempt] = Field(
        default_factory=list, description=f"The latest sync attempts, newest first (at most {ATTEMPTS_KEPT})"
    )


def state_after_local_write(
    previous: SyncState | None,
    *,
    entity: EntityName,
    record_id: str,
    operation: SyncOperation,
    record_version: int,
    now: datetime,
) -> SyncState:
    """A user changed the record: it is Modified Locally until a sync says otherwise.

    One row of the transition table (sync_core.domain.sync.transitions), kept here for the APIs' services.
    An insert that was never exported stays an Insert when edited again, so the export still creates it.
    """
    # Imported here: the transition table builds on this module's SyncState.
    from sync_core.domain.sync.transitions import Actor, Happened, SyncEvent, transition

    event = {
        SyncOperation.INSERT: SyncEvent.INSERT,
        SyncOperation.UPDATE: SyncEvent.UPDATE,
        SyncOperation.DELETE: SyncEvent.DELETE,
    }[operation]
    happened = Happened(actor=Actor.USER, event=event, record_version=record_version)
    return transition(previous, happened, entity=entity, record_id=record_id, now=now, entity_exports=True).state


def values_hash(values: dict[str, Any]) -> str:
    """Stable hash of mapped values (echo suppression and change detection): key order does not matter."""
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
