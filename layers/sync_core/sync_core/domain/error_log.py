"""The error log: one entry per failing (entity, record, direction, operation), counted across attempts."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
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
    note: str | None = Field(default=None, description="What the person who resolved or retried it said")
    handled_by: str | None = Field(default=None, description="Who last retried or resolved it by hand")


class ErrorFilter(BaseModel):
    """What GET /sync/errors narrows the log to; entries come newest first (by last_seen)."""

    status: ErrorStatus = ErrorStatus.OPEN
    entity: EntityName | None = None
    direction: ErrorDirection | None = None
    code: str | None = None
    since: datetime | None = Field(default=None, description="last_seen at or after")
    until: datetime | None = Field(default=None, description="last_seen at or before")


def error_ref(entry_id: str) -> str:
    """The entry's id as one URL path segment (its id holds '#' and spaces): base64url, unpadded."""
    return base64.urlsafe_b64encode(entry_id.encode()).decode().rstrip("=")


def error_id_of_ref(ref: str) -> str | None:
    """The entry id a ref stands for, or None for a ref that is none of ours."""
    try:
        text = base64.urlsafe_b64decode(ref + "=" * (-len(ref) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return text if text.count("#") >= 3 else None


def error_id(entity: EntityName, record_id: str, direction: ErrorDirection, operation: SyncOperation) -> str:
    return f"{entity.value}#{record_id}#{direction.value}#{operation.value}"


def remembering(open_errors: Iterable[str], entry_id: str) -> list[str]:
    """A record's open error-log ids with `entry_id` among them (once, in a stable order)."""
    return sorted({*open_errors, entry_id})


def import_side(entry_ids: list[str]) -> list[str]:
    """The ids among `entry_ids` of entries a change from Salesforce opened (by error_id's shape). An export's
    success settles only the export's own entries (and a workflow conflict, which it resolves but may leave
    listed), so the record's state keeps remembering these: the import that later succeeds resolves them."""
    marker = f"#{ErrorDirection.FROM_SALESFORCE.value}#"
    return sorted(entry_id for entry_id in entry_ids if marker in entry_id)


def resolved(entry: ErrorEntry, *, now: datetime, note: str | None = None, by: str | None = None) -> ErrorEntry:
    """The entry marked resolved, to expire after the retention period (by a person: with who and a note)."""
    update: dict[str, object] = {
        "status": ErrorStatus.RESOLVED,
        "last_seen": now,
        "expires_at": int((now + RESOLVED_RETENTION).timestamp()),
    }
    if by is not None:
        update |= {"handled_by": by, "note": note}
    return entry.model_copy(update=update)
