"""The transactional outbox: which hub writes, seen on the records table's stream, ask for an export.

Every write of a hub record lands on the stream with the writer's actor (`written_by`, an Actor value). A
write by a user, an integration or the system asks for the record to be exported; the sync's own writes
(applying a Salesforce change, recording an export's result) never do, so nothing ping-pongs. The export
itself sends the record's current state, so one request per record and batch is enough. A delete's stream record
shows the item before the delete, whose writer is not the deleter: record_stream queues every delete, and the export
reads who deleted from the record's sync state (deleted_by).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from sync_core.domain.entities import EntityName
from sync_core.domain.records import SYNC_ACTOR_PREFIX
from sync_core.domain.sync.changes import Change, ChangeOperation, ChangeSource, export_change
from sync_core.domain.sync.transitions import Actor

# The actors whose writes are the sync's own: never exported back.
SYNC_WRITERS = frozenset({Actor.SYNC_IMPORT.value, Actor.EXPORT_RESULT.value})


class CommittedWrite(BaseModel):
    """One committed write of a hub record (a stream record), with what the outbox needs of it."""

    write_id: str = Field(description="The stream record's sequence number: what a failure is reported by")
    entity: EntityName
    record_id: str
    version: int = Field(ge=1, description="The record's version after the write (before it, for a delete)")
    written_by: str | None = Field(default=None, description="The writer's Actor value; absent on older items")
    updated_by: str | None = None
    removed: bool = False
    stamp: datetime


def is_sync_write(write: CommittedWrite) -> bool:
    """The sync's own write: an import or an export result (older items say so with a sync: user)."""
    if write.written_by is not None:
        return write.written_by in SYNC_WRITERS
    return bool(write.updated_by and write.updated_by.startswith(SYNC_ACTOR_PREFIX))


def export_request(write: CommittedWrite) -> Change:
    """The export change a write asks for: the record at (at least) this version, or its delete."""
    change = export_change(write.entity, write.record_id, write.version, source=ChangeSource.STREAM, stamp=write.stamp)
    if write.removed:
        return change.model_copy(update={"operation": ChangeOperation.DELETE})
    return change


def latest_per_record(writes: list[CommittedWrite]) -> dict[tuple[EntityName, str], list[CommittedWrite]]:
    """The batch's writes grouped by record, in stream order (the last is the newest)."""
    grouped: dict[tuple[EntityName, str], list[CommittedWrite]] = {}
    for write in writes:
        grouped.setdefault((write.entity, write.record_id), []).append(write)
    return grouped
