"""The one write path over the in-memory store: every row of the transition table as the writer applies it,
the writer's actor on the record, and the state recomputed when another step moved it meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.domain.sync.transitions import TRANSITIONS, Actor, ErrorRule, Happened, SyncEvent
from sync_core.domain.sync_state import SyncOperation, SyncState, SyncStatus
from sync_core.errors import LinkTakenError, StaleVersionError, StateMovedError
from sync_core.ports.sync import RecordKey, StoredWrite
from sync_core.services.sync_writer import RecordWrite, SyncWriter, user_write
from tests.fakes.records import InMemoryRecordStore, SteppingClock

KEY = RecordKey(EntityName.ACCOUNT, "ACC-000001")
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def account(version: int = 1, name: str = "Acme") -> HubRecord:
    return HubRecord(
        entity=EntityName.ACCOUNT,
        id=KEY.record_id,
        version=version,
        fields={"name": name},
        created_at=T0,
        updated_at=T0,
        updated_by="alice",
    )


@pytest.fixture
def store() -> InMemoryRecordStore:
    return InMemoryRecordStore()


@pytest.fixture
def writer(store: InMemoryRecordStore) -> SyncWriter:
    return SyncWriter(store, SteppingClock())


def seeded(store: InMemoryRecordStore, writer: SyncWriter, *, linked: bool = True) -> SyncState:
    """A record created by a user and, if `linked`, exported (Synchronized, linked) at version 1."""
    writer.write(user_write(account(), SyncEvent.INSERT, expected_version=None), previous=None)
    if linked:
        happened = Happened(
            actor=Actor.EXPORT_RESULT,
            event=SyncEvent.EXPORT_SUCCEEDED,
            record_version=1,
            salesforce_id="001000000000001AAA",
            synced_hash="h",
            synced_field_hashes={"name": "x"},
        )
        writer.write(RecordWrite(KEY, happened, link="001000000000001AAA"))
    state = store.read_state(KEY)
    assert state is not None
    return state


def happened_for(actor: Actor, event: SyncEvent) -> Happened:
    extra: dict[str, Any] = {"message": "why"}
    if actor is Actor.SYNC_IMPORT and event is not SyncEvent.POLICY_SKIP:
        extra["operation"] = SyncOperation.UPDATE
    if event in (SyncEvent.IMPORT_APPLIED, SyncEvent.EXPORT_SUCCEEDED, SyncEvent.IMPORT_APPLYING):
        extra |= {"record_version": 1, "salesforce_id": "001000000000001AAA"}
    return Happened(actor=actor, event=event, **extra)


STATE_ONLY_ROWS = [
    (actor, event)
    for (actor, event) in TRANSITIONS
    if event not in (SyncEvent.INSERT, SyncEvent.UPDATE, SyncEvent.DELETE)
]


@pytest.mark.parametrize(("actor", "event"), STATE_ONLY_ROWS, ids=lambda item: str(item.value))
def test_each_sync_step_moves_the_state_as_its_row_of_the_table_says(
    store: InMemoryRecordStore, writer: SyncWriter, actor: Actor, event: SyncEvent
) -> None:
    before = seeded(store, writer)
    rule = TRANSITIONS[(actor, event)]
    written = writer.write(RecordWrite(KEY, happened_for(actor, event)))
    state = store.read_state(KEY)
    assert state == written.state and state is not None
    assert state.status is (rule.status or before.status)
    if rule.error is ErrorRule.SET and state.status is not SyncStatus.SKIPPED:
        assert state.error == "why"
    if state.status is SyncStatus.SKIPPED:
        assert state.skip_reason == "why"
    assert state.revision == before.revision + 1
    assert written.queue_export is rule.queues_export  # no sync step queues an export (no ping-pong)
    assert store.records[(KEY.entity, KEY.record_id)].version == 1  # the record item is untouched


@pytest.mark.parametrize("actor", [Actor.USER, Actor.SYSTEM])
def test_a_users_or_the_systems_write_makes_modified_locally_and_names_its_writer(
    store: InMemoryRecordStore, writer: SyncWriter, actor: Actor
) -> None:
    seeded(store, writer)
    store.states[(KEY.entity, KEY.record_id)] = store.states[(KEY.entity, KEY.record_id)].model_copy(
        update={"status": SyncStatus.ERROR, "error": "old"}
    )
    written = writer.write(user_write(account(2, "Renamed"), SyncEvent.UPDATE, expected_version=1, actor=actor))
    assert (written.state.status, written.state.operation, written.state.error) == (
        SyncStatus.MODIFIED_LOCALLY,
        SyncOperation.UPDATE,
        None,
    )
    assert written.queue_export and written.state.external_ref == "001000000000001AAA"
    assert store.written_by[(KEY.entity, KEY.record_id)] == actor.value


def test_an_update_before_the_first_export_stays_an_insert(store: InMemoryRecordStore, writer: SyncWriter) -> None:
    seeded(store, writer, linked=False)
    written = writer.write(user_write(account(2), SyncEvent.UPDATE, expected_version=1))
    assert written.state.operation is SyncOperation.INSERT


def test_an_export_that_succeeded_for_an_older_version_leaves_it_modified_locally(
    store: InMemoryRecordStore, writer: SyncWriter
) -> None:
    seeded(store, writer, linked=False)
    writer.write(user_write(account(2, "Newer"), SyncEvent.UPDATE, expected_version=1))
    happened = Happened(
        actor=Actor.EXPORT_RESULT,
        event=SyncEvent.EXPORT_SUCCEEDED,
        record_version=1,
        salesforce_id="001000000000001AAA",
    )
    written = writer.write(RecordWrite(KEY, happened, link="001000000000001AAA"))
    assert written.superseded and written.queue_export
    assert (written.state.status, written.state.record_version) == (SyncStatus.MODIFIED_LOCALLY, 2)
    assert written.state.external_ref == "001000000000001AAA"  # but it is linked now


def test_a_stale_users_write_is_refused_and_changes_nothing(store: InMemoryRecordStore, writer: SyncWriter) -> None:
    before = seeded(store, writer)
    with pytest.raises(StaleVersionError):
        writer.write(user_write(account(3), SyncEvent.UPDATE, expected_version=2))
    assert store.read_state(KEY) == before


def test_a_state_moved_by_another_step_is_read_again_and_nothing_is_lost(
    store: InMemoryRecordStore, writer: SyncWriter
) -> None:
    """A user's write whose read of the state came before an export's result: the writer recomputes from the
    state as it now is, so the user's version is Modified Locally AND the export's link is kept."""
    seeded(store, writer, linked=False)
    stale = store.read_state(KEY)
    exported = Happened(
        actor=Actor.EXPORT_RESULT,
        event=SyncEvent.EXPORT_SUCCEEDED,
        record_version=1,
        salesforce_id="001000000000002AAA",
    )
    writer.write(RecordWrite(KEY, exported, link="001000000000002AAA"))
    written = writer.write(user_write(account(2), SyncEvent.UPDATE, expected_version=1), previous=stale)
    assert written.state.status is SyncStatus.MODIFIED_LOCALLY
    assert written.state.external_ref == "001000000000002AAA" and written.state.operation is SyncOperation.UPDATE
    assert store.records[(KEY.entity, KEY.record_id)].version == 2


def test_a_state_that_keeps_moving_is_a_retryable_contention(store: InMemoryRecordStore, writer: SyncWriter) -> None:
    seeded(store, writer)

    def always_moved(writes: Any) -> None:
        raise StateMovedError("moved")

    with pytest.raises(StateMovedError):
        writer.write(user_write(account(2), SyncEvent.UPDATE, expected_version=1), commit=always_moved)
    assert store.records[(KEY.entity, KEY.record_id)].version == 1


def test_a_salesforce_id_linked_to_another_record_is_refused(store: InMemoryRecordStore, writer: SyncWriter) -> None:
    seeded(store, writer)
    other = HubRecord.model_validate({**account().model_dump(), "id": "ACC-000002"})
    happened = Happened(
        actor=Actor.SYNC_IMPORT,
        event=SyncEvent.IMPORT_APPLIED,
        operation=SyncOperation.INSERT,
        record_version=1,
        salesforce_id="001000000000001AAA",
    )
    with pytest.raises(LinkTakenError):
        writer.write(
            RecordWrite(RecordKey(EntityName.ACCOUNT, "ACC-000002"), happened, record=other, link="001000000000001AAA"),
            previous=None,
        )
    assert (EntityName.ACCOUNT, "ACC-000002") not in store.records


def test_writes_together_are_all_or_nothing(store: InMemoryRecordStore, writer: SyncWriter) -> None:
    seeded(store, writer)
    invoice = HubRecord.model_validate(
        {**account().model_dump(), "entity": EntityName.INVOICE, "id": "INV-000001", "fields": {}}
    )
    with pytest.raises(StaleVersionError):
        writer.write_together(
            [
                user_write(account(3), SyncEvent.UPDATE, expected_version=2),
                user_write(invoice, SyncEvent.INSERT, expected_version=None, actor=Actor.SYSTEM),
            ],
            previous={RecordKey(EntityName.INVOICE, "INV-000001"): None},
        )
    assert (EntityName.INVOICE, "INV-000001") not in store.records


def test_bookkeeping_changes_the_state_alone(store: InMemoryRecordStore, writer: SyncWriter) -> None:
    before = seeded(store, writer)
    written = writer.write(RecordWrite(KEY, None, state_changes={"last_salesforce_modstamp": T0}))
    assert written.state.status is before.status and written.state.last_salesforce_modstamp == T0
    with pytest.raises(ValueError, match="bookkeeping"):
        writer.write(RecordWrite(KEY, None, record=account(2), expected_version=1))


def test_stored_writes_name_the_actor(store: InMemoryRecordStore, writer: SyncWriter) -> None:
    captured: list[StoredWrite] = []
    writer.write(user_write(account(), SyncEvent.INSERT, expected_version=None), previous=None, commit=captured.extend)
    assert [(write.written_by, write.expected_revision, write.state.revision) for write in captured] == [
        ("user or integration", None, 1)
    ]
