"""Import: apply one Salesforce change to its hub record, in at most three DynamoDB requests.

1. the links the change needs, in one BatchGetItem: the record's own (its entity and Salesforce id) and its
   references' parents (a Contact's AccountId);
2. if the record is linked, the record and its sync state, in one BatchGetItem (a new record reads the
   numbering sequence instead);
3. one TransactWriteItems through the SyncWriter: record + state (+ the link claim of a new record).
The sync configuration (policies, mapping) is cached per container (services.sync_config).

What applies is decided by the pure domain: merge_inbound (field stamps: a duplicate or an older event is a
no-op), echo (the values equal what the hub last synced), conflicts (both sides changed since the last
sync: the entity's policy decides), from_salesforce (the mapping, references through the links) and the
delete policy. Two deliveries of one new Salesforce record race on the link claim: the loser's transaction
fails and it applies again as an update of the winner's record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from sync_core.domain.cases.models import Case, store_form
from sync_core.domain.cases.salesforce_case import WORKFLOW_CONFLICT, WorkflowConflict, case_status_change
from sync_core.domain.entities import ENTITY_MODELS, EntityName, format_record_id
from sync_core.domain.error_log import ErrorDirection, ErrorStatus, error_id, remembering, resolved
from sync_core.domain.records import SYNC_ACTOR_PREFIX, HubRecord
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeOperation, ChangeSource, export_change
from sync_core.domain.sync.conflicts import Resolution, is_conflict, resolve_conflict
from sync_core.domain.sync.echo import repeats_last_sync
from sync_core.domain.sync.hub_schema import get_path
from sync_core.domain.sync.mapping import EntityMapping
from sync_core.domain.sync.merge import MergeAction, MergeResult, merge_inbound
from sync_core.domain.sync.transitions import Actor, Happened, SyncEvent
from sync_core.domain.sync.translate import ImportChanges, MappingFailure, WaitsForParent, field_hash, from_salesforce
from sync_core.domain.sync.workflow_hooks import workflow_fields
from sync_core.domain.sync_config import EntitySyncConfig
from sync_core.domain.sync_state import SyncOperation, SyncState
from sync_core.errors import (
    AlreadyExistsError,
    ContendedError,
    NotFoundError,
    PermanentError,
    StaleVersionError,
)
from sync_core.ports.queues import ExportQueue, ImportQueue
from sync_core.ports.stores import Clock, ErrorLog, SequenceStore
from sync_core.ports.sync import LinkLookup, LinkStore, ParkedChange, ParkedExport, ParkedWork, RecordKey, SyncStore
from sync_core.ports.sync_admin import HeldChanges
from sync_core.services.cases.salesforce import CaseSalesforceHook
from sync_core.services.sync_config import SyncConfigCache
from sync_core.services.sync_writer import RecordWrite, SyncWriter, user_write

# Who the hub's audit columns name for a record the sync changed from Salesforce.
IMPORT_WRITER = f"{SYNC_ACTOR_PREFIX}salesforce"
# A change that lost a race (a concurrent write of the record or of its link) is applied again this often.
APPLY_ATTEMPTS = 4


class Applied(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # newer stamps recorded, the values were already the hub's
    DUPLICATE = "duplicate"
    STALE = "stale"  # older than what the hub holds
    ECHO = "echo"
    CONFLICT_SALESFORCE_WON = "conflict: Salesforce won"
    CONFLICT_HUB_KEPT = "conflict: the hub's record kept"
    CONFLICT_HELD = "conflict held for a person"
    WORKFLOW_CONFLICT = "workflow conflict"  # a case's status change its workflow does not allow: held
    DELETED = "deleted"
    UNLINKED = "unlinked"
    SKIPPED = "skipped"
    PARKED = "parked"  # waits in DynamoDB for a Salesforce record to be linked (its parent, or itself)
    HELD = "held"  # the entity is stopped: kept in DynamoDB until it is processed again
    FAILED = "failed"  # a permanent failure: the record is in Error and the error log

    @property
    def metric(self) -> str:
        """The metric this outcome counts in: applied, skipped, conflicted, echoed or failed changes."""
        if self is Applied.ECHO:
            return "ChangesEchoed"
        if self in (
            Applied.CONFLICT_SALESFORCE_WON,
            Applied.CONFLICT_HUB_KEPT,
            Applied.CONFLICT_HELD,
            Applied.WORKFLOW_CONFLICT,
        ):
            return "ChangesConflicted"
        if self is Applied.FAILED:
            return "ChangesFailed"
        if self in (Applied.DUPLICATE, Applied.STALE, Applied.SKIPPED):
            return "ChangesSkipped"
        if self is Applied.PARKED:
            return "ChangesParked"
        if self is Applied.HELD:
            return "ChangesHeld"
        return "ChangesApplied"


@dataclass(frozen=True)
class ImportResult:
    outcome: Applied
    entity: EntityName
    salesforce_id: str
    record_id: str | None = None
    message: str | None = None
    queue_export: bool = False  # the hub's side must go to Salesforce (a conflict the hub won)
    requeue: tuple[ParkedChange, ...] = ()  # parked changes whose awaited record is linked now: queue them again


class SyncImportService:
    def __init__(
        self,
        *,
        store: SyncStore,
        writer: SyncWriter,
        links: LinkStore,
        configs: SyncConfigCache,
        sequences: SequenceStore,
        error_log: ErrorLog,
        clock: Clock,
        parked: ParkedWork,
        held: HeldChanges,
        sync_queue: ImportQueue,
        export_queue: ExportQueue,
        case_hook: CaseSalesforceHook | None = None,
    ) -> None:
        self._store = store
        self._writer = writer
        self._links = links
        self._configs = configs
        self._sequences = sequences
        self._errors = error_log
        self._clock = clock
        self._parked = parked
        self._held = held
        self._sync_queue = sync_queue
        self._export_queue = export_queue
        # The case workflow's hook: a case's status change from Salesforce runs as the action it means. Without
        # it (a service built for entities other than Case) a case's status change is not applied.
        self._case_hook = case_hook

    def apply(self, change: Change) -> ImportResult:
        """Apply one change from Salesforce. Raises RetryableError for what a later attempt may pass (the
        queue retries it); a permanent failure is recorded (status Error, error log) and returned."""
        if change.direction is not ChangeDirection.FROM_SALESFORCE or change.salesforce_id is None:
            raise PermanentError("only a change from Salesforce is imported", code="NOT_AN_IMPORT")
        config = self._configs.get(change.entity)
        if config.holds_imports:
            # Stopped: nothing is applied, nothing is lost; processing the entity queues it again.
            self._held.hold([change], reason="the entity is stopped", now=self._clock.now())
            return ImportResult(
                Applied.HELD, change.entity, change.salesforce_id, message="the entity is stopped: change held"
            )
        if not config.imports:
            return ImportResult(
                Applied.SKIPPED, change.entity, change.salesforce_id, message="the entity does not import"
            )
        for attempt in range(1, APPLY_ATTEMPTS + 1):
            try:
                return self._apply_once(change, config, self._configs.mapping(change.entity))
            except (ContendedError, AlreadyExistsError, StaleVersionError, NotFoundError) as exc:
                # Another write of the record, its link or its number won a race (nothing was written): read
                # again and re-apply.
                if attempt == APPLY_ATTEMPTS:
                    raise ContendedError(f"{change.entity.value} {change.salesforce_id} kept changing: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def hand_on(self, result: ImportResult) -> None:
        """What an applied change leaves to do, through the queues: changes that waited for the record it linked
        go to the sync queue again, and the hub's side of a conflict it won goes to the export queue. What a
        queue refuses waits in DynamoDB instead (changes parked again; the export parked until the next export
        run with budget takes it), so nothing is lost."""
        if result.requeue:
            refused = {
                change.change_id
                for change in self._sync_queue.send([item.change.queued_again() for item in result.requeue])
            }
            again = [item for item in result.requeue if item.change.change_id in refused]
            if again:
                self._parked.park_changes(again)
        if result.queue_export and result.record_id is not None:
            now = self._clock.now()
            request = export_change(result.entity, result.record_id, 1, source=ChangeSource.STREAM, stamp=now)
            if self._export_queue.send([request]):
                key = RecordKey(result.entity, result.record_id)
                reason = "the export queue refused the export of a conflict the hub won"
                self._parked.park([ParkedExport(key, reason, now, resume_after=now)])

    def mark_dead(self, change: Change, message: str) -> None:
        """The queue gave up on the change (its retries are spent): the record goes to Error, the entry dead."""
        if change.salesforce_id is None:
            return
        links = self._links.lookup(by_salesforce_id=[(change.entity.value, change.salesforce_id)])
        record_id = links.hub_key(change.entity.value, change.salesforce_id)
        operation = _operation_of(change, created=record_id is None)
        if record_id is not None:
            entry_id = error_id(change.entity, record_id, ErrorDirection.FROM_SALESFORCE, operation)
            key = RecordKey(change.entity, record_id)
            state = self._store.read_state(key)
            held = state.open_errors if state is not None else []
            self._writer.write(
                RecordWrite(
                    key=key,
                    happened=Happened(
                        actor=Actor.SYNC_IMPORT, event=SyncEvent.IMPORT_FAILED, operation=operation, message=message
                    ),
                    state_changes={"open_errors": remembering(held, entry_id)},
                ),
                previous=state,
            )
        self._errors.record_failure(
            entity=change.entity,
            record_id=record_id or f"sf:{change.salesforce_id}",
            direction=ErrorDirection.FROM_SALESFORCE,
            operation=operation,
            code="DEAD_LETTERED",
            message=message,
            payload=change.model_dump(mode="json"),
            status=ErrorStatus.DEAD,
            now=self._clock.now(),
        )

    # ------------------------------------------------------------------ one attempt

    def _apply_once(self, change: Change, config: EntitySyncConfig, mapping: EntityMapping) -> ImportResult:
        entity, salesforce_id = change.entity, str(change.salesforce_id)
        parents = [
            (reference.parent, str(value))
            for reference in mapping.references
            if reference.direction.imports and (value := change.values.get(reference.salesforce_field))
        ]
        own = (entity.value, salesforce_id)
        links = self._links.lookup(by_salesforce_id=[own, *parents], waiting_for=[own])  # request 1
        record_id = links.hub_key(entity.value, salesforce_id)
        linked = record_id is not None
        if record_id is None and isinstance(hub_id := change.values.get(mapping.external_id_field), str) and hub_id:
            # Not linked, but Salesforce names the hub record (its external id, e.g. an undeleted record the
            # hub had unlinked): relink that record rather than create another.
            record_id = hub_id
        record: HubRecord | None = None
        state: SyncState | None = None
        if record_id is not None:
            key = RecordKey(entity, record_id)
            stored = self._store.read([key])[key]  # request 2
            record, state = stored.record, stored.state
            if not linked and state is None:
                record_id, record = None, None  # the external id names no hub record
        merge = merge_inbound(change, state.field_stamps if state else {}, delete_policy=config.delete_policy)
        tied = _with_ties(change, merge, state)
        attempt = _Attempt(self, change, config, mapping, links, record_id, record, state, tied)
        attempt.linked = linked
        attempt.tied = tied is not merge
        return attempt.run()

    # Used by _Attempt.
    def _new_record_id(self, entity: EntityName) -> str:
        return format_record_id(entity, self._sequences.next_value(f"record#{entity.value}"))


class _Attempt:
    """One attempt at one change, with what was read for it."""

    def __init__(
        self,
        service: SyncImportService,
        change: Change,
        config: EntitySyncConfig,
        mapping: EntityMapping,
        links: LinkLookup,
        record_id: str | None,
        record: HubRecord | None,
        state: SyncState | None,
        merge: MergeResult,
    ) -> None:
        self.service, self.change, self.config, self.mapping = service, change, config, mapping
        self.links, self.record_id, self.record, self.state, self.merge = links, record_id, record, state, merge
        self.entity = change.entity
        self.salesforce_id = str(change.salesforce_id)
        self.linked = record_id is not None
        self.tied = False  # some fields apply at a stamp equal to the one held (see _with_ties)

    def result(
        self,
        outcome: Applied,
        message: str | None = None,
        *,
        queue_export: bool = False,
        requeue: tuple[ParkedChange, ...] = (),
    ) -> ImportResult:
        return ImportResult(outcome, self.entity, self.salesforce_id, self.record_id, message, queue_export, requeue)

    @property
    def key(self) -> RecordKey:
        assert self.record_id is not None
        return RecordKey(self.entity, self.record_id)

    @property
    def relink(self) -> str | None:
        """The Salesforce id to claim for the record with any write of this attempt: the record was not linked
        (a new one, or one Salesforce names by its external id), so whatever the outcome (applied, an echo, a
        conflict the hub keeps or a person holds) the link is written with it, and the export that follows
        goes to this Salesforce record, never to a new one."""
        return None if self.linked else self.salesforce_id

    def run(self) -> ImportResult:
        action = self.merge.action
        if action is MergeAction.NOTHING:
            return self.result(Applied.DUPLICATE if self.merge.duplicate else Applied.STALE)
        if action is MergeAction.DELETE_IN_HUB:
            return self.delete_in_hub()
        if action is MergeAction.UNLINK:
            return self.unlink()
        if self.record is None and self.record_id is not None and action is MergeAction.APPLY:
            return self.skip("the record was deleted in the hub")
        if self.record is None:
            if self.record_id is None and self.config.sync_only_linked:
                return self.result(Applied.SKIPPED, "sync only linked: a record new in Salesforce is not created")
            return self.apply(conflict=None)
        if self.config.create_only:
            return self.skip("create only: the hub record is not updated from Salesforce")
        imported = self.mapping.imported_fields | workflow_fields(self.entity, self.config)
        if self.state is not None and repeats_last_sync(
            self.merge.values, self.state.synced_field_hashes, imported=imported
        ):
            return self.echo()
        # A tie is a Salesforce write after the one the hub holds, within the stamp's resolution.
        stamp = self.change.stamp + timedelta(microseconds=1) if self.tied else self.change.stamp
        if is_conflict(self.state, record_version=self.record.version, salesforce_stamp=stamp):
            return self.conflict()
        return self.apply(conflict=None)

    # ------------------------------------------------------------------ outcomes

    def succeeded(self) -> dict[str, Any]:
        """What a successful write keeps: the stamps, and no open error (resolved after the write)."""
        return {**self.stamps(), "open_errors": []}

    def stamps(self) -> dict[str, Any]:
        """What the state keeps of this change: the field stamps and the newest Salesforce stamp applied."""
        held = self.state.last_salesforce_modstamp if self.state else None
        newest = self.change.stamp if held is None or self.change.stamp > held else held
        return {"field_stamps": self.merge.field_stamps, "last_salesforce_modstamp": newest}

    def import_happened(self, event: SyncEvent, operation: SyncOperation, **extra: Any) -> Happened:
        return Happened(actor=Actor.SYNC_IMPORT, event=event, operation=operation, **extra)

    def echo(self) -> ImportResult:
        # Salesforce repeats what the hub wrote: keep its stamps (an older event arriving later must not roll
        # back the fields), change nothing else.
        self.service._writer.write(
            RecordWrite(self.key, None, link=self.relink, state_changes=self.stamps()), previous=self.state
        )
        return self.result(Applied.ECHO)

    def skip(self, reason: str) -> ImportResult:
        if self.state is not None:
            happened = Happened(actor=Actor.SYNC_IMPORT, event=SyncEvent.POLICY_SKIP, message=reason)
            self.service._writer.write(
                RecordWrite(self.key, happened, state_changes=self.stamps()), previous=self.state
            )
        return self.result(Applied.SKIPPED, reason)

    def delete_in_hub(self) -> ImportResult:
        if self.record is None:
            return self.result(Applied.UNCHANGED)
        happened = self.import_happened(
            SyncEvent.IMPORT_APPLIED,
            SyncOperation.DELETE,
            record_version=self.record.version,
            salesforce_id=self.salesforce_id,
        )
        write = RecordWrite(
            self.key,
            happened,
            expected_version=self.record.version,
            delete_record=True,
            state_changes={**self.succeeded(), "synced_field_hashes": self.state_hashes()},
        )
        self.service._writer.write(write, previous=self.state)
        self.resolve_errors()
        return self.result(Applied.DELETED)

    def unlink(self) -> ImportResult:
        if self.record_id is None or self.state is None:
            return self.result(Applied.UNCHANGED)
        happened = self.import_happened(
            SyncEvent.IMPORT_APPLIED, SyncOperation.DELETE, record_version=self.state.record_version
        )
        # The hub keeps the record; its next export creates it in Salesforce again (upsert by the hub's id).
        write = RecordWrite(
            self.key,
            happened,
            unlink=self.salesforce_id,
            state_changes={**self.succeeded(), "external_ref": None, "synced_field_hashes": {}},
        )
        self.service._writer.write(write, previous=self.state)
        self.resolve_errors()
        return self.result(Applied.UNLINKED)

    def conflict(self) -> ImportResult:
        assert self.record is not None
        if self.agrees_with_hub():
            # Both sides hold the same values (typically the hub's own export, seen before its result was
            # recorded): nothing to resolve and nothing to write but the stamps. The record keeps its status;
            # its export, already queued, records the sync.
            self.service._writer.write(RecordWrite(self.key, None, state_changes=self.stamps()), previous=self.state)
            return self.result(Applied.UNCHANGED)
        if self.change.source is ChangeSource.RESOLUTION:
            # An administrator resolved the conflict (POST /sync/errors/{ref}/resolve-conflict): the Salesforce
            # values they chose win; the record stays Modified Locally, so the export that follows sends the
            # hub's side of the fields they chose to keep.
            return self.apply(conflict="resolved by an administrator")
        hub_values = {
            field_map.hub_field: get_path(self.record.fields, field_map.hub_field)
            for field_map in self.mapping.field_mapping
            if any(target in self.merge.values for target in field_map.targets)
        }
        outcome = resolve_conflict(
            self.config.conflict_policy,
            hub_updated_at=self.record.updated_at,
            salesforce_stamp=self.change.stamp,
            hub_values=hub_values,
            salesforce_values=self.merge.values,
        )
        if outcome.resolution is Resolution.APPLY_SALESFORCE:
            return self.apply(conflict=outcome.message)
        if outcome.resolution is Resolution.KEEP_HUB:
            # The hub's record stays; its export (queued by the write that changed it) brings Salesforce back.
            self.service._writer.write(
                RecordWrite(self.key, None, link=self.relink, state_changes=self.stamps()), previous=self.state
            )
            return self.result(Applied.CONFLICT_HUB_KEPT, outcome.message, queue_export=True)
        happened = self.import_happened(SyncEvent.CONFLICT, SyncOperation.UPDATE, message=outcome.message)
        entry_id = error_id(self.entity, self.key.record_id, ErrorDirection.FROM_SALESFORCE, SyncOperation.UPDATE)
        remembered = {"open_errors": remembering((self.state.open_errors if self.state else []), entry_id)}
        self.service._writer.write(
            RecordWrite(self.key, happened, link=self.relink, state_changes=remembered), previous=self.state
        )
        self.service._errors.record_failure(
            entity=self.entity,
            record_id=self.key.record_id,
            direction=ErrorDirection.FROM_SALESFORCE,
            operation=SyncOperation.UPDATE,
            code="CONFLICT",
            message=outcome.message,
            payload={
                "hub": outcome.hub_values,
                "salesforce": outcome.salesforce_values,
                "change": self.change.model_dump(mode="json"),
            },
            status=ErrorStatus.OPEN,
            now=self.service._clock.now(),
        )
        return self.result(Applied.CONFLICT_HELD, outcome.message)

    def agrees_with_hub(self) -> bool:
        """Whether this change, applied to the hub's record, leaves it as it is."""
        assert self.record is not None
        translated = from_salesforce(
            self.merge.values, self.mapping, self.links, current=self.record.fields, record_id=self.record_id
        )
        if not isinstance(translated, ImportChanges):
            return False
        try:
            if _validated(self.entity, translated.applied_to(self.record.fields)) != self.record.fields:
                return False
        except _Invalid:
            return False
        return self.workflow_agrees()

    def workflow_agrees(self) -> bool:
        """Whether the change's workflow fields (a case's Status) ask the hub's workflow for nothing."""
        changes = self.workflow_changes()
        if self.entity is not EntityName.CASE or not changes:
            return True
        assert self.record is not None
        try:
            plan = case_status_change(Case.model_validate(self.record.fields), changes, self.config.case_settings)
        except (WorkflowConflict, ValidationError):
            return False
        return plan.change.changes_nothing

    def state_hashes(self) -> dict[str, str]:
        """The echo hashes after this change: what the hub last synced, with the fields this change set."""
        held = dict(self.state.synced_field_hashes) if self.state else {}
        held.update({name.lower(): field_hash(value) for name, value in self.merge.values.items()})
        return held

    def apply(self, *, conflict: str | None) -> ImportResult:
        current = self.record.fields if self.record else {}
        translated = from_salesforce(
            self.merge.values, self.mapping, self.links, current=current, record_id=self.record_id
        )
        if isinstance(translated, WaitsForParent):
            # The parent's own change is on its way (another message group): wait for its link in DynamoDB.
            return self.park(translated.parent, translated.parent_key, translated.message)
        if isinstance(translated, MappingFailure):
            return self.fail(translated.code, translated.message, field=translated.field)
        return self.write_fields(translated, conflict)

    def write_fields(self, translated: ImportChanges, conflict: str | None) -> ImportResult:
        creating = self.record is None
        restoring = creating and self.record_id is not None
        if creating and self.entity not in ENTITY_MODELS:
            return self.fail(
                "CREATE_NOT_SUPPORTED",
                f"a {self.entity.value} created in Salesforce is not created in the hub: "
                f"{self.entity.value} records are opened by the hub's own workflow",
            )
        fields = translated.applied_to(self.record.fields if self.record else {})
        try:
            fields = _validated(self.entity, fields)
        except _Invalid as exc:
            if creating and not restoring and exc.missing:
                # A change naming only some fields (a change event of an edit) of a record the hub does not
                # have yet: its create is on its way, delivered out of order. Wait for the record's link.
                return self.park(self.entity.value, self.salesforce_id, f"waits for its record: {exc.message}")
            return self.fail("VALIDATION_FAILED", exc.message, field=exc.field)
        created: list[HubRecord] = []
        if self.record is not None:
            ruled = self.through_workflow(fields)
            if isinstance(ruled, ImportResult):
                return ruled
            fields, created = ruled
        now = self.service._clock.now()
        if self.record is not None and fields == self.record.fields and conflict is None:
            # Newer stamps, values the hub already holds: synchronized, without a new version.
            happened = self.import_happened(
                SyncEvent.IMPORT_APPLIED,
                SyncOperation.UPDATE,
                record_version=self.record.version,
                salesforce_id=self.salesforce_id,
                salesforce_stamp=self.change.stamp,
                synced_hash=self.state.synced_hash if self.state else None,
                synced_field_hashes=self.state_hashes(),
            )
            self.service._writer.write(
                RecordWrite(self.key, happened, link=self.relink, state_changes=self.succeeded()), previous=self.state
            )
            self.resolve_errors()
            return self.result(Applied.UNCHANGED)
        if self.record is None:
            self.record_id = self.record_id or self.service._new_record_id(self.entity)
            record = HubRecord(
                entity=self.entity,
                id=self.record_id,
                version=1 if not restoring or self.state is None else self.state.record_version + 1,
                fields=fields,
                created_at=now,
                updated_at=now,
                updated_by=IMPORT_WRITER,
            )
        else:
            record = self.record.model_copy(
                update={
                    "version": self.record.version + 1,
                    "fields": fields,
                    "updated_at": now,
                    "updated_by": IMPORT_WRITER,
                }
            )
        if conflict is not None:
            # Salesforce won a conflict: its values apply, and the record stays Modified Locally so the hub's
            # other unexported edits still go to Salesforce (the export sends the merged record).
            happened = Happened(actor=Actor.SYSTEM, event=SyncEvent.UPDATE, record_version=record.version)
            outcome = Applied.CONFLICT_SALESFORCE_WON
            changes = self.succeeded()
        else:
            happened = self.import_happened(
                SyncEvent.IMPORT_APPLIED,
                SyncOperation.INSERT if creating else SyncOperation.UPDATE,
                record_version=record.version,
                salesforce_id=self.salesforce_id,
                salesforce_stamp=self.change.stamp,
                synced_hash=self.state.synced_hash if self.state else None,
                synced_field_hashes=self.state_hashes(),
            )
            outcome = Applied.CREATED if creating else Applied.UPDATED
            changes = self.succeeded()
        write = RecordWrite(
            self.key,
            happened,
            record=record,
            expected_version=None if creating else record.version - 1,
            link=self.relink,
            state_changes=changes,
        )
        # What the workflow's action created (a release's invoice or contract usage) is the hub's own record,
        # written with the case in one transaction and exported like any the hub creates.
        also = [user_write(new, SyncEvent.INSERT, expected_version=None, actor=Actor.SYSTEM) for new in created]
        self.service._writer.write_together(
            [write, *also], previous={write.key: self.state, **{item.key: None for item in also}}
        )
        self.record = record
        self.resolve_errors()
        requeue: tuple[ParkedChange, ...] = ()
        if not self.linked and (self.entity.value, self.salesforce_id) in self.links.waiting:
            # Linked now: the changes that waited for this record (its own edits, its children) go again.
            requeue = tuple(self.service._parked.take_changes(self.entity.value, [self.salesforce_id]))
        return self.result(outcome, conflict, requeue=requeue)

    # ------------------------------------------------------------------ the entity's workflow (Case)

    def workflow_changes(self) -> dict[str, Any]:
        """The fields of this change its entity's workflow applies (a case's Status and reason), left out when
        they still hold what was last synced (carried along with another field's change, not changed)."""
        names = workflow_fields(self.entity, self.config)
        held = self.state.synced_field_hashes if self.state is not None else {}
        return {
            name: value
            for name, value in self.merge.values.items()
            if name.lower() in names and held.get(name.lower()) != field_hash(value)
        }

    def through_workflow(self, fields: dict[str, Any]) -> tuple[dict[str, Any], list[HubRecord]] | ImportResult:
        """The record's fields after its workflow applied the change (a case's status change as the action it
        means, with its effects), and what the action created; or the workflow conflict, logged."""
        hook = self.service._case_hook
        changes = self.workflow_changes()
        if self.entity is not EntityName.CASE or hook is None or not changes:
            return fields, []
        try:
            case = Case.model_validate(fields)
        except ValidationError as exc:
            return self.fail("VALIDATION_FAILED", f"Case from Salesforce is not valid in the hub: {exc}")
        try:
            closed = {name: value for name, value in self.merge.values.items() if name.lower() == "closeddate"}
            ruled = hook.apply(
                self.key.record_id,
                case,
                {**changes, **closed},
                self.config.case_settings,
                actor=IMPORT_WRITER,
                now=self.service._clock.now(),
            )
        except WorkflowConflict as conflict:
            return self.workflow_conflict(conflict, changes)
        if ruled.case is case:
            return fields, []
        return store_form(ruled.case), ruled.created

    def workflow_conflict(self, conflict: WorkflowConflict, changes: dict[str, Any]) -> ImportResult:
        """A change the workflow does not allow: nothing of it applies (the error log keeps the whole change), the
        record goes to Error until a person applies a valid action or the hub's state is pushed back to Salesforce.
        No stamp is kept, so a redelivery meets the same conflict; the echo hashes of the refused fields are
        dropped (Salesforce no longer holds what the hub last sent), so the next export sends the hub's status
        back and the next Salesforce change of them is news, never an echo."""
        assert self.state is not None
        happened = self.import_happened(SyncEvent.CONFLICT, SyncOperation.UPDATE, message=conflict.message)
        entry_id = error_id(self.entity, self.key.record_id, ErrorDirection.FROM_SALESFORCE, SyncOperation.UPDATE)
        refused = {name.lower() for name in changes}
        hashes = {name: held for name, held in self.state.synced_field_hashes.items() if name not in refused}
        remembered = {"open_errors": remembering(self.state.open_errors, entry_id), "synced_field_hashes": hashes}
        self.service._writer.write(RecordWrite(self.key, happened, state_changes=remembered), previous=self.state)
        self.service._errors.record_failure(
            entity=self.entity,
            record_id=self.key.record_id,
            direction=ErrorDirection.FROM_SALESFORCE,
            operation=SyncOperation.UPDATE,
            code=WORKFLOW_CONFLICT,
            message=conflict.message,
            payload={**conflict.payload(), "change": self.change.model_dump(mode="json")},
            status=ErrorStatus.OPEN,
            now=self.service._clock.now(),
        )
        return self.result(Applied.WORKFLOW_CONFLICT, conflict.message)

    def park(self, kind: str, salesforce_id: str, reason: str) -> ImportResult:
        """Keep the change in DynamoDB until Salesforce record `salesforce_id` of `kind` is linked (not a failure:
        the queue's receive counts are for failures)."""
        now = self.service._clock.now()
        self.service._parked.park_changes([ParkedChange(self.change, kind, salesforce_id, reason, now)])
        # It may have linked between our read and the park: then nobody would take this change back.
        again = self.service._links.lookup(by_salesforce_id=[(kind, salesforce_id)])
        if again.hub_key(kind, salesforce_id) is not None:
            taken = tuple(self.service._parked.take_changes(kind, [salesforce_id]))
            return self.result(Applied.PARKED, f"{reason} (linked meanwhile: queued again)", requeue=taken)
        return self.result(Applied.PARKED, reason)

    def fail(self, code: str, message: str, *, field: str | None = None) -> ImportResult:
        """A permanent failure: the record (if the hub has it) goes to Error; the error log keeps the change."""
        operation = _operation_of(self.change, created=self.record is None)
        if self.state is not None:
            happened = self.import_happened(SyncEvent.IMPORT_FAILED, operation, message=message)
            entry_id = error_id(self.entity, self.key.record_id, ErrorDirection.FROM_SALESFORCE, operation)
            remembered = {"open_errors": remembering(self.state.open_errors, entry_id)}
            self.service._writer.write(RecordWrite(self.key, happened, state_changes=remembered), previous=self.state)
        self.service._errors.record_failure(
            entity=self.entity,
            record_id=self.record_id or f"sf:{self.salesforce_id}",
            direction=ErrorDirection.FROM_SALESFORCE,
            operation=operation,
            code=code,
            message=message if field is None or field in message else f"{field}: {message}",
            payload=self.change.model_dump(mode="json"),
            status=ErrorStatus.OPEN,
            now=self.service._clock.now(),
        )
        return self.result(Applied.FAILED, message)

    def resolve_errors(self) -> None:
        """A success resolves the record's open error log entries (their ids are kept in its state). A record
        created now had no state to keep them: an import that failed before it existed stays in the error log
        under sf:<Salesforce id> until a person closes it (looking it up would cost every create a request)."""
        if self.state is None:
            return
        now = self.service._clock.now()
        for entry_id in self.state.open_errors:
            entry = self.service._errors.get(entry_id)
            if entry is not None and entry.status is not ErrorStatus.RESOLVED:
                self.service._errors.save(resolved(entry, now=now))


class _Invalid(Exception):
    def __init__(self, field: str, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.field, self.message = field, message
        self.missing = missing  # every problem is a required field the change did not carry


def _validated(entity: EntityName, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as the hub stores them (its model's JSON form); a value the model refuses is permanent."""
    model = ENTITY_MODELS.get(entity)
    if model is None:
        return fields  # Case: its fields belong to the case workflow, which checks them on its own writes
    try:
        return model.model_validate(fields).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(record)"
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(record)'}: {error['msg']}" for error in exc.errors()
        )
        missing = all(error["type"] == "missing" for error in exc.errors())
        message = f"{entity.value} from Salesforce is not valid in the hub: {problems}"
        raise _Invalid(field, message, missing=missing) from exc


def _with_ties(change: Change, merge: MergeResult, state: SyncState | None) -> MergeResult:
    """Fields whose stamp equals the one held but whose value is not the one last synced also apply.

    Stamps have a resolution (SystemModstamp's second): two writes of a field within it carry one stamp. A
    redelivery repeats the value last synced (its hash matches) and stays a no-op; a different value is a
    later write in the same second, delivered after the first (one record's changes arrive in order)."""
    if state is None or change.operation is not ChangeOperation.UPSERT or merge.action not in TIE_ACTIONS:
        return merge
    ties = {
        name: change.value_of(name)
        for name in merge.stale_fields
        if state.field_stamps.get(name) == change.stamp_of(name)
        and state.synced_field_hashes.get(name.lower()) != field_hash(change.value_of(name))
    }
    if not ties:
        return merge
    return merge.model_copy(
        update={
            "action": MergeAction.APPLY,
            "values": {**merge.values, **ties},
            "stale_fields": [name for name in merge.stale_fields if name not in ties],
            "duplicate": False,
        }
    )


TIE_ACTIONS = frozenset({MergeAction.APPLY, MergeAction.NOTHING})


def _operation_of(change: Change, *, created: bool) -> SyncOperation:
    if change.operation is ChangeOperation.DELETE:
        return SyncOperation.DELETE
    return SyncOperation.INSERT if created else SyncOperation.UPDATE
