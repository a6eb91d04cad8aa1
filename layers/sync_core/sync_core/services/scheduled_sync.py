"""Scheduled sync: per due entity, in dependency order, pull Salesforce's changes since the watermark onto the
sync queue and push the hub records that wait onto the export queue. It only enumerates and queues: the sync
and export workers do the work, so a run stays short at any volume.

One run of an entity (`_run`):
1. take the entity's lease (one conditional write): a run that finds another still going leaves the entity;
2. pull (if the entity imports): `queryAll` on SystemModstamp from the watermark (or a pull request's moment,
   whichever is earlier) less the overlap window, deleted rows included, ordered by the stamp; above
   `bulk_threshold` rows (the first page's totalSize) the same query as a Bulk API 2.0 job, its rows typed by
   the object's describe and sorted here. Each row becomes the engine's change, queued on the FIFO sync queue in
   chunks; the watermark moves only over stamps whose changes are all queued;
3. push (if the entity exports): records Modified Locally for longer than `push_grace` (the real-time path had
   its chance) and records in Error because of an export, retried after `error_retry`, as export requests;
4. record the watermark and the run, and give the lease back. A run that stopped early (its change limit, its
   deadline, a queue refusal, the API budget) is `catching_up`: the next tick carries on from its watermark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from uuid import uuid4

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change, ChangeOperation, ChangeSource, export_change
from sync_core.domain.sync.config import effective_mapping
from sync_core.domain.sync.schedule import (
    EntityRun,
    RunReason,
    due_for_push,
    pull_soql,
    pull_start,
    pulled_change,
    row_stamp,
    run_reason,
    typed_bulk_row,
)
from sync_core.domain.sync_config import EntitySyncConfig
from sync_core.domain.sync_state import SyncOperation
from sync_core.errors import SyncHubError, ValidationFailedError
from sync_core.ports.pulls import PullRequest, PullRequests
from sync_core.ports.queues import ExportQueue, ImportQueue
from sync_core.ports.salesforce import SalesforceApi, SalesforceRecord
from sync_core.ports.schedules import PendingExports, ScheduleLedger
from sync_core.ports.stores import Clock, SyncConfigStore


@dataclass(frozen=True)
class ScheduleOptions:
    overlap: timedelta = timedelta(minutes=2)
    bulk_threshold: int = 10_000  # rows (the first page's totalSize) above which a pull is a Bulk API 2.0 query
    max_changes_per_run: int = 50_000  # per entity and run; the rest follows at the next tick
    push_grace: timedelta = timedelta(minutes=5)
    error_retry: timedelta = timedelta(hours=1)
    push_limit: int = 10_000  # export requests per entity and run
    lease: timedelta = timedelta(minutes=20)  # longer than the function's timeout: a crashed run's lease expires
    send_chunk: int = 500  # changes queued between checks of the deadline


@dataclass
class EntityRunReport:
    entity: EntityName
    reason: RunReason
    ran: bool = True  # False: another run held the entity's lease
    via: str | None = None  # how it pulled: "rest" (queryAll) or "bulk" (Bulk API 2.0 queryAll); None: no pull
    pulled: int = 0  # changes queued on the sync queue (deletes included)
    deleted: int = 0
    pushed: int = 0  # export requests queued
    refused: int = 0  # changes or requests the queues refused (pulled again or found again next time)
    complete: bool = True
    watermark: datetime | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "entity": self.entity.value,
            "reason": self.reason.value,
            "ran": self.ran,
            "via": self.via,
            "pulled": self.pulled,
            "deleted": self.deleted,
            "pushed": self.pushed,
            "refused": self.refused,
            "complete": self.complete,
            "watermark": self.watermark.isoformat() if self.watermark else None,
            "error": self.error,
        }


@dataclass
class ScheduledRunReport:
    entities: list[EntityRunReport] = field(default_factory=list)
    postponed: list[EntityName] = field(default_factory=list)  # due, but the run's deadline came first

    def as_dict(self) -> dict[str, object]:
        return {
            "entities": [entity.as_dict() for entity in self.entities],
            "postponed": [entity.value for entity in self.postponed],
        }


@dataclass
class _PullOutcome:
    start: datetime | None
    progress: datetime | None = None  # every change stamped at or before it (within the pull) is queued
    complete: bool = True


class ScheduledSyncService:
    def __init__(
        self,
        *,
        configs: SyncConfigStore,
        ledger: ScheduleLedger,
        pulls: PullRequests,
        pending: PendingExports,
        salesforce: Callable[[], SalesforceApi],
        import_queue: ImportQueue,
        export_queue: ExportQueue,
        clock: Clock,
        options: ScheduleOptions | None = None,
    ) -> None:
        self._configs = configs
        self._ledger = ledger
        self._pulls = pulls
        self._pending = pending
        self._new_salesforce = salesforce
        self._salesforce: SalesforceApi | None = None
        self._import_queue = import_queue
        self._export_queue = export_queue
        self._clock = clock
        self._options = options or ScheduleOptions()

    # ------------------------------------------------------------------ what the tick and the admin API call

    def run_due(self, now: datetime, *, deadline: datetime | None = None) -> ScheduledRunReport:
        """Run every entity that is due now (its schedule, a pull request, or a run to finish), parents first."""
        runs = self._ledger.runs()
        requests = {request.entity: request for request in self._pulls.pending()}
        report = ScheduledRunReport()
        self._salesforce = None  # one client per run: its per-run cap starts with the run
        for config in self._configs.list():
            entity = config.entity
            reason = run_reason(config, runs.get(entity), pull_requested=entity in requests, now=now)
            if reason is None:
                continue
            if self._past(deadline):
                report.postponed.append(entity)  # still due: the next tick runs it
                continue
            report.entities.append(self._run(config, reason, requests.get(entity), now, deadline))
        return report

    def run_entity(self, entity: EntityName, *, now: datetime, deadline: datetime | None = None) -> EntityRunReport:
        """Sync one entity now (an administrator's "sync now"), whatever its schedule says."""
        config = self._configs.get(entity)
        if not (config.imports or config.exports):
            raise ValidationFailedError(
                f"{entity.value} neither imports nor exports (status {config.status.value}): nothing to sync",
                field="entity",
            )
        request = next((request for request in self._pulls.pending() if request.entity is entity), None)
        self._salesforce = None
        return self._run(config, RunReason.SYNC_NOW, request, now, deadline)

    # ------------------------------------------------------------------ one entity

    def _run(
        self,
        config: EntitySyncConfig,
        reason: RunReason,
        request: PullRequest | None,
        now: datetime,
        deadline: datetime | None,
    ) -> EntityRunReport:
        entity = config.entity
        report = EntityRunReport(entity, reason)
        owner = uuid4().hex
        held = self._ledger.acquire(entity, owner=owner, now=now, until=now + self._options.lease)
        if held is None:
            report.ran, report.complete = False, False
            report.error = "another run of this entity is still going"
            return report
        # Filled in as the pull goes: what a run that stops half way (a failure, the budget) queued still counts.
        pulled = _PullOutcome(
            start=pull_start(held.watermark, request.since if request else None, overlap=self._options.overlap)
        )
        finished = False
        try:
            if config.imports:
                self._pull(config, request, pulled, report, deadline)
            if config.exports:
                self._push(config, now, report)
            finished = True
        except SyncHubError as exc:  # Salesforce refused or failed, the budget is spent: the next tick carries on
            report.error = f"{type(exc).__name__}: {exc}"
        finally:
            # Anything else (a bug, an outage of AWS) propagates after the lease is given back: never counted as
            # the slot's run, so the entity is due again at the next tick.
            report.complete = finished and pulled.complete
            report.watermark = _next_watermark(held, pulled)
            recorded = self._ledger.finish(
                entity,
                owner=owner,
                watermark=report.watermark,
                last_run=now if report.complete else None,
                catching_up=not report.complete,
            )
            if not recorded:
                report.error = report.error or "the run outlived its lease: nothing recorded, the next run repeats it"
        if report.complete and request is not None and config.imports:
            self._pulls.clear(entity, up_to=now)
        return report

    def _client(self) -> SalesforceApi:
        if self._salesforce is None:
            self._salesforce = self._new_salesforce()
        return self._salesforce

    def _past(self, deadline: datetime | None) -> bool:
        return deadline is not None and self._clock.now() >= deadline

    # ------------------------------------------------------------------ pull

    def _pull(
        self,
        config: EntitySyncConfig,
        request: PullRequest | None,
        outcome: _PullOutcome,
        report: EntityRunReport,
        deadline: datetime | None,
    ) -> None:
        mapping = effective_mapping(config)
        salesforce = self._client()
        first = salesforce.query_all_page(pull_soql(mapping, since=outcome.start, filters=config.filters))
        rows: Iterable[SalesforceRecord]
        if first.next_records_url is not None and first.total_size > self._options.bulk_threshold:
            report.via = "bulk"
            description = salesforce.describe(mapping.salesforce_object)
            soql = pull_soql(mapping, since=outcome.start, filters=config.filters, ordered=False)
            typed = (typed_bulk_row(row, description) for row in salesforce.bulk_query(soql, include_deleted=True))
            rows = sorted(typed, key=row_stamp)  # unordered by Salesforce: the watermark needs stamp order
        else:
            report.via = "rest"
            more = salesforce.query_more(first.next_records_url) if first.next_records_url else iter(())
            rows = chain(first.records, more)
        self._queue_pulled(config.entity, iter(rows), outcome, report, deadline)

    def _queue_pulled(
        self,
        entity: EntityName,
        rows: Iterator[SalesforceRecord],
        outcome: _PullOutcome,
        report: EntityRunReport,
        deadline: datetime | None,
    ) -> None:
        """Queue the stamp-ordered rows' changes in chunks. At the change limit the run stops at the next stamp (so
        the watermark always moves, however many rows share a stamp); at the deadline or a refusal, at once."""
        chunk: list[Change] = []
        last_stamp: datetime | None = None
        for taken, row in enumerate(rows):
            change = pulled_change(row, entity)
            if taken >= self._options.max_changes_per_run and change.stamp != last_stamp:
                outcome.complete = False
                break
            chunk.append(change)
            last_stamp = change.stamp
            if len(chunk) >= self._options.send_chunk:
                if not self._send_pulled(chunk, outcome, report):
                    return
                chunk = []
                if self._past(deadline):
                    outcome.complete = False
                    return
        if chunk:
            self._send_pulled(chunk, outcome, report)

    def _send_pulled(self, chunk: list[Change], outcome: _PullOutcome, report: EntityRunReport) -> bool:
        refused = self._import_queue.send(chunk)
        queued = len(chunk) - len(refused)
        report.pulled += queued
        refused_ids = {change.change_id for change in refused}
        report.deleted += sum(
            1 for change in chunk if change.operation is ChangeOperation.DELETE and change.change_id not in refused_ids
        )
        if refused:
            report.refused += len(refused)
            # The watermark moves only over stamps whose every change is queued: up to the last one before the
            # earliest refused change (the next pull reads from there, the refused changes among what it reads).
            first_refused = min(change.stamp for change in refused)
            queued_before = [change.stamp for change in chunk if change.stamp < first_refused]
            if queued_before:
                outcome.progress = _later(outcome.progress, max(queued_before))
            outcome.complete = False
            return False
        outcome.progress = _later(outcome.progress, chunk[-1].stamp)
        return True

    # ------------------------------------------------------------------ push

    def _push(self, config: EntitySyncConfig, now: datetime, report: EntityRunReport) -> None:
        states = self._pending.candidates(
            config.entity,
            modified_before=now - self._options.push_grace,
            error_before=now - self._options.error_retry,
            limit=self._options.push_limit,
        )
        requests: list[Change] = []
        for state in states:
            if not due_for_push(state) or state.record_version < 1:
                continue
            change = export_change(
                config.entity, state.record_id, state.record_version, source=ChangeSource.SCHEDULE, stamp=now
            )
            if state.operation is SyncOperation.DELETE:
                change = change.model_copy(update={"operation": ChangeOperation.DELETE})
            requests.append(change)
        refused = self._export_queue.send(requests) if requests else []
        report.pushed += len(requests) - len(refused)
        report.refused += len(refused)


def _later(held: datetime | None, moment: datetime) -> datetime:
    return moment if held is None or moment > held else held


def _next_watermark(held: EntityRun, pulled: _PullOutcome) -> datetime | None:
    """The watermark to keep: it only moves forward, over what was queued. A pull that began at a pull request's
    moment for an entity never pulled before sets none (its first full pull still owes every older row)."""
    if pulled.progress is None:
        return held.watermark
    if held.watermark is not None:
        return max(held.watermark, pulled.progress)
    return pulled.progress if pulled.start is None else None
