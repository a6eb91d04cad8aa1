"""Conflicts: detected only when both sides changed since the last sync; resolved by each policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.conflicts import Resolution, is_conflict, resolve_conflict
from sync_core.domain.sync.policy import ConflictPolicy
from sync_core.domain.sync_state import SyncOperation, SyncState, SyncStatus

SYNCED_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = SYNCED_AT + timedelta(minutes=5)


def synced(
    *, version: int = 3, status: SyncStatus = SyncStatus.SYNCHRONIZED, synced_version: int | None = 3
) -> SyncState:
    return SyncState(
        entity=EntityName.ACCOUNT,
        record_id="ACC-000001",
        external_ref="001000000000001AAA",
        status=status,
        operation=SyncOperation.UPDATE,
        import_scenario="i",
        export_scenario="e",
        record_version=version,
        synced_version=synced_version,
        last_salesforce_modstamp=SYNCED_AT,
        updated_at=SYNCED_AT,
    )


@pytest.mark.parametrize(
    ("state", "record_version", "salesforce_stamp", "conflict"),
    [
        (synced(), 4, LATER, True),  # both changed
        (synced(), 3, LATER, False),  # only Salesforce changed
        (synced(), 4, SYNCED_AT, False),  # only the hub changed (the change is the one already applied)
        (synced(), 4, SYNCED_AT - timedelta(minutes=1), False),  # an old Salesforce change arriving late
        (None, 1, LATER, False),  # a record the hub never had
        (synced(status=SyncStatus.MODIFIED_LOCALLY, synced_version=None), 1, LATER, True),  # never synced, edited
        (synced(status=SyncStatus.ERROR, synced_version=None), 1, LATER, False),
    ],
)
def test_detection(state: SyncState | None, record_version: int, salesforce_stamp: datetime, conflict: bool) -> None:
    assert is_conflict(state, record_version=record_version, salesforce_stamp=salesforce_stamp) is conflict


HUB = {"Name": "Hub name"}
SALESFORCE = {"Name": "Salesforce name"}


@pytest.mark.parametrize(
    ("policy", "hub_at", "salesforce_at", "resolution"),
    [
        (ConflictPolicy.SALESFORCE_WINS, LATER, SYNCED_AT, Resolution.APPLY_SALESFORCE),
        (ConflictPolicy.HUB_WINS, SYNCED_AT, LATER, Resolution.KEEP_HUB),
        (ConflictPolicy.NEWEST_WINS, SYNCED_AT, LATER, Resolution.APPLY_SALESFORCE),
        (ConflictPolicy.NEWEST_WINS, LATER, SYNCED_AT, Resolution.KEEP_HUB),
        (ConflictPolicy.NEWEST_WINS, LATER, LATER, Resolution.KEEP_HUB),  # a tie keeps the hub's side
        (ConflictPolicy.MANUAL, SYNCED_AT, LATER, Resolution.HOLD),
    ],
)
def test_resolution_by_policy(
    policy: ConflictPolicy, hub_at: datetime, salesforce_at: datetime, resolution: Resolution
) -> None:
    outcome = resolve_conflict(
        policy, hub_updated_at=hub_at, salesforce_stamp=salesforce_at, hub_values=HUB, salesforce_values=SALESFORCE
    )
    assert outcome.resolution is resolution
    assert outcome.queue_export is (resolution is Resolution.KEEP_HUB)  # Salesforce is brought back to the hub
    assert outcome.message.startswith("conflict: changed in the hub at ")


def test_a_manual_conflict_carries_both_versions_for_the_error_log() -> None:
    outcome = resolve_conflict(
        ConflictPolicy.MANUAL,
        hub_updated_at=LATER,
        salesforce_stamp=LATER,
        hub_values=HUB,
        salesforce_values=SALESFORCE,
    )
    assert (outcome.hub_values, outcome.salesforce_values) == (HUB, SALESFORCE)
    assert outcome.message.endswith("both versions are kept in the error log until a person decides")
