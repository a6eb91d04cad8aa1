"""The one write path of hub records: who wrote (the actor) decides the next sync state.

Every write of a hub record, by the records and cases APIs, by the sync applying a Salesforce change, by
the sync recording an export's result, or by the hub itself, is a `RecordWrite` given to `SyncWriter`. It
computes the record's next SyncState with domain.sync.transitions (one row of the table per actor and
event), then writes the record, its state and its link in one transaction (SyncStore.commit):
- the record on condition that it is still at the version the writer's caller read (the loser of a race
  gets StaleVersionError and decides: the API answers 409, the sync reads again and re-applies);
- the state on condition that it is still at the revision read: if another step changed it meanwhile
  (an export result landing during a user's write), the writer reads it again and recomputes, so neither
  the user's write nor the export's link is lost;
- the record item carries `written_by` = the actor, so the records table's stream queues an export only
  for writes that are not the sync's own (no ping-pong).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.domain.sync.transitions import Actor, Happened, SyncEvent, Transition, transition
from sync_core.domain.sync_state import SyncState
from sync_core.errors import StateMovedError
from sync_core.ports.stores import Clock
from sync_core.ports.sync import LinkClaim, RecordKey, StoredWrite, SyncStore

# How often a write whose state moved meanwhile is recomputed before giving up (ContendedError: retryable).
STATE_ATTEMPTS = 5


@dataclass(frozen=True)
class RecordWrite:
    """One record's write: what happened to it, and what changes in the store.

    `record` is the new record to store (None: the record item is not touched, e.g. an export's result);
    `expected_version` the version the record must still be at (None with a record: a create);
    `delete_record` removes it at `expected_version`. `link` claims a Salesforce id for the record (kind:
    its entity); `unlink` releases one. `state_changes` are set on the state the transition computed, for
    what the table does not carry (the import's field stamps; the external reference an unlink clears).
    """

    key: RecordKey
    happened: Happened | None  # None: bookkeeping of the state alone (an echo's stamps), no status change
    record: HubRecord | None = None
    expected_version: int | None = None
    delete_record: bool = False
    link: str | None = None
    unlink: str | None = None
    state_changes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Written:
    key: RecordKey
    record: HubRecord | None
    state: SyncState
    queue_export: bool
    superseded: bool


class _Unread:
    """Marker: the caller did not read the state; the writer reads it."""


UNREAD = _Unread()
type Previous = SyncState | _Unread | None
type Commit = Callable[[Sequence[StoredWrite]], None]


def _always_exports(_: EntityName) -> bool:
    return True


class SyncWriter:
    """The one class that writes hub records (see the module's docstring)."""

    def __init__(
        self, store: SyncStore, clock: Clock, *, exports: Callable[[EntityName], bool] = _always_exports
    ) -> None:
        self._store = store
        self._clock = clock
        # Whether the entity exports (only decides Written.queue_export; the stream queues the export itself).
        self._exports = exports

    @property
    def store(self) -> SyncStore:
        return self._store

    def write(self, write: RecordWrite, *, previous: Previous = UNREAD, commit: Commit | None = None) -> Written:
        """Write one record with its state (and link): one transaction, recomputed if its state moved."""
        return self.write_together([write], previous={write.key: previous}, commit=commit)[0]

    def write_together(
        self,
        writes: Sequence[RecordWrite],
        *,
        previous: Mapping[RecordKey, Previous] | None = None,
        commit: Commit | None = None,
    ) -> list[Written]:
        """Several records all or nothing (a released case and its invoice), in one transaction.

        `commit` replaces the store's commit for a caller whose transaction holds more than records (a case's
        activity, written with the case's next version): it must write the given StoredWrites as SyncStore.commit
        does, in the same transaction as its own items."""
        commit = commit or self._store.commit
        known: dict[RecordKey, SyncState | None] = {}
        for write in writes:
            given = (previous or {}).get(write.key, UNREAD)
            known[write.key] = self._store.read_state(write.key) if isinstance(given, _Unread) else given
        for attempt in range(1, STATE_ATTEMPTS + 1):
            now = self._clock.now()
            planned = [self._plan(write, known[write.key], now) for write in writes]
            try:
                commit([stored for stored, _ in planned])
            except StateMovedError:
                if attempt == STATE_ATTEMPTS:
                    raise
                known = {key: self._store.read_state(key) for key in known}
                continue
            return [written for _, written in planned]
        raise AssertionError("unreachable")  # pragma: no cover

    def _plan(self, write: RecordWrite, previous: SyncState | None, now: Any) -> tuple[StoredWrite, Written]:
        key = write.key
        if write.happened is None:
            # Bookkeeping (e.g. the stamps of an echo): not a sync step, so no row of the transition table.
            if previous is None or write.record is not None or write.delete_record:
                raise ValueError("bookkeeping changes the state of a record that has one, and nothing else")
            moved = Transition(state=previous, queue_export=False)
            actor = Actor.SYNC_IMPORT
        else:
            moved = transition(
                previous,
                write.happened,
                entity=key.entity,
                record_id=key.record_id,
                now=now,
                entity_exports=self._exports(key.entity),
            )
            actor = write.happened.actor
        revision = previous.revision if previous is not None else 0
        state = moved.state.model_copy(update={**write.state_changes, "revision": revision + 1})
        if write.link is not None:
            state = state.model_copy(update={"external_ref": write.link})
        if write.delete_record:
            state = state.model_copy(update={"deleted_by": actor.value})
        elif write.record is not None and state.deleted_by is not None:
            state = state.model_copy(update={"deleted_by": None})  # restored
        stored = StoredWrite(
            state=state,
            expected_revision=previous.revision if previous is not None else None,
            written_by=actor.value,
            record=write.record,
            expected_version=write.expected_version,
            delete_record=write.delete_record,
            claim=LinkClaim(key.entity.value, write.link, key.record_id) if write.link else None,
            release=LinkClaim(key.entity.value, write.unlink, key.record_id) if write.unlink else None,
        )
        return stored, Written(key, write.record, state, moved.queue_export, moved.superseded)


def user_write(
    record: HubRecord, event: SyncEvent, *, expected_version: int | None, actor: Actor = Actor.USER
) -> RecordWrite:
    """A user's (or the system's) write of a record: insert (expected_version None), update (put at
    expected_version), or delete (at expected_version)."""
    version = record.version if event is not SyncEvent.DELETE else expected_version
    return RecordWrite(
        key=RecordKey(record.entity, record.id),
        happened=Happened(actor=actor, event=event, record_version=version),
        record=None if event is SyncEvent.DELETE else record,
        expected_version=expected_version,
        delete_record=event is SyncEvent.DELETE,
    )
