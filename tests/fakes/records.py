"""In-memory implementations of the record storage ports (unit tests of services)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord, Page
from sync_core.domain.sync_state import SyncState
from sync_core.errors import AlreadyExistsError, NotFoundError, StaleVersionError


class InMemoryRecordStore:
    def __init__(self) -> None:
        self.records: dict[tuple[EntityName, str], HubRecord] = {}
        self.states: dict[tuple[EntityName, str], SyncState] = {}

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
