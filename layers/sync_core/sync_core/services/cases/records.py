"""Reading and writing case records: 404s, the If-Match check, the next version with its sync state.

Every case service writes through here, and here through the one write path (SyncWriter): every write leaves
the case Modified Locally for the export and is conditional on the version it read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sync_core.domain.cases.activities import Activity, rebased_totals
from sync_core.domain.cases.billing import needs_rebasing
from sync_core.domain.cases.models import Case, CaseRecord
from sync_core.domain.cases.settings import CaseClass
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.domain.sync.transitions import Actor, SyncEvent
from sync_core.errors import NotFoundError, StaleVersionError
from sync_core.ports.cases import CaseActivityStore
from sync_core.ports.stores import Clock, RecordStore
from sync_core.services.sync_writer import SyncWriter, user_write


class CaseRecords:
    """The case records the case services share."""

    def __init__(
        self,
        *,
        records: RecordStore,
        writer: SyncWriter,
        activities: CaseActivityStore,
        clock: Clock,
    ) -> None:
        self.records = records
        self.activities = activities
        self.clock = clock
        self._writer = writer

    def get(self, case_id: str) -> CaseRecord:
        record = self.records.get(EntityName.CASE, case_id)
        if record is None:
            raise NotFoundError(f"case {case_id} does not exist")
        return CaseRecord.from_hub_record(record)

    def current(self, case_id: str, expected_version: int | None) -> CaseRecord:
        """The case, refusing at once an If-Match that is already stale (412 before any rule runs)."""
        current = self.get(case_id)
        if expected_version is not None and expected_version != current.version:
            raise StaleVersionError(
                f"case {case_id} is at version {current.version}, not {expected_version}",
                expected=expected_version,
                current=current.version,
            )
        return current

    def with_sums_for(self, case_id: str, case: Case, case_class: CaseClass) -> Case:
        """The case with per-activity billable sums taken with the class's rounding (read again after a class
        edit, from the billable activities page by page); unchanged when they already are."""
        if not needs_rebasing(case, case_class):
            return case
        totals = rebased_totals(case.activity_totals, self.activities.billable(case_id), case_class)
        return case.model_copy(update={"activity_totals": totals})

    def next_version(self, current: CaseRecord, case: Case, *, actor: str, now: datetime) -> CaseRecord:
        return current.model_copy(
            update={"version": current.version + 1, "fields": case, "updated_at": now, "updated_by": actor}
        )

    def create(self, record: CaseRecord, *, now: datetime) -> None:
        self._writer.write(user_write(record.to_hub_record(), SyncEvent.INSERT, expected_version=None), previous=None)

    def save(
        self,
        current: CaseRecord,
        case: Case,
        *,
        actor: str,
        now: datetime | None = None,
        created: Sequence[HubRecord] = (),
    ) -> CaseRecord:
        """Write the next version, conditional on the version read, with any records the change creates (a
        release's invoice and contract usage: written by the hub itself, actor SYSTEM) in the same transaction."""
        now = now or self.clock.now()
        record = self.next_version(current, case, actor=actor, now=now)
        writes = [user_write(record.to_hub_record(), SyncEvent.UPDATE, expected_version=current.version)]
        writes += [user_write(new, SyncEvent.INSERT, expected_version=None, actor=Actor.SYSTEM) for new in created]
        self._writer.write_together(writes, previous={write.key: None for write in writes[1:]})
        return record

    def append_activity(
        self, current: CaseRecord, case: Case, activity: Activity, *, actor: str, now: datetime
    ) -> CaseRecord:
        """The case's next version (its totals) with a new activity, in one transaction."""
        record = self.next_version(current, case, actor=actor, now=now)
        write = user_write(record.to_hub_record(), SyncEvent.UPDATE, expected_version=current.version)
        self._writer.write(write, commit=lambda writes: self.activities.append(writes, activity=activity))
        return record


def new_record(entity: EntityName, record_id: str, fields: dict[str, Any], actor: str, now: datetime) -> HubRecord:
    """A record a case change creates (an invoice, contract usage)."""
    return HubRecord(
        entity=entity, id=record_id, version=1, fields=fields, created_at=now, updated_at=now, updated_by=actor
    )
