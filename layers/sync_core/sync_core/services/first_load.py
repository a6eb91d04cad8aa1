"""First loads (Process All): match an entity's records on both sides before creating anything, then queue
what the match decided, or (a dry run) only report it.

`first_load(entity, dry_run=...)` reads every hub record of the entity with its sync state and every live
Salesforce row of its object (REST `queryAll` of `IsDeleted = false`, or a Bulk API 2.0 query above the pull
threshold), plans each record with domain.sync.first_load and, unless it is a dry run:
- link: queues the Salesforce row as an inbound change naming the hub record by its external id, so the import
  links it in its one transaction (the link claim refuses a second owner) and applies the entity's conflict
  policy (both sides changed since a sync that never happened);
- create in hub: queues the row as an inbound change (the import creates the record, linked);
- create in Salesforce, update: queues an export request (the export upserts on the external id, so a retry
  never duplicates);
- ambiguous: one error-log entry per hub record (code AMBIGUOUS_MATCH, open) naming the candidates, and the
  record's state set to Error with it, so neither a scheduled push nor this load sends it;
- leave: nothing.
A dry run reads the same and writes nothing to either side (the API budget's counter still counts its reads).
The workers do the work, as for the scheduled sync: the report counts what was queued.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync_core.domain.entities import EntityName
from sync_core.domain.error_log import ErrorDirection, ErrorStatus, remembering
from sync_core.domain.records import HubRecord
from sync_core.domain.sync.changes import Change, ChangeSource, export_change
from sync_core.domain.sync.config import effective_mapping
from sync_core.domain.sync.first_load import (
    HubSide,
    Planned,
    SalesforceSide,
    Step,
    matching_fields,
    matching_targets,
    plan_first_load,
)
from sync_core.domain.sync.schedule import pull_soql, pulled_change, typed_bulk_row
from sync_core.domain.sync.transitions import Actor, Happened, SyncEvent
from sync_core.domain.sync_state import SyncOperation, SyncStatus
from sync_core.errors import ValidationFailedError
from sync_core.ports.queues import ExportQueue, ImportQueue
from sync_core.ports.salesforce import SalesforceApi, SalesforceRecord
from sync_core.ports.stores import Clock, ErrorLog, RecordStore, SyncConfigStore
from sync_core.ports.sync import RecordKey, SyncStore
from sync_core.services.sync_writer import RecordWrite, SyncWriter

SAMPLES = 5  # per action in the report
PAGE = 500  # hub records listed a page at a time
AMBIGUOUS_CODE = "AMBIGUOUS_MATCH"


@dataclass
class FirstLoadReport:
    entity: EntityName
    dry_run: bool
    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    queued: int = 0
    refused: int = 0
    flagged: int = 0  # ambiguous records written to the error log
    hub_records: int = 0
    salesforce_records: int = 0
    matched_by: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity.value,
            "dry_run": self.dry_run,
            "hub_records": self.hub_records,
            "salesforce_records": self.salesforce_records,
            "matched_by": ["external id", *self.matched_by],
            "counts": {action.value: self.counts.get(action.value, 0) for action in Planned},
            "samples": self.samples,
            "queued": self.queued,
            "refused": self.refused,
            "flagged": self.flagged,
        }


class FirstLoadService:
    def __init__(
        self,
        *,
        configs: SyncConfigStore,
        records: RecordStore,
        store: SyncStore,
        writer: SyncWriter,
        error_log: ErrorLog,
        salesforce: Callable[[], SalesforceApi],
        import_queue: ImportQueue,
        export_queue: ExportQueue,
        clock: Clock,
        bulk_threshold: int = 10_000,
    ) -> None:
        self._configs = configs
        self._records = records
        self._store = store
        self._writer = writer
        self._error_log = error_log
        self._salesforce = salesforce
        self._import_queue = import_queue
        self._export_queue = export_queue
        self._clock = clock
        self._bulk_threshold = bulk_threshold

    def first_load(self, entity: EntityName, *, dry_run: bool) -> FirstLoadReport:
        config = self._configs.get(entity)
        if not (config.imports or config.exports):
            raise ValidationFailedError(
                f"{entity.value} neither imports nor exports (status {config.status.value}): start it first",
                field="entity",
            )
        mapping = effective_mapping(config)
        fields = matching_fields(entity, config.matching_fields)
        matching = matching_targets(mapping, fields)
        report = FirstLoadReport(entity, dry_run, matched_by=[", ".join(fields)] if matching else [])
        hub = self._hub_side(entity)
        rows = self._salesforce_rows(
            mapping.salesforce_object,
            pull_soql(
                mapping,
                since=None,
                filters=" AND ".join(f"({part})" for part in ("IsDeleted = false", config.filters) if part),
                extra=[salesforce_field for _, salesforce_field in matching],
            ),
        )
        report.hub_records, report.salesforce_records = len(hub), len(rows)
        steps = plan_first_load(
            list(hub.values()),
            [SalesforceSide(str(row["Id"]), row) for row in rows],
            external_id_field=mapping.external_id_field,
            matching=matching,
            creates_in_salesforce=config.exports and not config.sync_only_linked,
            creates_in_hub=config.imports and not config.sync_only_linked,
        )
        for step in steps:
            report.counts[step.action.value] += 1
            shown = report.samples.setdefault(step.action.value, [])
            if len(shown) < SAMPLES:
                shown.append(step.sample())
        if not dry_run:
            self._carry_out(
                entity, steps, hub, {str(row["Id"]): row for row in rows}, mapping.external_id_field, report
            )
        return report

    # ------------------------------------------------------------------ reading both sides

    def _hub_side(self, entity: EntityName) -> dict[str, HubSide]:
        found: dict[str, HubSide] = {}
        cursor: str | None = None
        while True:
            page = self._records.list(entity, limit=PAGE, cursor=cursor)
            found.update(self._with_states(entity, page.items))
            cursor = page.next_cursor
            if cursor is None:
                return found

    def _with_states(self, entity: EntityName, records: Sequence[HubRecord]) -> Iterable[tuple[str, HubSide]]:
        stored = self._store.read([RecordKey(entity, record.id) for record in records])
        for record in records:
            state = stored[RecordKey(entity, record.id)].state
            in_sync = state is not None and state.status in (SyncStatus.SYNCHRONIZED, SyncStatus.SKIPPED)
            yield (
                record.id,
                HubSide(record.id, record.fields, record.version, state.external_ref if state else None, in_sync),
            )

    def _salesforce_rows(self, sobject: str, soql: str) -> list[SalesforceRecord]:
        salesforce = self._salesforce()
        first = salesforce.query_all_page(soql)
        if first.next_records_url is None:
            return first.records
        if first.total_size <= self._bulk_threshold:
            return [*first.records, *salesforce.query_more(first.next_records_url)]
        description = salesforce.describe(sobject)
        unordered = soql.removesuffix(" ORDER BY SystemModstamp ASC")
        return [typed_bulk_row(row, description) for row in salesforce.bulk_query(unordered, include_deleted=True)]

    # ------------------------------------------------------------------ doing it

    def _carry_out(
        self,
        entity: EntityName,
        steps: Sequence[Step],
        hub: dict[str, HubSide],
        rows: dict[str, SalesforceRecord],
        external_id_field: str,
        report: FirstLoadReport,
    ) -> None:
        now = self._clock.now()
        inbound: list[Change] = []
        exports: list[Change] = []
        for step in steps:
            if step.action is Planned.LINK and step.salesforce_id and step.hub_id:
                change = pulled_change(rows[step.salesforce_id], entity)
                # The link instruction: the row named as the hub record's, as Salesforce names a record it holds
                # the hub id of; the import relinks such a row in its one transaction (the link claim).
                inbound.append(
                    change.model_copy(
                        update={
                            "values": {**change.values, external_id_field: step.hub_id},
                            "cleared_fields": [name for name in change.cleared_fields if name != external_id_field],
                            "source": ChangeSource.ADMIN,
                            "change_id": f"first load:{change.change_id}",
                        }
                    )
                )
            elif step.action is Planned.CREATE_IN_HUB and step.salesforce_id:
                change = pulled_change(rows[step.salesforce_id], entity)
                inbound.append(
                    change.model_copy(
                        update={"source": ChangeSource.ADMIN, "change_id": f"first load:{change.change_id}"}
                    )
                )
            elif step.action in (Planned.CREATE_IN_SALESFORCE, Planned.UPDATE) and step.hub_id:
                version = hub[step.hub_id].version
                exports.append(export_change(entity, step.hub_id, version, source=ChangeSource.ADMIN, stamp=now))
            elif step.action is Planned.AMBIGUOUS and step.hub_id:
                self._flag(entity, step, now)
                report.flagged += 1
        inbound.sort(key=lambda change: change.stamp)
        for queue, changes in ((self._import_queue, inbound), (self._export_queue, exports)):
            refused = queue.send(changes) if changes else []
            report.queued += len(changes) - len(refused)
            report.refused += len(refused)

    def _flag(self, entity: EntityName, step: Step, now: datetime) -> None:
        assert step.hub_id is not None
        message = step.message(entity)
        entry = self._error_log.record_failure(
            entity=entity,
            record_id=step.hub_id,
            direction=ErrorDirection.FROM_SALESFORCE,
            operation=SyncOperation.INSERT,
            code=AMBIGUOUS_CODE,
            message=message,
            payload={
                "candidates": list(step.candidates),
                "other_hub_records": list(step.others),
                "matched_by": step.matched_by,
            },
            status=ErrorStatus.OPEN,
            now=now,
        )
        key = RecordKey(entity, step.hub_id)
        state = self._store.read_state(key)
        held = state.open_errors if state else []
        self._writer.write(
            RecordWrite(
                key,
                Happened(
                    actor=Actor.SYNC_IMPORT, event=SyncEvent.CONFLICT, operation=SyncOperation.INSERT, message=message
                ),
                state_changes={"open_errors": remembering(held, entry.id)},
            ),
            previous=state,
        )
