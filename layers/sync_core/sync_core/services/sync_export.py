"""Export: send the CURRENT state of a batch of hub records to Salesforce, in as few API calls as possible.

One run, for the keys an export queue batch named:
1. read the records and their states (BatchGetItem, 50 records a request); skip those already Synchronized
   at their version, deleted, or of an entity that does not export;
2. read the links their references need (parents' states for hub records; child rows and price book
   entries by their keys) in one batched read;
3. map each with to_salesforce, group the rows by Salesforce object, never naming one external id twice in
   one request, and upsert each group through the Salesforce port (Composite of 5 Collections = 1,000
   records a call; Bulk 2.0 above its threshold);
4. record each record's outcome through the SyncWriter (actor EXPORT_RESULT): success -> Synchronized with
   its link and the hashes echo detection compares (or Modified Locally if it changed since: it is exported
   again); a child whose parent has no Salesforce id yet -> parked until the parent links; a permanent
   failure -> Error and the error log; a retryable one -> returned as a failed key (the queue retries it);
   deferred by the API budget -> parked until the budget allows.
Records whose parent is in the same batch go in a later pass of the same run, right after their parent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync_core.domain.cases.salesforce_case import WORKFLOW_CONFLICT
from sync_core.domain.entities import EntityName
from sync_core.domain.error_log import ErrorDirection, ErrorStatus, error_id, import_side, remembering, resolved
from sync_core.domain.records import HubRecord
from sync_core.domain.salesforce import DeferralReason, RecordResult, WriteOutcome
from sync_core.domain.sync.hub_schema import get_path
from sync_core.domain.sync.mapping import EntityMapping, ReferenceMap
from sync_core.domain.sync.outbox import SYNC_WRITERS
from sync_core.domain.sync.policy import HubDeletePolicy
from sync_core.domain.sync.transitions import Actor, Happened, SyncEvent
from sync_core.domain.sync.translate import (
    SALESFORCE_ID_FIELD,
    ExportOutcome,
    ExportValues,
    MappingFailure,
    UpsertRow,
    WaitsForParent,
    to_salesforce,
)
from sync_core.domain.sync.workflow_hooks import workflow_export_values
from sync_core.domain.sync_state import SyncOperation, SyncState, SyncStatus
from sync_core.ports.salesforce import SalesforceApi
from sync_core.ports.stores import Clock, ErrorLog
from sync_core.ports.sync import LinkClaim, LinkLookup, LinkStore, ParkedExport, ParkedWork, RecordKey, SyncStore
from sync_core.services.sync_config import SyncConfigCache
from sync_core.services.sync_writer import RecordWrite, SyncWriter

# Deferrals that mean "the budget is spent" (parked until it allows); throttling and outages are retried instead.
BUDGET_REASONS = frozenset({DeferralReason.RUN_CAP, DeferralReason.HUB_SHARE, DeferralReason.ORG_ALLOCATION})
# Salesforce objects the hub links by name, read from Salesforce when first needed (price books).
LOOKED_UP_KINDS = frozenset({"Pricebook2"})
STANDARD_PRICE_BOOK = "Standard"
ENTITY_KINDS = frozenset(entity.value for entity in EntityName)  # the hub's name for the org's standard price book
# Budget-parked exports re-queued by a run that found budget (a batch's worth: the queue paces the rest).
BUDGET_REQUEUE_LIMIT = 1000
UNRESOLVED = frozenset({ErrorStatus.OPEN, ErrorStatus.RETRYING, ErrorStatus.DEAD})
# A record whose parent is in the same batch waits for it within the run, at most this many passes deep
# (Account -> Opportunity -> Quote -> lines is four).
MAX_PASSES = 6


# A delete of a record Salesforce no longer has (deleted there too, meanwhile) has nothing left to do.
GONE_ALREADY = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})


def _delete_to_send(state: SyncState) -> bool:
    """A hub delete to send: deleted by a user, an integration or the system (never the sync's own delete of a
    record Salesforce deleted), and not yet synchronized."""
    return (
        state.operation is SyncOperation.DELETE
        and state.status is not SyncStatus.SYNCHRONIZED
        and state.deleted_by not in SYNC_WRITERS
    )


@dataclass
class ExportReport:
    """What one export run did, per record key."""

    exported: list[RecordKey] = field(default_factory=list)
    skipped: list[RecordKey] = field(default_factory=list)  # already synchronized, deleted, or not exporting
    parked: list[RecordKey] = field(default_factory=list)  # waiting for a parent's link or for the budget
    errors: list[RecordKey] = field(default_factory=list)  # permanent failures: status Error + error log
    failed: list[RecordKey] = field(default_factory=list)  # retryable: report them as batch item failures
    requeue: list[RecordKey] = field(default_factory=list)  # to queue again: children of linked parents, ...
    linked: list[tuple[str, str]] = field(default_factory=list)  # (kind, hub key) linked by this run


@dataclass
class _Item:
    key: RecordKey
    record: HubRecord
    state: SyncState | None
    mapping: EntityMapping
    values: ExportValues | None = None
    results: list[tuple[UpsertRow, RecordResult]] = field(default_factory=list)
    deferred: datetime | None = None
    deferred_reason: str | None = None
    unavailable: str | None = None  # the call carrying its rows failed in a way a retry may pass


def _parents_wanted(record: HubRecord, mapping: EntityMapping) -> set[tuple[str, str]]:
    """The (kind, hub key) links to_salesforce will ask for: references, child rows and their references."""
    wanted: set[tuple[str, str]] = set()

    def add(reference: ReferenceMap, fields: dict[str, Any], parent: dict[str, Any]) -> None:
        value = get_path(fields, reference.hub_field)
        if value is None or not reference.direction.exports:
            return
        try:
            wanted.add((reference.parent, reference.key_format.format(value=value, parent=parent)))
        except (KeyError, IndexError, ValueError):
            return  # to_salesforce reports the record's own problem

    for reference in mapping.references:
        add(reference, record.fields, {})
    for child in mapping.children:
        if not child.direction.exports:
            continue
        items = [
            item
            for item in record.fields.get(child.hub_field) or []
            if all(item.get(name) == value for name, value in child.only_where.items())
        ]
        for index, item in enumerate(items, start=1):
            try:
                wanted.add(
                    (child.salesforce_object, child.external_id_format.format(parent_id=record.id, index=index, **item))
                )
            except (KeyError, IndexError, ValueError):
                continue
            for reference in child.references:
                add(reference, item, record.fields)
    return wanted


def _changed_only(values: ExportValues, state: SyncState | None) -> ExportValues:
    """A linked record's row carries only the fields the hub changed since they were last synced (their hash
    differs), with its Salesforce id and hub id: a field a Salesforce user changed meanwhile, that the hub did
    not, keeps the user's value (its change event then brings it to the hub) instead of being overwritten
    with the hub's older one. A record never synced sends every field."""
    row = values.row
    synced = state.synced_field_hashes if state is not None else {}
    if row.external_id_field != SALESFORCE_ID_FIELD or not synced:
        return values
    kept = {
        name: value
        for name, value in row.values.items()
        if name.lower() not in values.field_hashes or _changed(synced.get(name.lower()), value, values, name)
    }
    return values.model_copy(update={"row": row.model_copy(update={"values": kept})})


def _changed(held: str | None, value: Any, values: ExportValues, name: str) -> bool:
    if held is None:
        return value is not None  # never synced: Salesforce's value is unknown, an empty hub field says nothing
    return held != values.field_hashes[name.lower()]


class SyncExportService:
    def __init__(
        self,
        *,
        store: SyncStore,
        writer: SyncWriter,
        links: LinkStore,
        parked: ParkedWork,
        configs: SyncConfigCache,
        salesforce: Callable[[], SalesforceApi],
        error_log: ErrorLog,
        clock: Clock,
    ) -> None:
        self._store = store
        self._writer = writer
        self._links = links
        self._parked = parked
        self._configs = configs
        self._salesforce_factory = salesforce
        self._errors = error_log
        self._clock = clock

    def export(self, keys: Sequence[RecordKey]) -> ExportReport:
        """Export the records' current state (see the module's docstring). Raises only for DynamoDB failures
        (RetryableError: the whole batch is retried; exports are state-based, so a retry is harmless)."""
        report = ExportReport()
        deletes: list[tuple[RecordKey, SyncState]] = []
        pending = self._load(list(dict.fromkeys(keys)), report, deletes)
        salesforce: SalesforceApi | None = self._send_deletes(deletes, report) if deletes else None
        any_deferred = False
        looked_up: set[str] = set()
        for _ in range(MAX_PASSES):
            if not pending:
                break
            links = self._read_links(pending)
            in_batch = {(item.key.entity.value, item.key.record_id) for item in pending}
            ready: list[_Item] = []
            later: list[_Item] = []
            looked_up_now = False
            for item in pending:
                outcome = self._to_salesforce(item, links)
                if isinstance(outcome, MappingFailure):
                    self._fail_permanently(item, outcome.code, outcome.message, payload=None, report=report)
                elif isinstance(outcome, WaitsForParent):
                    if outcome.parent in LOOKED_UP_KINDS and outcome.parent not in looked_up:
                        looked_up.add(outcome.parent)
                        looked_up_now = True
                        salesforce = salesforce or self._salesforce_factory()
                        self._look_up_price_books(salesforce)
                        later.append(item)
                    elif (outcome.parent, outcome.parent_key) in in_batch or outcome.parent not in ENTITY_KINDS:
                        # Its parent goes in this pass (a record of the batch, or a row one of them sends,
                        # like a product's price book entry): it follows in the next.
                        later.append(item)
                    else:
                        self._park_for_parent(item, outcome, report)
                else:
                    item.values = _changed_only(outcome, item.state)
                    ready.append(item)
            if not ready:
                if looked_up_now:
                    pending = later  # the links just looked up may let them go now
                    continue
                for item in later:  # parents that could not go: wait for them in the park
                    self._park_unsent(item, report)
                break
            salesforce = salesforce or self._salesforce_factory()
            any_deferred |= self._send(salesforce, ready, report)
            again = self._record_results(ready, report)
            pending = later + again
        else:
            for item in pending:
                self._park_unsent(item, report)
        self._requeue_children(report)
        if not any_deferred and salesforce is not None:
            # This run found budget: the budget-parked work may go again.
            report.requeue += [
                item.key for item in self._parked.take_due(self._clock.now(), limit=BUDGET_REQUEUE_LIMIT)
            ]
        report.requeue = list(dict.fromkeys(report.requeue))
        return report

    def mark_dead(self, keys: Iterable[RecordKey], message: str) -> None:
        """The queue gave up on these exports (their retries are spent): Error, and the error log entry dead."""
        now = self._clock.now()
        for key in keys:
            state = self._store.read_state(key)
            if state is None:
                continue
            happened = Happened(actor=Actor.EXPORT_RESULT, event=SyncEvent.EXPORT_DEAD, message=message)
            entry_id = error_id(key.entity, key.record_id, ErrorDirection.TO_SALESFORCE, state.operation)
            remembered = {"open_errors": remembering(state.open_errors, entry_id)}
            self._writer.write(RecordWrite(key, happened, state_changes=remembered), previous=state)
            self._errors.record_failure(
                entity=key.entity,
                record_id=key.record_id,
                direction=ErrorDirection.TO_SALESFORCE,
                operation=state.operation,
                code="DEAD_LETTERED",
                message=message,
                payload=None,
                status=ErrorStatus.DEAD,
                now=now,
            )

    # ------------------------------------------------------------------ hub deletes

    def _send_deletes(
        self, deletes: Sequence[tuple[RecordKey, SyncState]], report: ExportReport
    ) -> SalesforceApi | None:
        """Hub deletes by each entity's hub delete policy: deleted in Salesforce (one sObject Collections delete per
        object and 200 ids), or only unlinked. Returns the Salesforce client if it built one."""
        by_object: dict[str, list[tuple[RecordKey, SyncState]]] = {}
        for key, state in deletes:
            config = self._configs.get(key.entity)
            if state.external_ref is None or config.hub_delete_policy is HubDeletePolicy.UNLINK:
                self._deleted(key, state, report)  # nothing in Salesforce to delete, or only the link goes
            else:
                by_object.setdefault(self._configs.mapping(key.entity).salesforce_object, []).append((key, state))
        if not by_object:
            return None
        salesforce = self._salesforce_factory()
        for sobject, members in by_object.items():
            outcome = salesforce.delete_many(sobject, [str(state.external_ref) for _, state in members])
            for result in outcome.results:
                key, state = members[result.index]
                failure = result.failure
                if failure is None or failure.code in GONE_ALREADY:
                    self._deleted(key, state, report)
                else:
                    self._delete_failed(key, state, f"{failure.code}: {failure.message}", failure.retryable, report)
            if outcome.deferred is not None:
                for index in outcome.deferred.indexes:
                    key, state = members[index]
                    reason = f"Salesforce {outcome.deferred.reason.value}: not sent, retried later"
                    self._delete_failed(key, state, reason, True, report)
        return salesforce

    def _deleted(self, key: RecordKey, state: SyncState, report: ExportReport) -> None:
        """The hub delete reached Salesforce (or had nothing to reach): Synchronized, the link released."""
        happened = Happened(
            actor=Actor.EXPORT_RESULT, event=SyncEvent.EXPORT_SUCCEEDED, record_version=state.record_version
        )
        write = RecordWrite(
            key,
            happened,
            unlink=state.external_ref,
            state_changes={
                "external_ref": None,
                "synced_version": state.record_version,
                "open_errors": import_side(state.open_errors),
            },
        )
        self._writer.write(write, previous=state)
        self._resolve_errors(state)
        report.exported.append(key)

    def _delete_failed(
        self, key: RecordKey, state: SyncState, message: str, retryable: bool, report: ExportReport
    ) -> None:
        event = SyncEvent.EXPORT_FAILED_RETRYABLE if retryable else SyncEvent.EXPORT_FAILED_PERMANENT
        entry_id = error_id(key.entity, key.record_id, ErrorDirection.TO_SALESFORCE, SyncOperation.DELETE)
        happened = Happened(actor=Actor.EXPORT_RESULT, event=event, message=message)
        remembered = {"open_errors": remembering(state.open_errors, entry_id)}
        self._writer.write(RecordWrite(key, happened, state_changes=remembered), previous=state)
        self._errors.record_failure(
            entity=key.entity,
            record_id=key.record_id,
            direction=ErrorDirection.TO_SALESFORCE,
            operation=SyncOperation.DELETE,
            code=message.split(":", 1)[0].removeprefix("Salesforce ").strip() or "DELETE_FAILED",
            message=message,
            payload={"salesforce_id": state.external_ref},
            status=ErrorStatus.RETRYING if retryable else ErrorStatus.OPEN,
            now=self._clock.now(),
        )
        (report.failed if retryable else report.errors).append(key)

    # ------------------------------------------------------------------ reading

    def _load(
        self, keys: list[RecordKey], report: ExportReport, deletes: list[tuple[RecordKey, SyncState]]
    ) -> list[_Item]:
        items: list[_Item] = []
        for key, stored in self._store.read(keys).items():
            config = self._configs.get(key.entity)
            record, state = stored.record, stored.state
            if record is None and state is not None and config.exports and _delete_to_send(state):
                deletes.append((key, state))
                continue
            if record is None or not config.exports:
                report.skipped.append(key)
                continue
            if state is not None and state.status is SyncStatus.SYNCHRONIZED and state.synced_version == record.version:
                report.skipped.append(key)
                continue
            items.append(_Item(key, record, state, self._configs.mapping(key.entity)))
        return items

    def _read_links(self, items: Sequence[_Item]) -> LinkLookup:
        wanted: set[tuple[str, str]] = set()
        for item in items:
            wanted |= _parents_wanted(item.record, item.mapping)
        links = self._links.lookup(by_hub_key=sorted(wanted))
        for item in items:
            if item.state is not None and item.state.external_ref:
                links.link(item.key.entity.value, item.key.record_id, item.state.external_ref)
        return links

    def _to_salesforce(self, item: _Item, links: LinkLookup) -> ExportOutcome:
        """The record's row: its mapping, and what its entity's workflow adds (a case's Status)."""
        try:
            extra = workflow_export_values(item.key.entity, item.record.fields, self._configs.get(item.key.entity))
        except ValueError as exc:
            return MappingFailure(
                entity=item.key.entity,
                record_id=item.key.record_id,
                field="(record)",
                message=f"{item.key.entity.value} {item.key.record_id}: its workflow cannot read it: {exc}",
            )
        return to_salesforce(item.record, item.mapping, links, workflow_values=extra)

    # ------------------------------------------------------------------ sending

    def _send(self, salesforce: SalesforceApi, items: Sequence[_Item], report: ExportReport) -> bool:
        """Upsert every row of the items, grouped by object and external id field. True if the budget deferred any."""
        groups: dict[tuple[str, str], list[tuple[_Item, UpsertRow]]] = {}
        for item in items:
            assert item.values is not None
            rows = [item.values.row, *item.values.children]
            for row in rows:
                groups.setdefault((row.sobject, row.external_id_field), []).append((item, row))
        deferred_any = False
        for (sobject, external_id_field), members in groups.items():
            # Never one external id twice in one request (rows of one record are unique; records are deduplicated).
            seen: set[str] = set()
            unique = []
            for item, row in members:
                if row.external_id.lower() not in seen:
                    seen.add(row.external_id.lower())
                    unique.append((item, row))
            outcome: WriteOutcome = salesforce.upsert_many(
                sobject, [row.values for _, row in unique], external_id_field
            )
            for result in outcome.results:
                item, row = unique[result.index]
                item.results.append((row, result))
            if outcome.deferred is not None:
                deferred = outcome.deferred
                budget = deferred.reason in BUDGET_REASONS
                deferred_any |= budget
                for index in deferred.indexes:
                    item, _ = unique[index]
                    if budget:
                        item.deferred = deferred.resume_after
                        item.deferred_reason = deferred.reason.value
                    else:
                        # Throttled or unavailable: a retryable failure of the call, not of the budget.
                        item.unavailable = f"Salesforce {deferred.reason.value}: not sent, retried later"
        return deferred_any

    # ------------------------------------------------------------------ outcomes

    def _record_results(self, items: Sequence[_Item], report: ExportReport) -> list[_Item]:
        """Each record's outcome through the writer; returns the records to send again in this run (their
        child rows, now that they are linked)."""
        again: list[_Item] = []
        child_links: list[LinkClaim] = []
        for item in items:
            assert item.values is not None
            row_result = next((result for row, result in item.results if row is item.values.row), None)
            if item.deferred is not None and row_result is None:
                self._park_budget(item, report)
                continue
            if row_result is None:
                self._fail_retryable(item, item.unavailable or "Salesforce returned no result for the record", report)
                continue
            failure = row_result.failure
            if failure is not None:
                if failure.retryable:
                    self._fail_retryable(item, f"Salesforce {failure.code}: {failure.message}", report)
                else:
                    self._fail_permanently(
                        item,
                        failure.code,
                        f"Salesforce {failure.code}: {failure.message}",
                        item.values.row.values,
                        report,
                    )
                continue
            salesforce_id = str(row_result.id)
            children_failed = [
                (row, result) for row, result in item.results if row is not item.values.row and not result.success
            ]
            child_links += [
                LinkClaim(row.sobject, str(result.id), row.external_id)
                for row, result in item.results
                if row is not item.values.row and result.success and result.id
            ]
            if item.deferred is not None or item.unavailable is not None or children_failed:
                self._children_unsent(item, salesforce_id, children_failed, report)
                continue
            written = self._writer.write(
                RecordWrite(
                    item.key,
                    Happened(
                        actor=Actor.EXPORT_RESULT,
                        event=SyncEvent.EXPORT_SUCCEEDED,
                        record_version=item.record.version,
                        salesforce_id=salesforce_id,
                        synced_hash=item.values.values_hash,
                        synced_field_hashes=item.values.field_hashes,
                    ),
                    link=salesforce_id,
                    state_changes={"open_errors": import_side(item.state.open_errors if item.state else [])},
                ),
                previous=item.state,
            )
            self._resolve_errors(item.state)
            if written.superseded:
                report.requeue.append(item.key)  # changed while it was being sent: export the newer version
            if item.values.children_wait_for_parent:
                # Linked now: its child rows go in the next pass.
                again.append(_Item(item.key, item.record, written.state, item.mapping))
            else:
                report.exported.append(item.key)
            if item.state is None or item.state.external_ref is None:
                report.linked.append((item.key.entity.value, item.key.record_id))
        if child_links:
            self._links.save(child_links)
            report.linked += [(claim.kind, claim.hub_key) for claim in child_links]
        return again

    def _children_unsent(
        self, item: _Item, salesforce_id: str, failed: list[tuple[UpsertRow, RecordResult]], report: ExportReport
    ) -> None:
        """The record's own row went but some child rows did not: keep its link, report the children's failure."""
        permanent = [(row, result) for row, result in failed if result.failure and not result.failure.retryable]
        if permanent:
            row, result = permanent[0]
            assert result.failure is not None
            message = f"{row.sobject} {row.external_id}: Salesforce {result.failure.code}: {result.failure.message}"
            self._fail_permanently(item, result.failure.code, message, row.values, report, link=salesforce_id)
        elif failed:
            row, result = failed[0]
            assert result.failure is not None
            message = f"{row.sobject} {row.external_id}: Salesforce {result.failure.code}: {result.failure.message}"
            self._fail_retryable(item, message, report, link=salesforce_id)
        elif item.unavailable is not None:
            self._fail_retryable(item, item.unavailable, report, link=salesforce_id)
        else:
            self._park_budget(item, report, link=salesforce_id)

    def _look_up_price_books(self, salesforce: SalesforceApi) -> None:
        """Link the org's price books by name, the standard one also as "Standard" (one query, once per run that
        needs them): a product's prices and the lines' price book entries name their price book so."""
        claims = []
        for row in salesforce.query("SELECT Id, Name, IsStandard FROM Pricebook2"):
            claims.append(LinkClaim("Pricebook2", str(row["Id"]), str(row["Name"])))
            if row.get("IsStandard"):
                claims.append(LinkClaim("Pricebook2", str(row["Id"]), STANDARD_PRICE_BOOK))
        self._links.save(claims)

    def _park_for_parent(self, item: _Item, waits: WaitsForParent, report: ExportReport) -> None:
        now = self._clock.now()
        parked = ParkedExport(item.key, waits.message, now, parent=(waits.parent, waits.parent_key))
        self._parked.park([parked])
        happened = Happened(actor=Actor.EXPORT_RESULT, event=SyncEvent.EXPORT_WAITING, message=waits.message)
        self._writer.write(RecordWrite(item.key, happened), previous=item.state)
        # The parent may have linked between our read and the park: then nobody would take this one back.
        again = self._links.lookup(by_hub_key=[(waits.parent, waits.parent_key)])
        if again.salesforce_id(waits.parent, waits.parent_key) is not None:
            self._parked.take_children(waits.parent, [waits.parent_key])
            report.requeue.append(item.key)
        else:
            report.parked.append(item.key)

    def _park_unsent(self, item: _Item, report: ExportReport) -> None:
        """A record whose parent in this batch did not link: it waits in the park like any other child."""
        outcome = self._to_salesforce(item, self._read_links([item]))
        if isinstance(outcome, WaitsForParent):
            self._park_for_parent(item, outcome, report)
        else:
            report.requeue.append(item.key)

    def _park_budget(self, item: _Item, report: ExportReport, *, link: str | None = None) -> None:
        now = self._clock.now()
        reason = f"deferred by the Salesforce API budget ({item.deferred_reason})"
        self._parked.park([ParkedExport(item.key, reason, now, resume_after=item.deferred)])
        if link is not None:
            happened = Happened(actor=Actor.EXPORT_RESULT, event=SyncEvent.EXPORT_WAITING, message=reason)
            self._writer.write(RecordWrite(item.key, happened, link=link), previous=item.state)
        report.parked.append(item.key)

    def _fail_retryable(self, item: _Item, message: str, report: ExportReport, *, link: str | None = None) -> None:
        code = message.split(":", 1)[0].removeprefix("Salesforce ").strip() or "RETRYABLE"
        payload = item.values.row.values if item.values else None
        self._record_failure(item, SyncEvent.EXPORT_FAILED_RETRYABLE, code, message, payload, link=link)
        report.failed.append(item.key)

    def _fail_permanently(
        self,
        item: _Item,
        code: str,
        message: str,
        payload: dict[str, Any] | None,
        report: ExportReport,
        *,
        link: str | None = None,
    ) -> None:
        self._record_failure(item, SyncEvent.EXPORT_FAILED_PERMANENT, code, message, payload, link=link)
        report.errors.append(item.key)

    def _record_failure(
        self,
        item: _Item,
        event: SyncEvent,
        code: str,
        message: str,
        payload: dict[str, Any] | None,
        *,
        link: str | None,
    ) -> None:
        """The record's state after a failed export (through the writer) and its error-log entry: retrying for a
        failure the queue will retry, open for one a person must look at."""
        happened = Happened(actor=Actor.EXPORT_RESULT, event=event, message=message)
        operation, remembered = self._logged(item)
        self._writer.write(RecordWrite(item.key, happened, link=link, state_changes=remembered), previous=item.state)
        status = ErrorStatus.RETRYING if event is SyncEvent.EXPORT_FAILED_RETRYABLE else ErrorStatus.OPEN
        self._errors.record_failure(
            entity=item.key.entity,
            record_id=item.key.record_id,
            direction=ErrorDirection.TO_SALESFORCE,
            operation=operation,
            code=code,
            message=message,
            payload=payload,
            status=status,
            now=self._clock.now(),
        )

    def _resolve_errors(self, state: SyncState | None) -> None:
        """A success resolves the record's open export errors (their ids are kept in its state), and a workflow
        conflict of an import: Salesforce holds the hub's state again (the hub's side was pushed back)."""
        if state is None:
            return
        now = self._clock.now()
        for entry_id in state.open_errors:
            entry = self._errors.get(entry_id)
            if entry is None or entry.status not in UNRESOLVED:
                continue
            if entry.direction is ErrorDirection.TO_SALESFORCE or entry.code == WORKFLOW_CONFLICT:
                self._errors.save(resolved(entry, now=now))

    def _logged(self, item: _Item) -> tuple[SyncOperation, dict[str, Any]]:
        """The operation an export failure is logged under, and the state change that remembers its entry."""
        operation = item.state.operation if item.state is not None else SyncOperation.INSERT
        entry_id = error_id(item.key.entity, item.key.record_id, ErrorDirection.TO_SALESFORCE, operation)
        held = item.state.open_errors if item.state is not None else []
        return operation, {"open_errors": remembering(held, entry_id)}

    def _requeue_children(self, report: ExportReport) -> None:
        by_kind: dict[str, set[str]] = {}
        # Only records linked by this run can have children parked for them (a child re-checks its parent's
        # link after parking, so one linked meanwhile is not missed).
        for kind, hub_key in report.linked:
            by_kind.setdefault(kind, set()).add(hub_key)
        for kind, parent_keys in by_kind.items():
            report.requeue += [item.key for item in self._parked.take_children(kind, parent_keys)]
