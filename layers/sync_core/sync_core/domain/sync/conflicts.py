"""Conflicts: a record changed in the hub and in Salesforce since the last sync, resolved by the entity's policy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from sync_core.domain.sync.policy import ConflictPolicy
from sync_core.domain.sync_state import SyncState, SyncStatus


def is_conflict(state: SyncState | None, *, record_version: int, salesforce_stamp: datetime) -> bool:
    """Both sides changed since the last sync: the hub record is past the synced version AND the Salesforce
    change is newer than the last one the hub applied (or wrote)."""
    if state is None:
        return False  # a record the hub never had cannot have changed here
    if state.synced_version is None:
        # Never synced: the hub changed it if a local write is waiting to go out.
        hub_changed = state.status is SyncStatus.MODIFIED_LOCALLY
    else:
        hub_changed = record_version > state.synced_version
    salesforce_changed = state.last_salesforce_modstamp is None or salesforce_stamp > state.last_salesforce_modstamp
    return hub_changed and salesforce_changed


class Resolution(StrEnum):
    APPLY_SALESFORCE = "apply Salesforce's change"
    KEEP_HUB = "keep the hub's record and export it"
    HOLD = "hold for a person"


class ConflictOutcome(BaseModel):
    resolution: Resolution
    policy: ConflictPolicy
    message: str
    hub_values: dict[str, Any] = Field(description="The hub's side, for the error log (manual)")
    salesforce_values: dict[str, Any] = Field(description="Salesforce's side, for the error log (manual)")

    @property
    def queue_export(self) -> bool:
        """Keeping the hub's side means Salesforce must be brought back to it."""
        return self.resolution is Resolution.KEEP_HUB


def resolve_conflict(
    policy: ConflictPolicy,
    *,
    hub_updated_at: datetime,
    salesforce_stamp: datetime,
    hub_values: Mapping[str, Any],
    salesforce_values: Mapping[str, Any],
) -> ConflictOutcome:
    """What wins. Newest wins compares the hub record's last write with Salesforce's stamp; on a tie the
    hub's side stays (its export then makes both sides equal)."""
    if policy is ConflictPolicy.SALESFORCE_WINS:
        resolution, why = Resolution.APPLY_SALESFORCE, "Salesforce wins by policy"
    elif policy is ConflictPolicy.HUB_WINS:
        resolution, why = Resolution.KEEP_HUB, "the hub wins by policy"
    elif policy is ConflictPolicy.NEWEST_WINS:
        if salesforce_stamp > hub_updated_at:
            resolution, why = Resolution.APPLY_SALESFORCE, "Salesforce's change is newer"
        else:
            resolution, why = Resolution.KEEP_HUB, "the hub's change is newer"
    else:
        resolution, why = Resolution.HOLD, "both versions are kept in the error log until a person decides"
    message = (
        f"conflict: changed in the hub at {hub_updated_at.isoformat()} and in Salesforce at "
        f"{salesforce_stamp.isoformat()} since the last sync; {why}"
    )
    return ConflictOutcome(
        resolution=resolution,
        policy=policy,
        message=message,
        hub_values=dict(hub_values),
        salesforce_values=dict(salesforce_values),
    )
