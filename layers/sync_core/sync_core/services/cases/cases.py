"""Cases themselves: create (numbered from the sequence), read, list and PATCH, checked by the form's rules."""

from __future__ import annotations

from typing import Any

from sync_core.domain.cases.editing import new_case, update_case
from sync_core.domain.cases.models import CaseCreate, CaseRecord, CaseUpdate
from sync_core.domain.cases.vocabulary import CaseStatus, format_case_id
from sync_core.domain.entities import EntityName
from sync_core.domain.records import Page
from sync_core.ports.stores import FieldValue, RecordFinder, SequenceStore
from sync_core.services.cases.records import CaseRecords
from sync_core.services.cases.references import CaseReferenceLoader

CASE_SEQUENCE = f"record#{EntityName.CASE.value}"


class CaseService:
    def __init__(
        self,
        *,
        cases: CaseRecords,
        references: CaseReferenceLoader,
        finder: RecordFinder,
        sequences: SequenceStore,
    ) -> None:
        self._cases = cases
        self._references = references
        self._finder = finder
        self._sequences = sequences

    def create_case(self, draft: CaseCreate, *, actor: str) -> CaseRecord:
        """A new case (status New): class defaults, default contact, SLA; numbered only once it is valid."""
        refs = self._references.references(
            draft.class_id,
            workgroup_id=draft.workgroup_id,
            contract_id=draft.contract_id,
            contact_id=draft.contact_id,
            chosen_account_id=draft.account_id,
        )
        now = self._cases.clock.now()
        case = new_case(draft, refs, now=now)
        case_id = format_case_id(self._sequences.next_value(CASE_SEQUENCE))
        record = CaseRecord(id=case_id, version=1, fields=case, created_at=now, updated_at=now, updated_by=actor)
        self._cases.create(record, now=now)
        return record

    def get_case(self, case_id: str) -> CaseRecord:
        return self._cases.get(case_id)

    def list_cases(
        self,
        *,
        status: CaseStatus | None = None,
        owner: str | None = None,
        account_id: str | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[CaseRecord]:
        wanted: dict[str, FieldValue | None] = {"status": status, "owner": owner, "account_id": account_id}
        where = {name: value for name, value in wanted.items() if value is not None}
        page = self._finder.find(EntityName.CASE, where, limit=limit, cursor=cursor)
        return Page[CaseRecord](
            items=[CaseRecord.from_hub_record(item) for item in page.items], next_cursor=page.next_cursor
        )

    def update_case(self, case_id: str, update: CaseUpdate, *, actor: str, expected_version: int | None) -> CaseRecord:
        """A PATCH, checked by the same rules as a new case (class, contact, owner, billing)."""
        current = self._cases.current(case_id, expected_version)
        changes = update.changes()
        fields = current.fields

        def final(name: str) -> Any:
            return changes[name] if name in changes else getattr(fields, name)

        account_changed = changes.get("account_id") not in (None, fields.account_id)
        refs = self._references.references(
            final("class_id"),
            workgroup_id=final("workgroup_id"),
            contract_id=final("contract_id"),
            contact_id=final("contact_id"),
            contact_must_exist="contact_id" in changes,
            chosen_account_id=changes["account_id"] if account_changed else None,
        )
        # Billable time is computed again with the (new) class: Per Activity needs its sums for that class.
        fields = self._cases.with_sums_for(case_id, fields, refs.case_class)
        return self._cases.save(current, update_case(fields, update, refs), actor=actor)
