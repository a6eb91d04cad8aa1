"""Sync config, error log and sequence adapters against moto tables created from template.yaml."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
from sync_core.adapters.dynamodb.error_log import DynamoErrorLog
from sync_core.adapters.dynamodb.records import DynamoRecordStore, DynamoSequenceStore
from sync_core.domain.entities import EntityName
from sync_core.domain.error_log import ErrorDirection, ErrorStatus, resolved
from sync_core.domain.sync_config import EntitySyncConfig, ProcessStatus, Schedule, ScheduleKind
from sync_core.domain.sync_state import SyncOperation
from sync_core.errors import ContendedError
from tests.support.aws_stack import hub_aws_environment

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def tables() -> Iterator[dict[str, str]]:
    with hub_aws_environment() as environment:
        yield environment


def test_config_defaults_for_an_unconfigured_entity_and_round_trip(tables: dict[str, str]) -> None:
    store = DynamoSyncConfigStore(dynamodb_client(), sync_config_table=os.environ["SYNC_CONFIG_TABLE"])
    # Given nothing stored, When read, Then defaults: a fresh install syncs Contact, not the export-only Invoice
    default = store.get(EntityName.CONTACT)
    assert (default.status, default.import_scenario) == (ProcessStatus.ACTIVE, "Import Contact from Salesforce")
    assert store.get(EntityName.INVOICE).status is ProcessStatus.STOPPED
    # When stored
    store.put(
        EntitySyncConfig(
            entity=EntityName.CONTACT,
            status=ProcessStatus.STOPPED,
            schedule=Schedule(kind=ScheduleKind.DAILY, at="02:30"),
            watermark=NOW,
        )
    )
    # Then read back, and listed in dependency order with defaults for the rest
    assert store.get(EntityName.CONTACT).schedule == Schedule(kind=ScheduleKind.DAILY, at="02:30")
    listed = store.list()
    assert [config.entity for config in listed] == list(EntityName)
    assert listed[1].status is ProcessStatus.STOPPED and listed[1].watermark == NOW
    assert listed[0].status is ProcessStatus.ACTIVE


def test_error_log_counts_attempts_and_lists_by_status_newest_first(tables: dict[str, str]) -> None:
    log = DynamoErrorLog(dynamodb_client(), error_log_table=os.environ["ERROR_LOG_TABLE"])
    common = {
        "direction": ErrorDirection.TO_SALESFORCE,
        "operation": SyncOperation.INSERT,
        "code": "REQUIRED_FIELD_MISSING",
        "message": "Required fields are missing: [Name]",
        "payload": {"Name": None, "Amount": 12.5},
        "status": ErrorStatus.OPEN,
    }
    # When the same step fails twice, and another record once
    log.record_failure(entity=EntityName.ACCOUNT, record_id="ACC-000001", now=NOW, **common)  # type: ignore[arg-type]
    second = log.record_failure(
        entity=EntityName.ACCOUNT,
        record_id="ACC-000001",
        now=NOW + timedelta(minutes=1),
        **common,  # type: ignore[arg-type]
    )
    log.record_failure(
        entity=EntityName.ACCOUNT,
        record_id="ACC-000002",
        now=NOW + timedelta(minutes=2),
        **common,  # type: ignore[arg-type]
    )
    # Then
    assert second.attempts == 2
    assert (second.first_seen, second.last_seen) == (NOW, NOW + timedelta(minutes=1))
    assert second.payload == {"Name": None, "Amount": 12.5}
    first_page = log.list(ErrorStatus.OPEN, limit=1, cursor=None)
    assert [entry.record_id for entry in first_page.items] == ["ACC-000002"]
    second_page = log.list(ErrorStatus.OPEN, limit=1, cursor=first_page.next_cursor)
    assert [entry.record_id for entry in second_page.items] == ["ACC-000001"]


def test_resolving_sets_a_ttl_and_a_new_failure_reopens(tables: dict[str, str]) -> None:
    log = DynamoErrorLog(dynamodb_client(), error_log_table=os.environ["ERROR_LOG_TABLE"])
    entry = log.record_failure(
        entity=EntityName.CASE,
        record_id="CASE-000001",
        direction=ErrorDirection.FROM_SALESFORCE,
        operation=SyncOperation.UPDATE,
        code="INVALID_TRANSITION",
        message="Release is not allowed from Open",
        payload=None,
        status=ErrorStatus.OPEN,
        now=NOW,
    )
    log.save(resolved(entry, now=NOW))
    stored = log.get(entry.id)
    assert stored is not None and stored.status is ErrorStatus.RESOLVED and stored.expires_at is not None
    reopened = log.record_failure(
        entity=EntityName.CASE,
        record_id="CASE-000001",
        direction=ErrorDirection.FROM_SALESFORCE,
        operation=SyncOperation.UPDATE,
        code="INVALID_TRANSITION",
        message="again",
        payload=None,
        status=ErrorStatus.OPEN,
        now=NOW + timedelta(hours=1),
    )
    assert (reopened.status, reopened.expires_at, reopened.attempts) == (ErrorStatus.OPEN, None, 2)


def _account(number: int) -> tuple[Any, Any]:
    from sync_core.domain.entities import format_record_id
    from sync_core.domain.records import HubRecord
    from sync_core.domain.sync_state import SyncOperation, state_after_local_write

    record_id = format_record_id(EntityName.ACCOUNT, number)
    record = HubRecord(
        entity=EntityName.ACCOUNT,
        id=record_id,
        version=1,
        fields={"name": "Acme"},
        created_at=NOW,
        updated_at=NOW,
        updated_by="alice",
    )
    state = state_after_local_write(
        None, entity=EntityName.ACCOUNT, record_id=record_id, operation=SyncOperation.INSERT, record_version=1, now=NOW
    )
    return record, state


def _stores() -> tuple[DynamoRecordStore, DynamoSequenceStore]:
    sequences = DynamoSequenceStore(dynamodb_client(), sync_config_table=os.environ["SYNC_CONFIG_TABLE"])
    records = DynamoRecordStore(
        dynamodb_client(),
        records_table=os.environ["RECORDS_TABLE"],
        sync_state_table=os.environ["SYNC_STATE_TABLE"],
        sequences=sequences,
    )
    return records, sequences


def test_a_number_is_used_up_only_by_the_create_it_numbers(tables: dict[str, str]) -> None:
    records, sequences = _stores()
    name = f"record#{EntityName.ACCOUNT.value}"
    assert sequences.next_value(name) == 1
    assert sequences.next_value(name) == 1  # offered again: nothing used it
    records.create(*_account(1))
    assert sequences.next_value(name) == 2
    assert sequences.next_value("record#Other") == 1


def test_two_creates_offered_the_same_number_cannot_both_have_it(tables: dict[str, str]) -> None:
    first_records, first_sequences = _stores()
    second_records, second_sequences = _stores()
    name = f"record#{EntityName.ACCOUNT.value}"
    assert first_sequences.next_value(name) == second_sequences.next_value(name) == 1
    first_records.create(*_account(1))
    with pytest.raises(ContendedError):
        second_records.create(*_account(1))
    assert second_sequences.next_value(name) == 2
    second_records.create(*_account(2))
    assert [record.id for record in first_records.list(EntityName.ACCOUNT, limit=10, cursor=None).items] == [
        "ACC-000001",
        "ACC-000002",
    ]
