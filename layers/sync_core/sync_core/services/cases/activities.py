"""A case's activities: logged one at a time with the case's running totals, listed page by page."""

from __future__ import annotations

from sync_core.domain.cases.activities import Activity, ActivityInput, log_activity
from sync_core.domain.cases.models import CaseRecord
from sync_core.domain.records import Page
from sync_core.errors import RetryableError, StaleVersionError
from sync_core.services.cases.records import CaseRecords
from sync_core.services.cases.references import CaseReferenceLoader

# Logging an activity without If-Match is an append: losing a race to another write of the case only means
# reading it again. Bounded, so a case written without pause still answers (409) rather than spin.
APPEND_ATTEMPTS = 10


class CaseActivitiesService:
    def __init__(self, *, cases: CaseRecords, references: CaseReferenceLoader) -> None:
        self._cases = cases
        self._references = references

    def activities(self, case_id: str, *, limit: int, cursor: str | None) -> Page[Activity]:
        """Oldest first (the order they were logged in); 404 for a case that does not exist."""
        self._cases.get(case_id)
        return self._cases.activities.page(case_id, limit=limit, cursor=cursor)

    def add_activity(
        self, case_id: str, activity: ActivityInput, *, actor: str, expected_version: int | None
    ) -> tuple[CaseRecord, Activity]:
        """Log an activity (its author is the caller): the activity, and the case with its totals moved on.

        With If-Match the write is conditional on that version (412/409 when it moved on). Without it, a write
        that loses a race with another one is tried again on the case as it now is, so concurrent activities
        are all kept.
        """
        for attempt in range(1, APPEND_ATTEMPTS + 1):
            try:
                return self._append(case_id, activity, actor=actor, expected_version=expected_version)
            except (StaleVersionError, RetryableError):
                if expected_version is not None or attempt == APPEND_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _append(
        self, case_id: str, activity: ActivityInput, *, actor: str, expected_version: int | None
    ) -> tuple[CaseRecord, Activity]:
        current = self._cases.current(case_id, expected_version)
        case_class = self._references.case_class(current.fields.class_id)
        case = self._cases.with_sums_for(case_id, current.fields, case_class)
        now = self._cases.clock.now()
        updated, logged = log_activity(case, activity, case_class=case_class, actor=actor, now=now)
        record = self._cases.append_activity(current, updated, logged, actor=actor, now=now)
        return record, logged
