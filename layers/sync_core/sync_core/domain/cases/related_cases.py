"""The Related Cases tab: links to other cases (Blocks, Depends On, Related, Duplicate Of), kept in the case."""

from __future__ import annotations

from sync_core.domain.cases.models import MAX_RELATED_CASES, Case, RelatedCase
from sync_core.domain.cases.vocabulary import RelationType
from sync_core.errors import ValidationFailedError


def add_related_case(case: Case, related_id: str, relation: RelationType, *, case_id: str) -> Case:
    """Relate another case, or change the relation to it; at most MAX_RELATED_CASES links (422 beyond)."""
    if related_id == case_id:
        raise ValidationFailedError("a case cannot be related to itself", field="case_id")
    others = [link for link in case.related_cases if link.case_id != related_id]
    if len(others) >= MAX_RELATED_CASES:
        raise ValidationFailedError(
            f"a case has at most {MAX_RELATED_CASES} related cases: remove one first", field="case_id"
        )
    return case.model_copy(update={"related_cases": [*others, RelatedCase(case_id=related_id, relation=relation)]})


def remove_related_case(case: Case, related_id: str) -> Case:
    return case.model_copy(
        update={"related_cases": [link for link in case.related_cases if link.case_id != related_id]}
    )
