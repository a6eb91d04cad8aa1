"""The change-event consumer: one Salesforce change event (Event Relay) in, the engine's changes on the FIFO
sync queue out (sync_core.domain.sync.change_events has the rules).

Nothing is lost: when the queue refuses a change, `receive` raises RetryableError and the whole event is
delivered again (Lambda's asynchronous retries, then its failure destination); the changes already queued are
dropped by SQS as repeats (the same deduplication ids within five minutes), and later by the engine's merge
(nothing newer to apply). Re-reads (diff fields, gap events) call Salesforce's REST API once per 200 records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sync_core.domain.sync.change_events import (
    ChangeEventPayload,
    EventPlan,
    change_from_reread,
    fields_to_reread,
    find_record,
    imported_field_names,
    plan_change_event,
    record_soql,
    with_reread_fields,
)
from sync_core.domain.sync.changes import Change, ChangeOperation
from sync_core.errors import RetryableError
from sync_core.ports.pulls import PullRequests
from sync_core.ports.queues import ImportQueue
from sync_core.ports.salesforce import SalesforceApi
from sync_core.services.sync_config import SyncConfigCache

IDS_PER_QUERY = 200  # 200 ids of 18 characters keep the query's URL far below Salesforce's limit


class EventOutcome(StrEnum):
    QUEUED = "queued"
    ECHO = "echo"  # the hub's own write: dropped
    NOT_SYNCED = "not synced"  # no hub entity syncs the object
    PULL_REQUESTED = "pull requested"


@dataclass(frozen=True)
class EventResult:
    outcome: EventOutcome
    entity: str
    change_type: str
    change_id: str
    queued: int = 0
    reread: int = 0  # records read through the REST API
    reason: str | None = None


class ChangeEventService:
    def __init__(
        self,
        *,
        queue: ImportQueue,
        configs: SyncConfigCache,
        salesforce: Callable[[], SalesforceApi],
        pulls: PullRequests,
        hub_client_id: str,
    ) -> None:
        self._queue = queue
        self._configs = configs
        self._salesforce = salesforce  # built per event, and only for an event that needs a read
        self._pulls = pulls
        self._hub_client_id = hub_client_id

    def receive(self, payload: ChangeEventPayload) -> EventResult:
        header = payload.header
        entity = self._configs.entity_of(header.entity_name)
        if entity is None:
            reason = f"no hub entity syncs {header.entity_name}"
            return EventResult(EventOutcome.NOT_SYNCED, header.entity_name, *self._facts(payload), reason=reason)
        plan = plan_change_event(payload, entity, hub_client_id=self._hub_client_id)
        if plan.echo:
            return EventResult(
                EventOutcome.ECHO, entity.value, *self._facts(payload), reason=f"changeOrigin {header.change_origin}"
            )
        if plan.pull_reason is not None:
            self._pulls.request(entity, reason=plan.pull_reason, at=header.stamp)
            return EventResult(
                EventOutcome.PULL_REQUESTED, entity.value, *self._facts(payload), reason=plan.pull_reason
            )
        changes, reread = self._complete(plan)
        refused = self._queue.send(changes)
        if refused:
            raise RetryableError(
                f"{len(refused)} of {len(changes)} changes of change event {header.change_id} could not be queued",
                entity=entity.value,
                record_ids=[change.salesforce_id for change in refused],
            )
        return EventResult(EventOutcome.QUEUED, entity.value, *self._facts(payload), queued=len(changes), reread=reread)

    @staticmethod
    def _facts(payload: ChangeEventPayload) -> tuple[str, str]:
        return payload.header.change_type.value, payload.header.change_id

    def _complete(self, plan: EventPlan) -> tuple[list[Change], int]:
        """The plan's changes with what Salesforce holds now for what the event could not carry."""
        mapping = self._configs.mapping(plan.entity)
        diff_fields = fields_to_reread(plan, mapping)
        readable = [change for change in plan.changes if change.operation is not ChangeOperation.DELETE]
        if plan.reread_records:
            fields = imported_field_names(mapping)
            records = self._read(mapping.salesforce_object, ["SystemModstamp", *fields], plan.reread_records)
            changes = [
                change_from_reread(plan, record_id, find_record(records, record_id), fields)
                for record_id in plan.reread_records
            ]
            return changes, len(plan.reread_records)
        if not diff_fields or not readable:
            return plan.changes, 0
        ids = [str(change.salesforce_id) for change in readable]
        records = self._read(mapping.salesforce_object, diff_fields, ids)
        changes = [
            with_reread_fields(change, find_record(records, str(change.salesforce_id)), diff_fields)
            if change.operation is not ChangeOperation.DELETE
            else change
            for change in plan.changes
        ]
        return changes, len(ids)

    def _read(self, sobject: str, fields: list[str], record_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The records that exist, by id (one query per IDS_PER_QUERY ids; Salesforce's errors raise)."""
        salesforce = self._salesforce()
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(record_ids), IDS_PER_QUERY):
            soql = record_soql(sobject, fields, record_ids[start : start + IDS_PER_QUERY])
            for record in salesforce.query(soql):
                found[str(record["Id"])] = record
        return found
