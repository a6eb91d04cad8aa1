"""The Related Cases tab: links to other cases, with their subject, status, owner and workgroup."""

from __future__ import annotations

from sync_core.domain.cases.models import CaseRecord, RelatedCase, RelatedCaseView
from sync_core.domain.cases.related_cases import add_related_case, remove_related_case
from sync_core.domain.entities import EntityName
from sync_core.errors import NotFoundError, ValidationFailedError
from sync_core.services.cases.records import CaseRecords


class RelatedCasesService:
    def __init__(self, *, cases: CaseRecords) -> None:
        self._cases = cases

    def related_cases(self, case_id: str) -> list[RelatedCaseView]:
        links = self._cases.get(case_id).fields.related_cases
        return [self._related_view(link) for link in links]

    def relate_case(self, case_id: str, link: RelatedCase, *, actor: str, expected_version: int | None) -> CaseRecord:
        current = self._cases.current(case_id, expected_version)
        if self._cases.records.get(EntityName.CASE, link.case_id) is None:
            raise ValidationFailedError(f"case {link.case_id} does not exist", field="case_id")
        updated = add_related_case(current.fields, link.case_id, link.relation, case_id=case_id)
        return self._cases.save(current, updated, actor=actor)

    def unrelate_case(self, case_id: str, related_id: str, *, actor: str, expected_version: int | None) -> CaseRecord:
        current = self._cases.current(case_id, expected_version)
        if all(link.case_id != related_id for link in current.fields.related_cases):
            raise NotFoundError(f"case {case_id} has no related case {related_id}")
        return self._cases.save(current, remove_related_case(current.fields, related_id), actor=actor)

    def _related_view(self, link: RelatedCase) -> RelatedCaseView:
        related = self._cases.get(link.case_id).fields
        return RelatedCaseView(
            case_id=link.case_id,
            relation=link.relation,
            subject=related.subject,
            status=related.status,
            owner=related.owner,
            workgroup_id=related.workgroup_id,
        )
