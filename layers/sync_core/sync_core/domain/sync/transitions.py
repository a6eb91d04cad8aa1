"""Sync status transitions as an explicit table: who wrote (actor) x what happened (event) -> the new state.

Every write of a hub record, and every sync step, moves its SyncState through `transition`, which reads
one row of TRANSITIONS. docs/sync.md prints the same table (a test keeps the two equal). Two rules the
table encodes and the tests pin down:
- the sync's own writes (import, export results) never queue an export, so nothing ping-pongs;
- an export that succeeds for a version the hub has since changed leaves the record Modified Locally and
  queues another export, so a user's write made while the sync was writing is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from sync_core.domain.entities import EntityName
from sync_core.domain.sync_state import (
    ATTEMPTS_KEPT,
    SyncAttempt,
    SyncOperation,
    SyncState,
    SyncStatus,
    default_export_scenario,
    default_import_scenario,
)


class Actor(StrEnum):
    USER = "user or integration"  # through the records and cases APIs
    SYNC_IMPORT = "sync import"  # the sync applying a Salesforce change
    EXPORT_RESULT = "export result"  # the sync recording what Salesforce answered an export
    SYSTEM = "system"  # the hub itself (a case release creating an invoice, an administrator's resync)


class SyncEvent(StrEnum):
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    IMPORT_APPLYING = "import applying"
    IMPORT_APPLIED = "import applied"
    IMPORT_FAILED = "import failed"
    CONFLICT = "conflict held for a person"
    EXPORT_SUCCEEDED = "export succeeded"
    EXPORT_WAITING = "export waits for a parent"
    EXPORT_FAILED_RETRYABLE = "export failed, retryable"
    EXPORT_FAILED_PERMANENT = "export failed, permanent"
    EXPORT_DEAD = "export dead-lettered"
    POLICY_SKIP = "policy skip"


class OperationRule(StrEnum):
    FROM_WRITE = "from the write"  # Insert / Update / Delete; an update before the first export stays Insert
    FROM_CHANGE = "from the change"  # the Salesforce change's operation
    KEEP = "kept"


class ErrorRule(StrEnum):
    CLEAR = "cleared"
    SET = "set"
    KEEP = "kept"


@dataclass(frozen=True)
class Rule:
    status: SyncStatus | None  # None: the status does not change
    operation: OperationRule
    error: ErrorRule
    queues_export: bool = False  # only when the entity exports
    records_attempt: bool = False  # sets latest_attempt
    links: bool = False  # sets external_ref from the event
    marks_synced: bool = False  # synced hash, version and Salesforce stamp from the event
    when_superseded: SyncStatus | None = None  # the record changed since the exported version


_WRITE = Rule(SyncStatus.MODIFIED_LOCALLY, OperationRule.FROM_WRITE, ErrorRule.CLEAR, queues_export=True)
_SKIP = Rule(SyncStatus.SKIPPED, OperationRule.KEEP, ErrorRule.SET, records_attempt=True)

TRANSITIONS: dict[tuple[Actor, SyncEvent], Rule] = {
    (Actor.USER, SyncEvent.INSERT): _WRITE,
    (Actor.USER, SyncEvent.UPDATE): _WRITE,
    (Actor.USER, SyncEvent.DELETE): _WRITE,
    (Actor.SYSTEM, SyncEvent.INSERT): _WRITE,
    (Actor.SYSTEM, SyncEvent.UPDATE): _WRITE,
    (Actor.SYSTEM, SyncEvent.DELETE): _WRITE,
    (Actor.SYSTEM, SyncEvent.POLICY_SKIP): _SKIP,
    (Actor.SYNC_IMPORT, SyncEvent.IMPORT_APPLYING): Rule(
        SyncStatus.MODIFIED_EXTERNALLY, OperationRule.FROM_CHANGE, ErrorRule.CLEAR, records_attempt=True
    ),
    (Actor.SYNC_IMPORT, SyncEvent.IMPORT_APPLIED): Rule(
        SyncStatus.SYNCHRONIZED,
        OperationRule.FROM_CHANGE,
        ErrorRule.CLEAR,
        records_attempt=True,
        links=True,
        marks_synced=True,
    ),
    (Actor.SYNC_IMPORT, SyncEvent.IMPORT_FAILED): Rule(
        SyncStatus.ERROR, OperationRule.FROM_CHANGE, ErrorRule.SET, records_attempt=True
    ),
    (Actor.SYNC_IMPORT, SyncEvent.CONFLICT): Rule(
        SyncStatus.ERROR, OperationRule.FROM_CHANGE, ErrorRule.SET, records_attempt=True
    ),
    (Actor.SYNC_IMPORT, SyncEvent.POLICY_SKIP): _SKIP,
    (Actor.EXPORT_RESULT, SyncEvent.EXPORT_SUCCEEDED): Rule(
        SyncStatus.SYNCHRONIZED,
        OperationRule.KEEP,
        ErrorRule.CLEAR,
        records_attempt=True,
        links=True,
        marks_synced=True,
        when_superseded=SyncStatus.MODIFIED_LOCALLY,
    ),
    (Actor.EXPORT_RESULT, SyncEvent.EXPORT_WAITING): Rule(
        None, OperationRule.KEEP, ErrorRule.SET, records_attempt=True
    ),
    (Actor.EXPORT_RESULT, SyncEvent.EXPORT_FAILED_RETRYABLE): Rule(
        None, OperationRule.KEEP, ErrorRule.SET, records_attempt=True
    ),
    (Actor.EXPORT_RESULT, SyncEvent.EXPORT_FAILED_PERMANENT): Rule(
        SyncStatus.ERROR, OperationRule.KEEP, ErrorRule.SET, records_attempt=True
    ),
    (Actor.EXPORT_RESULT, SyncEvent.EXPORT_DEAD): Rule(
        SyncStatus.ERROR, OperationRule.KEEP, ErrorRule.SET, records_attempt=True
    ),
    (Actor.EXPORT_RESULT, SyncEvent.POLICY_SKIP): _SKIP,
}

_WRITE_OPERATIONS = {
    SyncEvent.INSERT: SyncOperation.INSERT,
    SyncEvent.UPDATE: SyncOperation.UPDATE,
    SyncEvent.DELETE: SyncOperation.DELETE,
}


class InvalidSyncEventError(ValueError):
    """An actor reporting an event it never reports (a bug in the caller, not bad data)."""


class Happened(BaseModel):
    """What happened to one record, with what the event carries."""

    actor: Actor
    event: SyncEvent
    record_version: int | None = Field(
        default=None, description="The hub version after a write or an import; the version an export sent"
    )
    operation: SyncOperation | None = Field(default=None, description="The Salesforce change's operation (imports)")
    salesforce_id: str | None = None
    message: str | None = Field(default=None, description="The error, the conflict, or the skip reason")
    synced_hash: str | None = None
    synced_field_hashes: dict[str, str] | None = Field(
        default=None, description="Per Salesforce field, the hash of the value synced (ExportValues.field_hashes)"
    )
    salesforce_stamp: datetime | None = None


class Transition(BaseModel):
    state: SyncState
    queue_export: bool
    superseded: bool = Field(default=False, description="An export succeeded for a version since changed")


def rule_for(actor: Actor, event: SyncEvent) -> Rule:
    rule = TRANSITIONS.get((actor, event))
    if rule is None:
        raise InvalidSyncEventError(f"the {actor.value} actor does not report {event.value}")
    return rule


def _operation(rule: Rule, happened: Happened, previous: SyncState | None) -> SyncOperation:
    if rule.operation is OperationRule.FROM_WRITE:
        operation = _WRITE_OPERATIONS[happened.event]
        # A record never exported is still an Insert when edited again, so the export still creates it.
        if (
            operation is SyncOperation.UPDATE
            and previous is not None
            and previous.external_ref is None
            and previous.operation is SyncOperation.INSERT
        ):
            return SyncOperation.INSERT
        return operation
    if rule.operation is OperationRule.FROM_CHANGE:
        if happened.operation is None:
            raise InvalidSyncEventError(f"{happened.event.value} needs the change's operation")
        return happened.operation
    if previous is None:
        raise InvalidSyncEventError(f"{happened.event.value} needs the record's sync state")
    return previous.operation


def transition(
    previous: SyncState | None,
    happened: Happened,
    *,
    entity: EntityName,
    record_id: str,
    now: datetime,
    entity_exports: bool,
) -> Transition:
    """The record's next sync state, and whether an export must be queued (never for the sync's own writes)."""
    rule = rule_for(happened.actor, happened.event)
    superseded = (
        rule.when_superseded is not None
        and previous is not None
        and happened.record_version is not None
        and previous.record_version > happened.record_version
    )
    status = rule.when_superseded if superseded else rule.status
    base = previous.model_dump() if previous is not None else {}
    update: dict[str, object] = {
        "entity": entity,
        "record_id": record_id,
        "status": status or (previous.status if previous is not None else SyncStatus.MODIFIED_LOCALLY),
        "operation": _operation(rule, happened, previous),
        "import_scenario": base.get("import_scenario") or default_import_scenario(entity),
        "export_scenario": base.get("export_scenario") or default_export_scenario(entity),
        "updated_at": now,
    }
    if rule.error is ErrorRule.CLEAR:
        update["error"] = None
        update["skip_reason"] = None
    elif status is SyncStatus.SKIPPED:
        update["skip_reason"] = happened.message
        update["error"] = None
    elif rule.error is ErrorRule.SET:
        update["error"] = happened.message
    if rule.records_attempt:
        update["latest_attempt"] = now
        attempt = SyncAttempt.model_validate(
            {
                "at": now,
                "actor": happened.actor.value,
                "event": happened.event.value,
                "status": update["status"],
                "operation": update["operation"],
                "record_version": happened.record_version,
                "message": happened.message,
            }
        )
        update["recent_attempts"] = [attempt, *base.get("recent_attempts", [])][:ATTEMPTS_KEPT]
    if rule.links and happened.salesforce_id is not None:
        update["external_ref"] = happened.salesforce_id
    # A superseded export keeps the newer record version; any other event describes its own version.
    if happened.record_version is not None and not superseded:
        update["record_version"] = happened.record_version
    elif "record_version" not in base:
        raise InvalidSyncEventError(f"{happened.event.value} of a record with no sync state needs its version")
    if rule.marks_synced:
        update["synced_hash"] = happened.synced_hash
        update["synced_version"] = happened.record_version
        update["synced_field_hashes"] = happened.synced_field_hashes or {}
        if happened.salesforce_stamp is not None:
            update["last_salesforce_modstamp"] = happened.salesforce_stamp
    state = SyncState.model_validate({**base, **update})
    queue = entity_exports and (rule.queues_export or superseded)
    return Transition(state=state, queue_export=queue, superseded=superseded)
