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
    last_salesforce_modstamp: datetime | None = None
    updated_at: datetime


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

    An insert that was never exported stays an Insert when edited again, so the export still creates it.
    """
    if previous is not None and operation is SyncOperation.UPDATE and previous.external_ref is None:
        operation = SyncOperation.INSERT if previous.operation is SyncOperation.INSERT else operation
    base = previous.model_dump() if previous is not None else {}
    return SyncState.model_validate(
        {
            **base,
            "entity": entity,
            "record_id": record_id,
            "status": SyncStatus.MODIFIED_LOCALLY,
            "operation": operation,
            "error": None,
            "import_scenario": base.get("import_scenario") or default_import_scenario(entity),
            "export_scenario": base.get("export_scenario") or default_export_scenario(entity),
            "record_version": record_version,
            "updated_at": now,
        }
    )


def values_hash(values: dict[str, Any]) -> str:
    """Stable hash of mapped values (echo suppression and change detection): key order does not matter."""
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
