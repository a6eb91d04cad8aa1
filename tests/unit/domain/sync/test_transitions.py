"""The sync-status transition table, row by row, and the rules it must keep (no ping-pong, no lost write)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.transitions import (
    TRANSITIONS,
    Actor,
    Happened,
    InvalidSyncEventError,
    SyncEvent,
    transition,
)
from sync_core.domain.sync_state import (
    ATTEMPTS_KEPT,
    SyncOperation,
    SyncState,
    SyncStatus,
    state_after_local_write,
)

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=1)
SF_ID = "001000000000001AAA"

ML, ME, SYN, ERR, SKIP = (
    SyncStatus.MODIFIED_LOCALLY,
    SyncStatus.MODIFIED_EXTERNALLY,
    SyncStatus.SYNCHRONIZED,
    SyncStatus.ERROR,
    SyncStatus.SKIPPED,
)
INS, UPD, DEL = SyncOperation.INSERT, SyncOperation.UPDATE, SyncOperation.DELETE
U, IMP, E, S = Actor.USER, Actor.SYNC_IMPORT, Actor.EXPORT_RESULT, Actor.SYSTEM


def state(status: SyncStatus, operation: SyncOperation, *, linked: bool = True, version: int = 3) -> SyncState:
    return SyncState(
        entity=EntityName.ACCOUNT,
        record_id="ACC-000001",
        external_ref=SF_ID if linked else None,
        status=status,
        operation=operation,
        error="old error" if status is ERR else None,
        import_scenario="Import Account from Salesforce",
        export_scenario="Export Account to Salesforce",
        record_version=version,
        updated_at=EARLIER,
    )


# previous state, actor, event, what the event carries -> status, operation, error, queues an export
ROWS: list[tuple[SyncState | None, Actor, SyncEvent, dict[str, Any], SyncStatus, SyncOperation, str | None, bool]] = [
    # A user's (or integration's) write: Modified Locally, export queued.
    (None, U, SyncEvent.INSERT, {"record_version": 1}, ML, INS, None, True),
    (state(SYN, UPD), U, SyncEvent.UPDATE, {"record_version": 4}, ML, UPD, None, True),
    (state(ML, INS, linked=False), U, SyncEvent.UPDATE, {"record_version": 4}, ML, INS, None, True),
    (state(ERR, UPD), U, SyncEvent.UPDATE, {"record_version": 4}, ML, UPD, None, True),
    (state(SYN, UPD), U, SyncEvent.DELETE, {"record_version": 3}, ML, DEL, None, True),
    # The system writes like a user (a release creating an invoice), and may skip by policy.
    (None, S, SyncEvent.INSERT, {"record_version": 1}, ML, INS, None, True),
    (state(SKIP, UPD), S, SyncEvent.UPDATE, {"record_version": 4}, ML, UPD, None, True),
    (state(SYN, UPD), S, SyncEvent.DELETE, {"record_version": 3}, ML, DEL, None, True),
    (state(ML, UPD), S, SyncEvent.POLICY_SKIP, {"message": "create only"}, SKIP, UPD, None, False),
    # The sync applying a Salesforce change: Modified Externally while applying, then Synchronized. Never exports.
    (None, IMP, SyncEvent.IMPORT_APPLYING, {"record_version": 1, "operation": INS}, ME, INS, None, False),
    (state(SYN, UPD), IMP, SyncEvent.IMPORT_APPLYING, {"record_version": 4, "operation": UPD}, ME, UPD, None, False),
    (
        state(ME, INS, linked=False, version=1),
        IMP,
        SyncEvent.IMPORT_APPLIED,
        {"record_version": 1, "operation": INS, "salesforce_id": SF_ID, "synced_hash": "h"},
        SYN,
        INS,
        None,
        False,
    ),
    (state(SYN, UPD), IMP, SyncEvent.IMPORT_APPLIED, {"record_version": 4, "operation": DEL}, SYN, DEL, None, False),
    (state(SYN, UPD), IMP, SyncEvent.IMPORT_FAILED, {"operation": UPD, "message": "bad"}, ERR, UPD, "bad", False),
    (state(ML, UPD), IMP, SyncEvent.CONFLICT, {"operation": UPD, "message": "conflict"}, ERR, UPD, "conflict", False),
    (state(SYN, UPD), IMP, SyncEvent.POLICY_SKIP, {"message": "sync only linked"}, SKIP, UPD, None, False),
    # An export's result.
    (
        state(ML, INS, linked=False),
        E,
        SyncEvent.EXPORT_SUCCEEDED,
        {"record_version": 3, "salesforce_id": SF_ID, "synced_hash": "h"},
        SYN,
        INS,
        None,
        False,
    ),
    (state(ML, DEL), E, SyncEvent.EXPORT_SUCCEEDED, {"record_version": 3}, SYN, DEL, None, False),
    (state(ML, UPD), E, SyncEvent.EXPORT_WAITING, {"message": "waits for parent Account ACC-2"}, ML, UPD,
     "waits for parent Account ACC-2", False),
    (state(ML, UPD), E, SyncEvent.EXPORT_FAILED_RETRYABLE, {"message": "UNABLE_TO_LOCK_ROW"}, ML, UPD,
     "UNABLE_TO_LOCK_ROW", False),
    (state(ML, UPD), E, SyncEvent.EXPORT_FAILED_PERMANENT, {"message": "REQUIRED_FIELD_MISSING"}, ERR, UPD,
     "REQUIRED_FIELD_MISSING", False),
    (state(ML, UPD), E, SyncEvent.EXPORT_DEAD, {"message": "gave up after 5 attempts"}, ERR, UPD,
     "gave up after 5 attempts", False),
    (state(ML, UPD), E, SyncEvent.POLICY_SKIP, {"message": "create only"}, SKIP, UPD, None, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("previous", "actor", "event", "carries", "status", "operation", "error", "queues"),
    ROWS,
    ids=[f"{row[0].status.value if row[0] else 'new'}-{row[1].value}-{row[2].value}" for row in ROWS],
)
def test_transition_table(
    previous: SyncState | None,
    actor: Actor,
    event: SyncEvent,
    carries: dict[str, Any],
    status: SyncStatus,
    operation: SyncOperation,
    error: str | None,
    queues: bool,
) -> None:
    result = transition(
        previous,
        Happened(actor=actor, event=event, **carries),
        entity=EntityName.ACCOUNT,
        record_id="ACC-000001",
        now=NOW,
        entity_exports=True,
    )
    got = result.state
    assert (got.status, got.operation, got.error, result.queue_export) == (status, operation, error, queues)
    assert got.updated_at == NOW
    sync_step = actor in (Actor.SYNC_IMPORT, Actor.EXPORT_RESULT) or event is SyncEvent.POLICY_SKIP
    assert got.latest_attempt == (NOW if sync_step else None)
    if status is SKIP:
        assert got.skip_reason == carries["message"]
    if event in (SyncEvent.EXPORT_SUCCEEDED, SyncEvent.IMPORT_APPLIED):
        assert got.synced_version == got.record_version == carries["record_version"]
        assert got.synced_hash == carries.get("synced_hash")
        assert got.external_ref == (carries.get("salesforce_id") or (previous.external_ref if previous else None))


def test_every_row_of_the_table_is_tested() -> None:
    assert {(row[1], row[2]) for row in ROWS} == set(TRANSITIONS)


@pytest.mark.parametrize(
    ("actor", "event"), [key for key in TRANSITIONS if key[0] in (Actor.SYNC_IMPORT, Actor.EXPORT_RESULT)]
)
def test_the_syncs_own_writes_never_queue_an_export(actor: Actor, event: SyncEvent) -> None:
    carries: dict[str, Any] = {"record_version": 3, "operation": UPD, "message": "m"}
    result = transition(
        state(ML, UPD), Happened(actor=actor, event=event, **carries),
        entity=EntityName.ACCOUNT, record_id="ACC-000001", now=NOW, entity_exports=True,
    )  # fmt: skip
    assert not result.queue_export


def test_an_export_that_succeeds_for_a_version_since_changed_keeps_the_newer_write() -> None:
    # The user wrote version 4 while the export of version 3 was in flight.
    previous = state(ML, UPD, version=4)
    result = transition(
        previous,
        Happened(actor=E, event=SyncEvent.EXPORT_SUCCEEDED, record_version=3, salesforce_id=SF_ID, synced_hash="h3"),
        entity=EntityName.ACCOUNT,
        record_id="ACC-000001",
        now=NOW,
        entity_exports=True,
    )
    assert result.superseded and result.queue_export
    assert (result.state.status, result.state.record_version, result.state.external_ref) == (ML, 4, SF_ID)
    assert result.state.synced_version == 3 and result.state.synced_hash == "h3"


def test_a_write_to_an_entity_that_does_not_export_queues_nothing() -> None:
    result = transition(
        None, Happened(actor=U, event=SyncEvent.INSERT, record_version=1),
        entity=EntityName.ACCOUNT, record_id="ACC-000001", now=NOW, entity_exports=False,
    )  # fmt: skip
    assert result.state.status is ML and not result.queue_export


@pytest.mark.parametrize(
    ("previous", "happened", "message"),
    [
        (None, Happened(actor=U, event=SyncEvent.EXPORT_SUCCEEDED), "does not report export succeeded"),
        (None, Happened(actor=IMP, event=SyncEvent.INSERT), "does not report insert"),
        (None, Happened(actor=IMP, event=SyncEvent.IMPORT_APPLIED, record_version=1), "needs the change's operation"),
        (None, Happened(actor=E, event=SyncEvent.EXPORT_FAILED_PERMANENT), "needs the record's sync state"),
        (None, Happened(actor=U, event=SyncEvent.INSERT), "needs its version"),
    ],
)
def test_impossible_reports_are_refused(previous: SyncState | None, happened: Happened, message: str) -> None:
    with pytest.raises(InvalidSyncEventError, match=message):
        transition(previous, happened, entity=EntityName.ACCOUNT, record_id="ACC-000001", now=NOW, entity_exports=True)


def test_state_after_local_write_is_the_users_row_of_the_table() -> None:
    previous = state(ML, INS, linked=False)
    local = state_after_local_write(
        previous, entity=EntityName.ACCOUNT, record_id="ACC-000001", operation=UPD, record_version=4, now=NOW
    )
    assert (local.status, local.operation, local.record_version) == (ML, INS, 4)


def test_a_state_keeps_its_latest_sync_attempts_newest_first_and_no_users_write() -> None:
    current = state(ML, UPD)
    for minute in range(ATTEMPTS_KEPT + 2):
        failed = minute % 2 == 0
        happened = Happened(
            actor=E,
            event=SyncEvent.EXPORT_FAILED_PERMANENT if failed else SyncEvent.EXPORT_SUCCEEDED,
            record_version=3,
            salesforce_id=SF_ID,
            message=f"refused {minute}" if failed else None,
        )
        at = NOW + timedelta(minutes=minute)
        current = transition(
            current, happened, entity=EntityName.ACCOUNT, record_id="ACC-000001", now=at, entity_exports=True
        ).state
    current = transition(
        current,
        Happened(actor=U, event=SyncEvent.UPDATE, record_version=4),
        entity=EntityName.ACCOUNT,
        record_id="ACC-000001",
        now=NOW + timedelta(hours=1),
        entity_exports=True,
    ).state
    attempts = current.recent_attempts
    assert len(attempts) == ATTEMPTS_KEPT  # bounded; the user's write is no sync attempt
    assert [attempt.at for attempt in attempts] == [
        NOW + timedelta(minutes=minute) for minute in range(ATTEMPTS_KEPT + 1, 1, -1)
    ]
    assert (attempts[0].event, attempts[0].status, attempts[0].message) == ("export succeeded", SYN, None)
    assert (attempts[1].event, attempts[1].status, attempts[1].message) == (
        "export failed, permanent",
        ERR,
        f"refused {ATTEMPTS_KEPT}",
    )
