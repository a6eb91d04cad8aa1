"""In-memory implementations of the record storage ports (unit tests of services)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord, Page
from sync_core.domain.sync_state import SyncState
from sync_core.errors import AlreadyExistsError, LinkTakenError, NotFoundError, StaleVersionError, StateMovedError
from sync_core.ports.sync import RecordKey, StoredRecord, StoredWrite


class InMemoryRecordStore:
    def __init__(self) -> None:
        self.records: dict[tuple[EntityName, str], HubRecord] = {}
        self.states: dict[tuple[EntityName, str], SyncState] = {}
        self.links: dict[tuple[str, str], str] = {}  # (kind, Salesforce id) -> hub key
        self.written_by: dict[tuple[EntityName, str], str] = {}

    def get(self, entity: EntityName, record_id: str) -> HubRecord | None:
        return self.records.get((entity, record_id))

    def list(self, entity: EntityName, *, limit: int, cursor: str | None) -> Page[HubRecord]:
        ids = sorted(record_id for (kind, record_id) in self.records if kind is entity)
        after = [record_id for record_id in ids if cursor is None or record_id > cursor]
        page = after[:limit]
        next_cursor = page[-1] if len(after) > limit else None
        return Page[HubRecord](items=[self.records[(entity, record_id)] for record_id in page], next_cursor=next_cursor)

    def create(self, record: HubRecord, state: SyncState) -> None:
        key = (record.entity, record.id)
        if key in self.records:
            raise AlreadyExistsError(f"{record.id} exists")
        self.records[key] = record
        self.states[key] = state

    def replace(self, record: HubRecord, state: SyncState, *, expected_version: int) -> None:
        key = (record.entity, record.id)
        self._check_version(key, expected_version)
        self.records[key] = record
        self.states[key] = state

    def delete(self, entity: EntityName, record_id: str, state: SyncState, *, expected_version: int) -> None:
        key = (entity, record_id)
        self._check_version(key, expected_version)
        del self.records[key]
        self.states[key] = state

    def _check_version(self, key: tuple[EntityName, str], expected: int) -> None:
        current = self.records.get(key)
        if current is None:
            raise NotFoundError(f"{key[1]} does not exist")
        if current.version != expected:
            raise StaleVersionError("stale", expected=expected, current=current.version)

    # SyncStore: the one write path's transaction, all or nothing, with the same conditions as DynamoDB's.

    def read(self, keys: Sequence[RecordKey]) -> dict[RecordKey, StoredRecord]:
        return {
            key: StoredRecord(
                key, self.records.get((key.entity, key.record_id)), self.states.get((key.entity, key.record_id))
            )
            for key in keys
        }

    def read_state(self, key: RecordKey) -> SyncState | None:
        return self.states.get((key.entity, key.record_id))

    def commit(self, writes: Sequence[StoredWrite]) -> None:
        for write in writes:
            key = (write.key.entity, write.key.record_id)
            if write.record is not None or write.delete_record:
                if write.expected_version is None:
                    if key in self.records:
                        raise AlreadyExistsError(f"{key[1]} exists")
                else:
                    self._check_version(key, write.expected_version)
            held = self.states.get(key)
            if (held.revision if held is not None else None) != write.expected_revision:
                raise StateMovedError("state moved")
            if write.claim is not None:
                owner = self.links.get((write.claim.kind, write.claim.salesforce_id))
                if owner not in (None, write.claim.hub_key):
                    raise LinkTakenError("taken", kind=write.claim.kind, salesforce_id=write.claim.salesforce_id)
        for write in writes:
            key = (write.key.entity, write.key.record_id)
            if write.record is not None:
                self.records[key] = write.record
                self.written_by[key] = write.written_by
            elif write.delete_record:
                del self.records[key]
            self.states[key] = write.state
            if write.claim is not None:
                self.links[(write.claim.kind, write.claim.salesforce_id)] = write.claim.hub_key
            if write.release is not None:
                self.links.pop((write.release.kind, write.release.salesforce_id), None)


class InMemorySyncStateStore:
    def __init__(self, records: InMemoryRecordStore) -> None:
        self._records = records

    def get(self, entity: EntityName, record_id: str) -> SyncState | None:
        return self._records.states.get((entity, record_id))

    def find_by_salesforce_id(self, entity: EntityName, salesforce_id: str) -> SyncState | None:
        return next(
            (s for (kind, _), s in self._records.states.items() if kind is entity and s.external_ref == salesforce_id),
            None,
        )


class InMemorySequenceStore:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def next_value(self, name: str) -> int:
        self.values[name] = self.values.get(name, 0) + 1
        return self.values[name]


class SteppingClock:
    """A clock that moves one second per reading, so orderings are visible in tests."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current
