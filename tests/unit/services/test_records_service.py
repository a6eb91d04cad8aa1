"""RecordsService over in-memory ports: sync-state rules of local writes."""

from __future__ import annotations

import pytest

from sync_core.domain.entities import EntityName
from sync_core.domain.sync_state import SyncOperation, SyncStatus
from sync_core.errors import NotFoundError, OperationNotAllowedError, StaleVersionError, ValidationFailedError
from sync_core.services.records import RecordsService
from sync_core.services.sync_writer import SyncWriter
from tests.fakes.records import InMemoryRecordStore, InMemorySequenceStore, InMemorySyncStateStore, SteppingClock


@pytest.fixture
def store() -> InMemoryRecordStore:
    return InMemoryRecordStore()


@pytest.fixture
def service(store: InMemoryRecordStore) -> RecordsService:
    clock = SteppingClock()
    return RecordsService(
        store, InMemorySyncStateStore(store), InMemorySequenceStore(), clock, SyncWriter(store, clock)
    )


def test_create_numbers_records_per_entity(service: RecordsService) -> None:
    first = service.create_record(EntityName.ACCOUNT, {"name": "A"}, actor="u")
    second = service.create_record(EntityName.ACCOUNT, {"name": "B"}, actor="u")
    contact = service.create_record(EntityName.CONTACT, {"last_name": "C"}, actor="u")
    assert (first.id, second.id, contact.id) == ("ACC-000001", "ACC-000002", "CON-000001")


def test_update_of_an_exported_record_becomes_modified_locally_update(
    service: RecordsService, store: InMemoryRecordStore
) -> None:
    # Given a record a sync has linked and synchronized
    record = service.create_record(EntityName.ACCOUNT, {"name": "A"}, actor="u")
    key = (EntityName.ACCOUNT, record.id)
    store.states[key] = store.states[key].model_copy(
        update={"external_ref": "0015e00000MbQ9rAAF", "status": SyncStatus.SYNCHRONIZED, "error": None}
    )
    # When
    service.update_record(EntityName.ACCOUNT, record.id, {"phone": "1"}, actor="u", expected_version=1, replace=False)
    # Then
    state = service.sync_status(EntityName.ACCOUNT, record.id)
    assert (state.status, state.operation, state.external_ref) == (
        SyncStatus.MODIFIED_LOCALLY,
        SyncOperation.UPDATE,
        "0015e00000MbQ9rAAF",
    )


def test_update_clears_a_previous_sync_error(service: RecordsService, store: InMemoryRecordStore) -> None:
    record = service.create_record(EntityName.ACCOUNT, {"name": "A"}, actor="u")
    key = (EntityName.ACCOUNT, record.id)
    store.states[key] = store.states[key].model_copy(update={"status": SyncStatus.ERROR, "error": "REQUIRED"})
    service.update_record(EntityName.ACCOUNT, record.id, {"name": "B"}, actor="u", expected_version=None, replace=False)
    state = service.sync_status(EntityName.ACCOUNT, record.id)
    assert (state.status, state.error) == (SyncStatus.MODIFIED_LOCALLY, None)


def test_stale_expected_version_is_refused_and_nothing_changes(service: RecordsService) -> None:
    record = service.create_record(EntityName.ACCOUNT, {"name": "A"}, actor="u")
    with pytest.raises(StaleVersionError):
        service.update_record(
            EntityName.ACCOUNT, record.id, {"name": "B"}, actor="u", expected_version=7, replace=False
        )
    assert service.get_record(EntityName.ACCOUNT, record.id).fields["name"] == "A"


def test_invalid_fields_name_each_field(service: RecordsService) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        service.create_record(EntityName.LEAD, {"last_name": "", "email": "nope"}, actor="u")
    fields = {error["field"] for error in caught.value.errors}
    assert fields == {"last_name", "company", "email"}


def test_cases_are_not_written_here(service: RecordsService) -> None:
    with pytest.raises(OperationNotAllowedError):
        service.create_record(EntityName.CASE, {"subject": "x"}, actor="u")


def test_delete_keeps_state_with_operation_delete(service: RecordsService) -> None:
    record = service.create_record(EntityName.PRODUCT, {"name": "Pallet"}, actor="u")
    service.delete_record(EntityName.PRODUCT, record.id, expected_version=None)
    with pytest.raises(NotFoundError):
        service.get_record(EntityName.PRODUCT, record.id)
    assert service.sync_status(EntityName.PRODUCT, record.id).operation is SyncOperation.DELETE
