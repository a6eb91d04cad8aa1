"""In-memory case settings, activities and record finder (unit tests of the case services)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from pydantic import BaseModel

from sync_core.domain.cases.activities import Activity
from sync_core.domain.cases.settings import AssignmentRule, SettingKind
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord, Page
from sync_core.errors import AlreadyExistsError, NotFoundError, StaleVersionError
from sync_core.ports.stores import FieldValue
from sync_core.ports.sync import StoredWrite
from tests.fakes.records import InMemoryRecordStore


class InMemoryCaseSettingsStore:
    """Every kind in one dict of dicts, as the DynamoDB store keeps every kind in one partition each."""

    def __init__(self) -> None:
        self.kinds: dict[str, dict[str, BaseModel]] = {}
        self.rules: list[AssignmentRule] = []
        self.rule_replacements = 0

    def get[M: BaseModel](self, kind: SettingKind[M], setting_id: str) -> M | None:
        value = self.kinds.get(kind.name, {}).get(setting_id)
        return kind.model.model_validate(value) if value is not None else None

    def list_all[M: BaseModel](self, kind: SettingKind[M]) -> list[M]:
        values = self.kinds.get(kind.name, {})
        return [kind.model.model_validate(values[key]) for key in sorted(values)]

    def put[M: BaseModel](self, kind: SettingKind[M], value: M) -> None:
        self.kinds.setdefault(kind.name, {})[kind.id_of(value)] = value

    def assignment_rules(self) -> list[AssignmentRule]:
        return list(self.rules)

    def replace_assignment_rules(self, rules: Sequence[AssignmentRule]) -> None:
        self.rules = list(rules)
        self.rule_replacements += 1


class InMemoryCaseActivityStore:
    """Activities by case in logging order; append checks the case's version first, as the transaction does.

    A lock makes append all-or-nothing under threads, as one DynamoDB transaction is.
    """

    def __init__(self, store: InMemoryRecordStore) -> None:
        self._store = store
        self.activities: dict[str, list[Activity]] = {}
        self._lock = threading.Lock()

    def page(self, case_id: str, *, limit: int, cursor: str | None) -> Page[Activity]:
        logged = self.activities.get(case_id, [])
        start = int(cursor) if cursor else 0
        page = logged[start : start + limit]
        more = start + limit < len(logged)
        return Page[Activity](items=page, next_cursor=str(start + limit) if more else None)

    def billable(self, case_id: str) -> Iterator[Activity]:
        yield from (activity for activity in self.activities.get(case_id, []) if activity.billable)

    def append(self, writes: Sequence[StoredWrite], *, activity: Activity) -> None:
        with self._lock:
            case_id = writes[0].key.record_id
            logged = self.activities.setdefault(case_id, [])
            current = self._store.records.get((EntityName.CASE, case_id))
            if current is None:
                raise NotFoundError(f"{case_id} does not exist")
            if current.version != writes[0].expected_version:
                raise StaleVersionError("stale", expected=writes[0].expected_version, current=current.version)
            if any(existing.number == activity.number for existing in logged):
                raise AlreadyExistsError(f"activity {activity.number} exists")
            self._store.commit(writes)  # the same conditions as the one write path's transaction
            logged.append(activity)


class InMemoryRecordFinder:
    """Matches top-level fields exactly; the cursor is the last id returned."""

    def __init__(self, store: InMemoryRecordStore) -> None:
        self._store = store

    def find(
        self, entity: EntityName, where: dict[str, FieldValue], *, limit: int, cursor: str | None
    ) -> Page[HubRecord]:
        matching = sorted(
            (record for (kind, _), record in self._store.records.items() if kind is entity),
            key=lambda record: record.id,
        )
        matching = [r for r in matching if all(r.fields.get(name) == value for name, value in where.items())]
        after = [r for r in matching if cursor is None or r.id > cursor]
        page = after[:limit]
        return Page[HubRecord](items=page, next_cursor=page[-1].id if len(after) > limit else None)
