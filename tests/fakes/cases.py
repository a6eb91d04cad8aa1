"""In-memory case settings, record finder and all-or-nothing batch writer (unit tests of the cases service)."""

from __future__ import annotations

from collections.abc import Sequence

from sync_core.domain.cases import AssignmentRules, CaseClass, Contract, Workgroup
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord, Page
from sync_core.domain.sync_state import SyncState
from sync_core.errors import AlreadyExistsError, NotFoundError, StaleVersionError
from sync_core.ports.stores import FieldValue
from tests.fakes.records import InMemoryRecordStore


class InMemoryCaseSettingsStore:
    def __init__(self) -> None:
        self.classes: dict[str, CaseClass] = {}
        self.workgroups: dict[str, Workgroup] = {}
        self.contracts: dict[str, Contract] = {}
        self.assignment_rules = AssignmentRules()

    def get_class(self, class_id: str) -> CaseClass | None:
        return self.classes.get(class_id)

    def list_classes(self) -> list[CaseClass]:
        return list(self.classes.values())

    def put_class(self, case_class: CaseClass) -> None:
        self.classes[case_class.class_id] = case_class

    def get_workgroup(self, workgroup_id: str) -> Workgroup | None:
        return self.workgroups.get(workgroup_id)

    def list_workgroups(self) -> list[Workgroup]:
        return list(self.workgroups.values())

    def put_workgroup(self, workgroup: Workgroup) -> None:
        self.workgroups[workgroup.workgroup_id] = workgroup

    def get_contract(self, contract_id: str) -> Contract | None:
        return self.contracts.get(contract_id)

    def list_contracts(self) -> list[Contract]:
        return list(self.contracts.values())

    def put_contract(self, contract: Contract) -> None:
        self.contracts[contract.contract_id] = contract

    def get_assignment_rules(self) -> AssignmentRules:
        return self.assignment_rules

    def put_assignment_rules(self, rules: AssignmentRules) -> None:
        self.assignment_rules = rules


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


class InMemoryRecordBatchWriter:
    """Checks every condition before writing anything, as one DynamoDB transaction would."""

    def __init__(self, store: InMemoryRecordStore) -> None:
        self._store = store

    def write_together(
        self,
        *,
        creates: Sequence[tuple[HubRecord, SyncState]] = (),
        replaces: Sequence[tuple[HubRecord, SyncState, int]] = (),
    ) -> None:
        for record, _, expected in replaces:
            current = self._store.records.get((record.entity, record.id))
            if current is None:
                raise NotFoundError(f"{record.id} does not exist")
            if current.version != expected:
                raise StaleVersionError("stale", expected=expected, current=current.version)
        for record, _ in creates:
            if (record.entity, record.id) in self._store.records:
                raise AlreadyExistsError(f"{record.id} exists")
        written = [(record, state) for record, state, _ in replaces] + list(creates)
        for record, state in written:
            self._store.records[(record.entity, record.id)] = record
            self._store.states[(record.entity, record.id)] = state
