"""Scheduled sync's pure rules: when an entity is due, in which order, what a pull asks and queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_core.domain.entities import EntityName
from sync_core.domain.salesforce import FieldDescription, SObjectDescription
from sync_core.domain.sync.changes import ChangeOperation, ChangeSource
from sync_core.domain.sync.defaults import default_mapping
from sync_core.domain.sync.schedule import (
    EntityRun,
    RunReason,
    due_for_push,
    latest_slot,
    next_slot,
    pull_soql,
    pull_start,
    pulled_change,
    run_reason,
    schedule_due,
    typed_bulk_row,
)
from sync_core.domain.sync_config import EntitySyncConfig, ProcessStatus, Schedule
from sync_core.domain.sync_state import SyncOperation, SyncState, SyncStatus

# Wednesday 2 December 2026, 10:07:30 UTC
NOW = datetime(2026, 12, 2, 10, 7, 30, tzinfo=UTC)
EVERY_15 = Schedule.model_validate({"kind": "rate", "every_minutes": 15})
DAILY_0230 = Schedule.model_validate({"kind": "daily", "at": "02:30"})
DAILY_2300 = Schedule.model_validate({"kind": "daily", "at": "23:00"})
MONDAY_0600 = Schedule.model_validate({"kind": "weekly", "at": "06:00", "weekday": 0})
WEDNESDAY_1200 = Schedule.model_validate({"kind": "weekly", "at": "12:00", "weekday": 2})


def at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "latest", "following"),
    [
        (EVERY_15, at(2, 10, 0), at(2, 10, 15)),
        (DAILY_0230, at(2, 2, 30), at(3, 2, 30)),
        (DAILY_2300, at(1, 23, 0), at(2, 23, 0)),  # not yet today: yesterday's
        (MONDAY_0600, datetime(2026, 11, 30, 6, 0, tzinfo=UTC), at(7, 6, 0)),
        (WEDNESDAY_1200, datetime(2026, 11, 25, 12, 0, tzinfo=UTC), at(2, 12, 0)),  # today, but later
    ],
)
def test_the_latest_and_next_moment_each_kind_of_schedule_fires(
    schedule: Schedule, latest: datetime, following: datetime
) -> None:
    assert latest_slot(schedule, NOW) == latest
    assert next_slot(schedule, NOW) == following


@pytest.mark.parametrize(
    ("schedule", "last_run", "due"),
    [
        (EVERY_15, None, True),  # never run: due at once
        (EVERY_15, at(2, 9, 59, 59), True),  # before the 10:00 slot
        (EVERY_15, at(2, 10, 0, 0), False),  # ran at the slot
        (EVERY_15, at(2, 10, 7, 0), False),
        (DAILY_0230, at(2, 2, 30, 5), False),  # today's run done
        (DAILY_0230, at(1, 2, 30, 5), True),  # yesterday's: today's 02:30 is owed
        (DAILY_0230, at(1, 23, 0), True),  # ran after yesterday's slot, but before today's
        (MONDAY_0600, datetime(2026, 11, 30, 6, 1, tzinfo=UTC), False),  # this Monday's done
        (MONDAY_0600, datetime(2026, 11, 29, 6, 1, tzinfo=UTC), True),  # last ran on Sunday
        (WEDNESDAY_1200, at(2, 9, 0), False),  # today's 12:00 has not come yet; last week's is done
    ],
)
def test_an_entity_is_due_when_its_last_run_is_older_than_the_latest_slot(
    schedule: Schedule, last_run: datetime | None, due: bool
) -> None:
    assert schedule_due(schedule, last_run, NOW) is due


def test_a_late_or_missed_tick_runs_a_slot_once_not_once_per_missed_slot() -> None:
    last_run = at(2, 9, 0)  # the 09:00 run; 09:15 ... 10:00 were missed
    assert schedule_due(EVERY_15, last_run, NOW)
    assert not schedule_due(EVERY_15, NOW, NOW + timedelta(seconds=30))  # after the catch-up run, quiet until 10:15
    assert schedule_due(EVERY_15, NOW, at(2, 10, 15))


def _config(entity: EntityName, **fields: object) -> EntitySyncConfig:
    return EntitySyncConfig.model_validate({"entity": entity.value, **fields})


def test_why_an_entity_runs_at_a_tick() -> None:
    scheduled = _config(EntityName.ACCOUNT, schedule={"kind": "rate", "every_minutes": 15})
    unscheduled = _config(EntityName.CONTACT)
    ran = EntityRun(EntityName.ACCOUNT, last_run=at(2, 10, 1))
    assert run_reason(scheduled, None, pull_requested=False, now=NOW) is RunReason.SCHEDULE
    assert run_reason(scheduled, ran, pull_requested=False, now=NOW) is None
    assert run_reason(unscheduled, None, pull_requested=False, now=NOW) is None
    assert run_reason(unscheduled, None, pull_requested=True, now=NOW) is RunReason.PULL_REQUEST
    catching_up = EntityRun(EntityName.ACCOUNT, last_run=at(2, 10, 1), catching_up=True)
    assert run_reason(scheduled, catching_up, pull_requested=False, now=NOW) is RunReason.CATCHING_UP
    stopped = _config(EntityName.ACCOUNT, status="Stopped", schedule={"kind": "rate", "every_minutes": 15})
    assert run_reason(stopped, None, pull_requested=True, now=NOW) is None
    export_only = _config(EntityName.ACCOUNT, direction="to Salesforce")
    assert run_reason(export_only, None, pull_requested=True, now=NOW) is None  # nothing to pull


def test_entities_run_parents_first() -> None:
    order = [entity.value for entity in EntityName]
    assert order[:8] == ["Account", "Contact", "Lead", "Product", "Opportunity", "Quote", "Order", "Case"]
    assert ProcessStatus.ACTIVE  # the defaults keep every one of them active


def test_a_pull_reads_the_imported_fields_from_the_watermark_less_the_overlap_in_stamp_order() -> None:
    mapping = default_mapping(EntityName.CONTACT)
    since = pull_start(at(2, 10, 0, 0), None, overlap=timedelta(minutes=2))
    soql = pull_soql(mapping, since=since, filters="LeadSource = 'Web'")
    assert soql.startswith("SELECT Id, SystemModstamp, IsDeleted, Hub_Id__c, ")
    assert "AccountId" in soql and "Email" in soql
    assert soql.endswith(
        "FROM Contact WHERE SystemModstamp >= 2026-12-02T09:58:00Z AND (LeadSource = 'Web') ORDER BY SystemModstamp ASC"
    )
    assert pull_soql(mapping, since=None, filters=None, ordered=False).endswith("FROM Contact")
    # A pull request for an earlier moment moves the start back; an entity never pulled reads every row.
    assert pull_start(at(2, 10, 0), at(2, 8, 0), overlap=timedelta(0)) == at(2, 8, 0)
    assert pull_start(None, None, overlap=timedelta(minutes=2)) is None


def test_a_pulled_row_is_its_full_state_and_a_deleted_row_a_delete() -> None:
    row = {
        "attributes": {"type": "Account"},
        "Id": "001000000000001AAA",
        "SystemModstamp": "2026-12-02T10:00:00.000+0000",
        "IsDeleted": False,
        "Name": "Acme",
        "Phone": None,
    }
    change = pulled_change(row, EntityName.ACCOUNT)
    assert change.values == {"Name": "Acme"} and change.cleared_fields == ["Phone"]
    assert change.source is ChangeSource.SCHEDULE and change.operation is ChangeOperation.UPSERT
    assert change.stamp == at(2, 10, 0)
    assert pulled_change(dict(row), EntityName.ACCOUNT).deduplication_id == change.deduplication_id  # a repeat
    deleted = pulled_change({**row, "IsDeleted": "true"}, EntityName.ACCOUNT)
    assert deleted.operation is ChangeOperation.DELETE and not deleted.values and not deleted.cleared_fields


def test_bulk_rows_are_typed_as_rest_would_give_them() -> None:
    description = SObjectDescription(
        name="Product2",
        fields=[
            FieldDescription(name="IsActive", type="boolean"),
            FieldDescription(name="Quantity__c", type="double"),
            FieldDescription(name="Seats__c", type="int"),
            FieldDescription(name="Name", type="string"),
        ],
    )
    row = {"IsActive": "true", "Quantity__c": "2.50", "Seats__c": "3", "Name": "", "Other": "x"}
    assert typed_bulk_row(row, description) == {
        "IsActive": True,
        "Quantity__c": 2.5,
        "Seats__c": 3,
        "Name": None,
        "Other": "x",
    }


def _state(status: SyncStatus, *, open_errors: list[str] | None = None) -> SyncState:
    return SyncState(
        entity=EntityName.ACCOUNT,
        record_id="ACC-000001",
        status=status,
        operation=SyncOperation.UPDATE,
        import_scenario="i",
        export_scenario="e",
        record_version=2,
        updated_at=NOW,
        open_errors=open_errors or [],
    )


def test_pushes_are_local_changes_and_export_errors_never_an_imports_error_or_a_conflict() -> None:
    assert due_for_push(_state(SyncStatus.MODIFIED_LOCALLY))
    assert due_for_push(_state(SyncStatus.ERROR, open_errors=["Account#ACC-000001#to Salesforce#Update"]))
    assert not due_for_push(_state(SyncStatus.ERROR, open_errors=["Account#ACC-000001#from Salesforce#Update"]))
    assert not due_for_push(_state(SyncStatus.ERROR))
    assert not due_for_push(_state(SyncStatus.SYNCHRONIZED))
    assert not due_for_push(_state(SyncStatus.SKIPPED))
