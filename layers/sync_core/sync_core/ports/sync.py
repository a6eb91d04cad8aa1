"""Sync ports: the one transactional write of a record with its state and link, links, and parked work.

Keys in the sync state table (DynamoDB adapter: sync_core.adapters.dynamodb.sync):
    <entity> / <record id>                       the record's SyncState
    LINK#<kind> / <Salesforce id>                 the link, claimed conditionally (unique per Salesforce id)
    LINKED#<kind> / <hub key>                     the way back, for kinds that are not hub records (child rows,
                                                  price book entries); a hub record's way back is its state
    PARKED#<parent kind> / <parent key>#<entity>#<record id>   an export waiting for its parent's link
    PARKED#budget / <entity>#<record id>          an export deferred by the Salesforce API budget
    WAITING#<kind> / <Salesforce id>#<change>     an inbound change waiting for that Salesforce record's link
                                                  (a child's parent, or the record's own create)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.domain.sync.changes import Change
from sync_core.domain.sync_state import SyncState


@dataclass(frozen=True, order=True)
class RecordKey:
    entity: EntityName
    record_id: str

    def __str__(self) -> str:
        return f"{self.entity.value} {self.record_id}"


@dataclass(frozen=True)
class LinkClaim:
    """`salesforce_id` of kind `kind` (an entity name or a Salesforce object) belongs to `hub_key`."""

    kind: str
    salesforce_id: str
    hub_key: str


@dataclass(frozen=True)
class StoredRecord:
    """A record and its sync state as read together (either may be absent)."""

    key: RecordKey
    record: HubRecord | None
    state: SyncState | None


@dataclass(frozen=True)
class StoredWrite:
    """One record's part of a transaction: its state, and maybe the record itself and a link.

    - `record` set: put it, on condition that it is still at `expected_version` (None: that it does not exist);
    - `delete_record`: delete it at `expected_version`;
    - neither: only the state (and link) change; the record item is not touched.
    The state is written on condition that it is still at `expected_revision` (None: that there is none yet).
    `written_by` (a domain.sync.transitions.Actor value) goes onto the record item, so the records table's
    stream can tell the sync's own writes from the others.
    """

    state: SyncState
    expected_revision: int | None
    written_by: str
    record: HubRecord | None = None
    expected_version: int | None = None
    delete_record: bool = False
    claim: LinkClaim | None = None
    release: LinkClaim | None = None

    @property
    def key(self) -> RecordKey:
        return RecordKey(self.state.entity, self.state.record_id)


class SyncStore(Protocol):
    """Records and their states read in batches, and written together in one transaction."""

    def read(self, keys: Sequence[RecordKey]) -> dict[RecordKey, StoredRecord]:
        """Records and states of the keys, strongly consistent (batched: 50 keys per request)."""
        ...

    def read_state(self, key: RecordKey) -> SyncState | None: ...

    def commit(self, writes: Sequence[StoredWrite]) -> None:
        """All of the writes or none. Refusals, nothing written:
        AlreadyExistsError / StaleVersionError / NotFoundError (a record's condition), StateMovedError (a state's
        revision), LinkTakenError (the Salesforce id is linked to another record); ContendedError when a record
        numbered by the sequence lost its number."""
        ...


@dataclass
class LinkLookup:
    """Links read in one batch, both ways; what translate.Links asks of them."""

    salesforce_ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, hub key) -> Salesforce id
    hub_keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, Salesforce id) -> hub key
    waiting: set[tuple[str, str]] = field(default_factory=set)  # (kind, Salesforce id) inbound changes wait for

    def salesforce_id(self, kind: str, hub_key: str) -> str | None:
        return self.salesforce_ids.get((kind, hub_key))

    def hub_key(self, kind: str, salesforce_id: str) -> str | None:
        return self.hub_keys.get((kind, salesforce_id))

    def link(self, kind: str, hub_key: str, salesforce_id: str) -> None:
        self.salesforce_ids[(kind, hub_key)] = salesforce_id
        self.hub_keys[(kind, salesforce_id)] = hub_key


class LinkStore(Protocol):
    """Links between hub keys and Salesforce ids (hub records' links are claimed by SyncStore.commit)."""

    def lookup(
        self,
        *,
        by_salesforce_id: Sequence[tuple[str, str]] = (),
        by_hub_key: Sequence[tuple[str, str]] = (),
        waiting_for: Sequence[tuple[str, str]] = (),
    ) -> LinkLookup:
        """One batched read: (kind, Salesforce id) pairs and (kind, hub key) pairs; for hub records (kind an
        entity name) the way back is the record's sync state (its external reference). `waiting_for`: (kind,
        Salesforce id) pairs to tell whether inbound changes are parked waiting for them (LinkLookup.waiting)."""
        ...

    def save(self, claims: Sequence[LinkClaim]) -> None:
        """Links of rows that are not hub records (child rows by their external id), both ways."""
        ...


BUDGET = "budget"  # what a budget-parked export waits on


@dataclass(frozen=True)
class ParkedExport:
    """An export that waits: for its parent's link (`parent` = (kind, hub key)), or for the API budget."""

    key: RecordKey
    reason: str
    parked_at: datetime
    parent: tuple[str, str] | None = None
    resume_after: datetime | None = None


@dataclass(frozen=True)
class ParkedChange:
    """An inbound change that waits for a Salesforce record of kind `kind` to be linked to a hub record."""

    change: Change
    kind: str
    salesforce_id: str
    reason: str
    parked_at: datetime


class ParkedWork(Protocol):
    """Exports that wait, kept in DynamoDB rather than bounced through the queue (receive counts are for failures)."""

    def park(self, items: Sequence[ParkedExport]) -> None: ...

    def take_children(self, parent_kind: str, parent_keys: Collection[str]) -> list[ParkedExport]:
        """Remove and return the exports waiting for any of these parents."""
        ...

    def take_due(self, now: datetime, *, limit: int) -> list[ParkedExport]:
        """Remove and return up to `limit` budget-parked exports whose resume time has come."""
        ...

    def park_changes(self, items: Sequence[ParkedChange]) -> None:
        """Keep inbound changes until the Salesforce record each waits for is linked."""
        ...

    def take_changes(self, kind: str, salesforce_ids: Collection[str]) -> list[ParkedChange]:
        """Remove and return the inbound changes waiting for any of these Salesforce records of `kind`."""
        ...
