"""Sync administration: the entity table, processing and stopping entities, and their configuration.

Stopping an entity stops both directions at once and loses nothing: changes from Salesforce that arrive
meanwhile are held in DynamoDB by the sync worker (SyncImportService), and hub writes stay Modified Locally
(the outbox queues no export for a stopped entity, the export worker sends none). Processing it again
releases the held changes to the sync queue, in the order Salesforce made them, and queues an export for
each record Modified Locally, found through the sync state's status index.

Every change of a configuration, process and stop included, is saved as a new version with who and when,
on condition that the version read is still the one in force (optimistic locking, If-Match at the edge).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sync_core.domain.entities import EntityName
from sync_core.domain.records import Page
from sync_core.domain.sync.changes import ChangeSource, export_change
from sync_core.domain.sync.config import validate_sync_config
from sync_core.domain.sync.schedule import EntityRun
from sync_core.domain.sync_admin import (
    COUNT_LIMIT,
    MANAGED_FIELDS,
    ConfigVersion,
    EntityRow,
    ProcessResult,
    RunOutcome,
    process_status,
)
from sync_core.domain.sync_config import EntitySyncConfig, ProcessStatus
from sync_core.domain.sync_state import SyncStatus
from sync_core.errors import StaleVersionError, ValidationFailedError
from sync_core.ports.queues import ExportQueue, ImportQueue
from sync_core.ports.stores import Clock
from sync_core.ports.sync_admin import HeldChanges, ScheduledRuns, SyncRequests, SyncStatusIndex, VersionedSyncConfigs

# Fields the body of a configuration PUT may carry only unchanged (the version, updated_at and updated_by it
# carries are ignored: If-Match names the version).
REFUSED_CHANGES = {
    "status": "the process status changes through POST /sync/entities/process and /stop",
    "watermark": "the watermark is moved by the entity's runs",
}
# Held changes released per query, and the most a single process call releases / queues for export: a larger
# backlog answers more_to_do, and processing the entity again goes on where it stopped.
RELEASE_PAGE = 100
MAX_RELEASED = 5000
EXPORT_PAGE = 500
MAX_EXPORTS_QUEUED = 10_000


@dataclass
class Resumed:
    released: int = 0
    still_held: int = 0
    exports_queued: int = 0
    more_to_do: bool = False


class SyncAdminService:
    def __init__(
        self,
        *,
        configs: VersionedSyncConfigs,
        statuses: SyncStatusIndex,
        held: HeldChanges,
        runs: ScheduledRuns,
        requests: SyncRequests,
        sync_queue: ImportQueue,
        export_queue: ExportQueue,
        clock: Clock,
    ) -> None:
        self._configs = configs
        self._statuses = statuses
        self._held = held
        self._runs = runs
        self._requests = requests
        self._sync_queue = sync_queue
        self._export_queue = export_queue
        self._clock = clock

    # ------------------------------------------------------------------ the entity table

    def entity_table(self) -> list[EntityRow]:
        """Every entity's row: one query each of the configurations, the scheduled runs and the pending requests,
        and per entity one bounded COUNT query per sync status (keys only) and one of its held changes."""
        runs = self._runs.runs()
        requested = {request.entity: request.since for request in self._requests.pending()}
        rows = []
        for config in self._configs.list():
            counts = {status: self._statuses.count(config.entity, status, limit=COUNT_LIMIT) for status in SyncStatus}
            rows.append(
                EntityRow(
                    entity=config.entity,
                    process_status=process_status(config, counts),
                    import_scenario=config.import_scenario,
                    export_scenario=config.export_scenario,
                    direction=config.direction,
                    mode=config.mode,
                    schedule=config.schedule,
                    watermark=run.watermark if (run := runs.get(config.entity)) else config.watermark,
                    last_run=run.last_run if run else None,
                    last_run_outcome=_outcome(run),
                    sync_requested=requested.get(config.entity),
                    counts=counts,
                    counts_at_least=[status for status, count in counts.items() if count >= COUNT_LIMIT],
                    held_changes=self._held.count_held(config.entity, limit=COUNT_LIMIT),
                    config_version=config.version,
                )
            )
        return rows

    # ------------------------------------------------------------------ process and stop

    def process(self, entities: Iterable[EntityName], *, actor: str) -> list[ProcessResult]:
        results = []
        for entity in _unique(entities):
            config, changed = self._set_status(entity, ProcessStatus.ACTIVE, actor=actor)
            resumed = self._resume(config)
            results.append(
                ProcessResult(
                    entity=entity,
                    status=config.status,
                    changed=changed,
                    config_version=config.version,
                    changes_released=resumed.released,
                    exports_queued=resumed.exports_queued,
                    still_held=resumed.still_held,
                    more_to_do=resumed.more_to_do,
                )
            )
        return results

    def stop(self, entities: Iterable[EntityName], *, actor: str) -> list[ProcessResult]:
        results = []
        for entity in _unique(entities):
            config, changed = self._set_status(entity, ProcessStatus.STOPPED, actor=actor)
            results.append(
                ProcessResult(entity=entity, status=config.status, changed=changed, config_version=config.version)
            )
        return results

    def _set_status(self, entity: EntityName, status: ProcessStatus, *, actor: str) -> tuple[EntitySyncConfig, bool]:
        for _ in range(3):  # a concurrent save moved the version on: read again and apply to that
            current = self._configs.get(entity)
            if current.status is status:
                return current, False
            try:
                saved = self._configs.save(
                    current.model_copy(update={"status": status}),
                    expected_version=current.version,
                    change="process" if status is ProcessStatus.ACTIVE else "stop",
                    actor=actor,
                    now=self._clock.now(),
                )
            except StaleVersionError:
                continue
            return saved, True
        raise StaleVersionError(f"the {entity.value} sync configuration kept changing; try again")

    def _resume(self, config: EntitySyncConfig) -> Resumed:
        """What waited while the entity was stopped goes now: held changes to the sync queue (oldest first), an
        export for each record Modified Locally. Runs on every process call, so a second call finishes a large
        backlog and repairs what a queue refused."""
        resumed = Resumed()
        if config.imports:
            while resumed.released < MAX_RELEASED:
                changes = self._held.held(config.entity, limit=RELEASE_PAGE)
                if not changes:
                    break
                again = [change.queued_again() for change in changes]
                refused = {change.deduplication_id for change in self._sync_queue.send(again)}
                sent = [
                    change
                    for change, queued in zip(changes, again, strict=True)
                    if queued.deduplication_id not in refused
                ]
                self._held.release(sent)
                resumed.released += len(sent)
                if len(sent) < len(changes):  # the queue refuses now: keep the rest held for the next call
                    resumed.still_held = self._held.count_held(config.entity, limit=COUNT_LIMIT)
                    break
            else:
                resumed.more_to_do = True
        if config.exports:
            cursor: str | None = None
            now = self._clock.now()
            while True:
                ids, cursor = self._statuses.record_ids(
                    config.entity, SyncStatus.MODIFIED_LOCALLY, limit=EXPORT_PAGE, cursor=cursor
                )
                # The export reads the record's current state: version 1 only names the request.
                requests = [
                    export_change(config.entity, record_id, 1, source=ChangeSource.STREAM, stamp=now)
                    for record_id in ids
                ]
                not_queued = self._export_queue.send(requests)
                resumed.exports_queued += len(requests) - len(not_queued)
                if not_queued:
                    resumed.more_to_do = True
                    break
                if cursor is None:
                    break
                if resumed.exports_queued >= MAX_EXPORTS_QUEUED:
                    resumed.more_to_do = True
                    break
        return resumed

    def sync_now(self, entity: EntityName, *, actor: str) -> datetime:
        """Ask the scheduled sync to run the entity at its next tick (within a minute): a pull request from now,
        so the pull starts at the watermark as a scheduled run's does, and the push goes with it. Answers when
        it was asked. (The scheduled sync calls Salesforce; this function never does.)"""
        config = self._configs.get(entity)
        if not (config.imports or config.exports):
            raise ValidationFailedError(
                f"{entity.value} neither imports nor exports (status {config.status.value}): process it first",
                field="entity",
            )
        now = self._clock.now()
        self._requests.request(entity, reason=f"sync now, asked by {actor}", at=now)
        return now

    # ------------------------------------------------------------------ configuration

    def get_config(self, entity: EntityName) -> EntitySyncConfig:
        return self._configs.get(entity)

    def put_config(
        self, entity: EntityName, data: Mapping[str, Any], *, expected_version: int | None, actor: str
    ) -> EntitySyncConfig:
        """Replace the entity's configuration with `data` (the whole of it), validated first (every mistake with
        its path); at `expected_version` when If-Match named one, else at the version just read."""
        current = self._configs.get(entity)
        sent_entity = data.get("entity", entity.value)
        if sent_entity != entity.value:
            raise ValidationFailedError(
                f"the body is the configuration of {sent_entity}, the path names {entity.value}", field="body.entity"
            )
        refused = [
            {"field": f"body.{name}", "reason": reason}
            for name, reason in REFUSED_CHANGES.items()
            if name in data and _differs(name, data[name], getattr(current, name))
        ]
        if refused:
            raise ValidationFailedError("the body changes fields this route does not set", errors=refused)
        managed = {name: getattr(current, name) for name in MANAGED_FIELDS}
        wanted = {key: value for key, value in data.items() if key not in MANAGED_FIELDS}
        config = validate_sync_config({**wanted, "entity": entity.value})
        config = config.model_copy(update=managed)
        version = current.version if expected_version is None else expected_version
        if version != current.version:
            raise StaleVersionError(
                f"the {entity.value} sync configuration is at version {current.version}, not {version}",
                expected=version,
                current=current.version,
            )
        return self._configs.save(config, expected_version=version, change="config", actor=actor, now=self._clock.now())

    def config_versions(self, entity: EntityName, *, limit: int, cursor: str | None) -> Page[ConfigVersion]:
        return self._configs.versions(entity, limit=limit, cursor=cursor)


def _outcome(run: EntityRun | None) -> RunOutcome | None:
    if run is None or (run.last_run is None and not run.catching_up):
        return None
    return RunOutcome.CATCHING_UP if run.catching_up else RunOutcome.COMPLETE


def _unique(entities: Iterable[EntityName]) -> list[EntityName]:
    return list(dict.fromkeys(entities))


def _differs(name: str, sent: Any, held: Any) -> bool:
    """Whether a managed field's value in the body is not the one in force (compared as the model reads it)."""
    try:
        annotation: Any = EntitySyncConfig.model_fields[name].annotation
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        return bool(adapter.validate_python(sent) != held)
    except ValidationError:
        return True
