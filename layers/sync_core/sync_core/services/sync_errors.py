"""The error log for a person: find entries, read one with its payload, retry or resolve them one by one or as
a selection, and move dead-letter messages back to work.

A retry sends the failed work again through the engine rather than around it: an export error queues an export
request (the export worker sends the record as it is now, so the fix is an edit of the hub record); an import
error puts its change, or the administrator's edited copy of it, on the sync queue again. The entry says
`retrying` until the engine's next outcome for the record: a success resolves it (the record's state keeps its
open entries), a failure reopens it. Resolving by hand keeps who and a note; a resolved entry expires after the
retention period.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from sync_core.domain.error_log import (
    ErrorDirection,
    ErrorEntry,
    ErrorFilter,
    ErrorStatus,
    error_id_of_ref,
    resolved,
)
from sync_core.domain.records import Page
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeSource, export_change
from sync_core.errors import NotFoundError, RetryableError, SyncHubError, ValidationFailedError
from sync_core.ports.queues import ExportQueue, ImportQueue
from sync_core.ports.stores import Clock, ErrorLog
from sync_core.ports.sync_admin import DeadLetter, DeadLetterQueue

# A replay moves at most this many messages per call (an API call has 29 s): `more` says whether some are left.
MAX_REPLAYED = 500
CONFLICT = "CONFLICT"


class Side(StrEnum):
    HUB = "hub"
    SALESFORCE = "salesforce"


class WorkQueue(StrEnum):
    SYNC = "sync"
    EXPORT = "export"


@dataclass
class ItemOutcome:
    ref: str
    ok: bool
    status: ErrorStatus | None = None
    message: str | None = None


@dataclass
class Replayed:
    queue: WorkQueue
    moved: int = 0
    left: int = 0  # not selected, or unreadable: still in the dead-letter queue
    unreadable: list[str] = field(default_factory=list)  # message ids whose body is no change
    more: bool = False


class SyncErrorsService:
    def __init__(
        self,
        *,
        errors: ErrorLog,
        sync_queue: ImportQueue,
        export_queue: ExportQueue,
        dead_letters: Mapping[WorkQueue, DeadLetterQueue],
        clock: Clock,
    ) -> None:
        self._errors = errors
        self._queues: dict[WorkQueue, ImportQueue | ExportQueue] = {
            WorkQueue.SYNC: sync_queue,
            WorkQueue.EXPORT: export_queue,
        }
        self._dead_letters = dead_letters
        self._clock = clock

    # ------------------------------------------------------------------ reading

    def search(self, where: ErrorFilter, *, limit: int, cursor: str | None) -> Page[ErrorEntry]:
        if where.since and where.until and where.since > where.until:
            raise ValidationFailedError("since is later than until", field="since")
        return self._errors.search(where, limit=limit, cursor=cursor)

    def get(self, ref: str) -> ErrorEntry:
        entry_id = error_id_of_ref(ref)
        entry = self._errors.get(entry_id) if entry_id else None
        if entry is None:
            raise NotFoundError(f"no error log entry {ref}")
        return entry

    # ------------------------------------------------------------------ retry and resolve

    def retry(self, ref: str, *, payload: dict[str, Any] | None, actor: str) -> ErrorEntry:
        entry = self.get(ref)
        if entry.status is ErrorStatus.RESOLVED:
            raise ValidationFailedError(f"error {ref} is resolved: nothing to retry", field="status")
        if entry.code == CONFLICT:
            raise ValidationFailedError(
                "a conflict is not retried: resolve it by choosing a side, or resolve it with a note",
                field="code",
            )
        if entry.direction is ErrorDirection.TO_SALESFORCE:
            if payload is not None:
                raise ValidationFailedError(
                    "an export sends the hub record as it is now: correct the record (PATCH /records/...) and retry "
                    "without a payload",
                    field="body.payload",
                )
            request = export_change(
                entry.entity, entry.record_id, 1, source=ChangeSource.STREAM, stamp=self._clock.now()
            )
            self._send(WorkQueue.EXPORT, request)
        else:
            change = self._change_to_retry(entry, payload)
            self._send(WorkQueue.SYNC, change.queued_again())
            if payload is not None:
                entry = entry.model_copy(update={"payload": change.model_dump(mode="json")})
        retried = entry.model_copy(update={"status": ErrorStatus.RETRYING, "handled_by": actor})
        self._errors.save(retried)
        return retried

    def _change_to_retry(self, entry: ErrorEntry, edited: dict[str, Any] | None) -> Change:
        kept = entry.payload
        if edited is None and kept is None:
            raise ValidationFailedError(f"error {entry.id} kept no change to send again", field="payload")
        try:
            change = Change.model_validate(edited if edited is not None else kept)
        except ValidationError as exc:
            raise ValidationFailedError(
                "the payload is not a change from Salesforce",
                errors=[
                    {"field": ".".join(["body", "payload", *map(str, error["loc"])]), "reason": error["msg"]}
                    for error in exc.errors(include_url=False)
                ],
            ) from exc
        original = Change.model_validate(kept) if kept is not None else None
        if change.direction is not ChangeDirection.FROM_SALESFORCE or change.entity is not entry.entity:
            raise ValidationFailedError(
                f"the payload must stay a change of {entry.entity.value} from Salesforce", field="body.payload"
            )
        if original is not None and change.salesforce_id != original.salesforce_id:
            raise ValidationFailedError(
                f"the payload must stay about Salesforce record {original.salesforce_id}",
                field="body.payload.salesforce_id",
            )
        return change

    def _send(self, queue: WorkQueue, change: Change) -> None:
        if self._queues[queue].send([change]):
            raise RetryableError(f"the {queue.value} queue refused the retry; try again", retry_after_seconds=1)

    def resolve_conflict(
        self, ref: str, *, choose: Side | None, fields: Mapping[str, Side] | None, note: str | None, actor: str
    ) -> ErrorEntry:
        """A conflict (manual policy) settled by a person: one side for every field, or a side field by field
        (Salesforce field names, as the entry's payload lists them). Salesforce's chosen values apply to the hub
        record through the sync queue (as a conflict resolution, which wins the conflict); the hub's
        chosen values then go to Salesforce by the export that write queues. With the hub's side everywhere,
        only the export goes. The entry is resolved at once (with who and the note): the decision is made."""
        entry = self.get(ref)
        if entry.code != CONFLICT or entry.payload is None or "change" not in entry.payload:
            raise ValidationFailedError(f"error {ref} is no conflict: retry or resolve it", field="code")
        if entry.status is ErrorStatus.RESOLVED:
            raise ValidationFailedError(f"error {ref} is resolved already", field="status")
        if (choose is None) == (fields is None):
            raise ValidationFailedError("choose one side, or a side for each field (not both)", field="body.choose")
        change = Change.model_validate(entry.payload["change"])
        conflicting = list(change.changed_fields)
        if fields is not None:
            unknown = [name for name in fields if name not in conflicting]
            missing = [name for name in conflicting if name not in fields]
            problems = [{"field": f"body.fields.{name}", "reason": "not a field of this conflict"} for name in unknown]
            problems += [{"field": f"body.fields.{name}", "reason": "choose a side for it"} for name in missing]
            if problems:
                raise ValidationFailedError(f"the conflict's fields are {', '.join(conflicting)}", errors=problems)
        taken = [name for name in conflicting if (choose or (fields or {}).get(name)) is Side.SALESFORCE]
        if taken:
            chosen = change.model_copy(
                update={
                    "source": ChangeSource.RESOLUTION,
                    "change_id": f"{change.change_id}:resolved",
                    "values": {name: value for name, value in change.values.items() if name in taken},
                    "cleared_fields": [name for name in change.cleared_fields if name in taken],
                    "field_stamps": {name: at for name, at in change.field_stamps.items() if name in taken},
                }
            )
            self._send(WorkQueue.SYNC, Change.model_validate(chosen.model_dump()))
        else:
            request = export_change(
                entry.entity, entry.record_id, 1, source=ChangeSource.ADMIN, stamp=self._clock.now()
            )
            self._send(WorkQueue.EXPORT, request)
        # The conflict is decided: the entry is resolved now; the work that carries the decision out is the
        # engine's, and a failure of it is an entry of its own.
        settled = resolved(entry, now=self._clock.now(), note=note, by=actor)
        self._errors.save(settled)
        return settled

    def resolve(self, ref: str, *, note: str | None, actor: str) -> ErrorEntry:
        entry = self.get(ref)
        done = resolved(entry, now=self._clock.now(), note=note, by=actor)
        self._errors.save(done)
        return done

    def retry_many(self, refs: Iterable[str], *, actor: str) -> list[ItemOutcome]:
        return self._each(refs, lambda ref: self.retry(ref, payload=None, actor=actor))

    def resolve_many(self, refs: Iterable[str], *, note: str | None, actor: str) -> list[ItemOutcome]:
        return self._each(refs, lambda ref: self.resolve(ref, note=note, actor=actor))

    def _each(self, refs: Iterable[str], action: Any) -> list[ItemOutcome]:
        outcomes = []
        for ref in dict.fromkeys(refs):
            try:
                entry: ErrorEntry = action(ref)
            except (NotFoundError, ValidationFailedError) as exc:
                outcomes.append(ItemOutcome(ref, ok=False, message=exc.message))
                continue
            except SyncHubError as exc:  # a queue or DynamoDB refused: this one is not done, the rest may be
                outcomes.append(ItemOutcome(ref, ok=False, message=exc.message))
                continue
            outcomes.append(ItemOutcome(ref, ok=True, status=entry.status))
        return outcomes

    # ------------------------------------------------------------------ dead-letter queues

    def replay(self, queue: WorkQueue, *, message_ids: Sequence[str] | None) -> Replayed:
        """Move dead-letter messages (all, or those named) back to their queue, each as a change queued once more.
        Messages it does not move stay in the dead-letter queue."""
        report = Replayed(queue)
        wanted = set(message_ids) if message_ids is not None else None
        dead_letters = self._dead_letters[queue]
        kept: list[DeadLetter] = []
        try:
            while report.moved < MAX_REPLAYED:
                letters = dead_letters.receive(limit=min(10, MAX_REPLAYED - report.moved))
                if not letters:
                    break
                chosen: list[tuple[DeadLetter, Change]] = []
                for letter in letters:
                    if wanted is not None and letter.message_id not in wanted:
                        kept.append(letter)
                        continue
                    try:
                        chosen.append((letter, Change.model_validate_json(letter.body).queued_again()))
                    except ValidationError:
                        report.unreadable.append(letter.message_id)
                        kept.append(letter)
                refused = {id(change) for change in self._queues[queue].send([change for _, change in chosen])}
                moved = [letter for letter, change in chosen if id(change) not in refused]
                kept += [letter for letter, change in chosen if id(change) in refused]
                dead_letters.delete(moved)
                report.moved += len(moved)
                if wanted is not None and len(wanted) <= report.moved:
                    break
            else:
                report.more = True
        finally:
            dead_letters.release(kept)
        report.left = len(kept)
        return report
