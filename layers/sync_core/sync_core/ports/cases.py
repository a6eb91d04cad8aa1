"""What the case services need stored: the case settings (one generic store) and a case's activities."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from pydantic import BaseModel

from sync_core.domain.cases.activities import Activity
from sync_core.domain.cases.settings import AssignmentRule, SettingKind
from sync_core.domain.records import Page
from sync_core.ports.sync import StoredWrite


class CaseSettingsStore(Protocol):
    """Every kind of case setting (kept in the sync config table): keyed kinds, and the assignment map."""

    def get[M: BaseModel](self, kind: SettingKind[M], setting_id: str) -> M | None: ...

    def list_all[M: BaseModel](self, kind: SettingKind[M]) -> list[M]:
        """Every setting of the kind, in id order."""
        ...

    def put[M: BaseModel](self, kind: SettingKind[M], value: M) -> None: ...

    def assignment_rules(self) -> list[AssignmentRule]:
        """The assignment map in its order, read in one (paged) query; no rules when it was never set."""
        ...

    def replace_assignment_rules(self, rules: Sequence[AssignmentRule]) -> None:
        """Replace the whole map at once (all or nothing).

        Raises StaleVersionError when another replacement landed between reading and writing.
        """
        ...


class CaseActivityStore(Protocol):
    """A case's activities, each an item of its own, in the order they were logged (their number)."""

    def page(self, case_id: str, *, limit: int, cursor: str | None) -> Page[Activity]:
        """Oldest first; next_cursor is None on the last page. A cursor of another case is a ValidationFailedError."""
        ...

    def billable(self, case_id: str) -> Iterator[Activity]:
        """Every billable activity of the case, oldest first, read page by page."""
        ...

    def append(self, writes: Sequence[StoredWrite], *, activity: Activity) -> None:
        """Write the activity with the case's next version (its totals) and sync state, as the one write path
        planned them (`writes`, see SyncStore.commit), in one transaction.

        Raises StaleVersionError (or NotFoundError) when the case is no longer at the version the write expects.
        """
        ...
