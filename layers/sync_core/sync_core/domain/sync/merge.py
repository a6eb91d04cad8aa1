"""Stamp-based import merge: a Salesforce change applies only what is newer than what the hub applied.

Per Salesforce field the sync state keeps the stamp of the change whose value the hub holds. A field
changes only when the incoming stamp is newer, so a duplicate changes nothing and a reordered older event
never rolls back a field a later event set, whatever order deliveries come in. Deletes and undeletes carry
a stamp for the record as a whole and follow the entity's delete policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeOperation
from sync_core.domain.sync.policy import DeletePolicy

# Lifecycle stamps, kept beside the field stamps: the record's last delete (present while it is deleted)
# and its last undelete.
DELETED_STAMP = "(deleted)"
RESTORED_STAMP = "(restored)"
LIFECYCLE_STAMPS = (DELETED_STAMP, RESTORED_STAMP)


class MergeAction(StrEnum):
    APPLY = "apply fields"
    NOTHING = "nothing"  # a duplicate, or older than what the hub holds
    DELETE_IN_HUB = "delete in hub"
    UNLINK = "unlink"
    RESTORE = "restore"  # an undelete: recreate or relink, then apply its fields


class MergeResult(BaseModel):
    action: MergeAction
    values: dict[str, Any] = Field(default_factory=dict, description="Salesforce field -> value to apply now")
    field_stamps: dict[str, datetime] = Field(description="The stamps to keep after this change")
    stale_fields: list[str] = Field(default_factory=list, description="Fields a later change already set")
    duplicate: bool = Field(default=False, description="Every field's stamp equals the one applied: a redelivery")


def _newest(stamps: Mapping[str, datetime]) -> datetime | None:
    return max(stamps.values(), default=None)


def _merge_fields(change: Change, stamps: dict[str, datetime]) -> tuple[dict[str, Any], list[str], bool]:
    accepted: dict[str, Any] = {}
    stale: list[str] = []
    same = 0
    for field in change.changed_fields:
        incoming = change.stamp_of(field)
        held = stamps.get(field)
        if held is None or incoming > held:
            accepted[field] = change.value_of(field)
            stamps[field] = incoming
        else:
            stale.append(field)
            same += incoming == held
    duplicate = bool(change.changed_fields) and same == len(change.changed_fields)
    return accepted, stale, duplicate


def merge_inbound(change: Change, field_stamps: Mapping[str, datetime], *, delete_policy: DeletePolicy) -> MergeResult:
    """What of `change` applies, given the stamps of what the hub already holds."""
    if change.direction is not ChangeDirection.FROM_SALESFORCE:
        raise ValueError("only a change from Salesforce merges by stamps (exports send the current state)")
    stamps = dict(field_stamps)
    deleted_at = stamps.get(DELETED_STAMP)
    if change.operation is ChangeOperation.UPSERT:
        if deleted_at is not None and change.stamp <= deleted_at:
            # An edit made before the delete the hub already applied: it must not bring the record back.
            return MergeResult(action=MergeAction.NOTHING, field_stamps=stamps, stale_fields=change.changed_fields)
        accepted, stale, duplicate = _merge_fields(change, stamps)
        if deleted_at is not None:
            # Salesforce edits only live records: an edit after the delete means an undelete not seen yet.
            del stamps[DELETED_STAMP]
            stamps[RESTORED_STAMP] = change.stamp
            return _restore(accepted, stamps, stale, delete_policy)
        action = MergeAction.APPLY if accepted else MergeAction.NOTHING
        return MergeResult(action=action, values=accepted, field_stamps=stamps, stale_fields=stale, duplicate=duplicate)
    newest = _newest(stamps)
    if newest is not None and change.stamp <= newest:
        # Older than (or the same as) something already applied: a redelivery, or overtaken.
        duplicate = change.stamp in (stamps.get(DELETED_STAMP), stamps.get(RESTORED_STAMP))
        return MergeResult(action=MergeAction.NOTHING, field_stamps=stamps, duplicate=duplicate)
    if change.operation is ChangeOperation.DELETE:
        stamps[DELETED_STAMP] = change.stamp
        action = {
            DeletePolicy.DELETE_IN_HUB: MergeAction.DELETE_IN_HUB,
            DeletePolicy.UNLINK: MergeAction.UNLINK,
            DeletePolicy.IGNORE: MergeAction.NOTHING,
        }[delete_policy]
        return MergeResult(action=action, field_stamps=stamps)
    stamps.pop(DELETED_STAMP, None)
    stamps[RESTORED_STAMP] = change.stamp
    accepted, stale, _ = _merge_fields(change, stamps)
    return _restore(accepted, stamps, stale, delete_policy)


def _restore(
    accepted: dict[str, Any], stamps: dict[str, datetime], stale: list[str], delete_policy: DeletePolicy
) -> MergeResult:
    action = MergeAction.APPLY if delete_policy is DeletePolicy.IGNORE else MergeAction.RESTORE
    if action is MergeAction.APPLY and not accepted:
        action = MergeAction.NOTHING
    return MergeResult(action=action, values=accepted, field_stamps=stamps, stale_fields=stale)


def is_deleted(field_stamps: Mapping[str, datetime]) -> bool:
    """Whether the newest lifecycle change the hub applied was a delete."""
    return DELETED_STAMP in field_stamps
