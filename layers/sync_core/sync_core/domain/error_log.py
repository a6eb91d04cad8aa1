"""The error log: one entry per failing (entity, record, direction, operation), counted across attempts."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from sync_core.domain.entities import EntityName
from sync_core.domain.sync_state import SyncOperation

# Resolved entries stay readable for a month, then DynamoDB's TTL removes them.
RESOLVED_RETENTION = timedelta(days=31)


class ErrorDirection(StrEnum):
    TO_SALESFORCE = "to Salesforce"
    FROM_SALESFORCE = "from Salesforce"


class ErrorStatus(StrEnum):
    OPEN = "open"
    RETRYING = "retrying"
    RESOLVED = "resolved"
    DEAD = "dead"


class ErrorEntry(BaseModel):
    id: str = Field(description="entity#record#direction#operation: one entry per failing sync step")
    entity: EntityName
    record_id: str
    direction: ErrorDirection
    operation: SyncOperation
    code: str = Field(description="Salesforce's errorCode or the hub's own code")
    message: str
    attempts: int = Field(ge=1)
    first_seen: datetime
    last_seen: datetime
    payload: dict[str, Any] | None = Field(default=None, description="What was sent or received, for retry")
    status: ErrorStatus = ErrorStatus.OPEN
    expires_at: int | None = Field(default=None, description="Epoch seconds; set when resolved (TTL)")


def error_id(entity: EntityName, record_id: str, direction: ErrorDirection, operation: SyncOperation) -> str:
    return f"{entity.value}#{record_id}#{direction.value}#{operation.value}"


def resolved(entry: ErrorEntry, *, now: datetime) -> ErrorEntry:
    """The entry marked resolved, to expire after the retention period."""
    return entry.model_copy(
        update={
            "status": ErrorStatus.RESOLVED,
            "last_seen": now,
            "expires_at": int((now + RESOLVED_RETENTION).timestamp()),
        }
    )
