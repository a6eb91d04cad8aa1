"""Storage ports: hub records and their sync state, sequences, sync configuration and the error log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sync_core.domain.entities import EntityName
from sync_core.domain.error_log import ErrorDirection, ErrorEntry, ErrorFilter, ErrorStatus
from sync_core.domain.records import HubRecord, Page
from sync_core.domain.sync_config import EntitySyncConfig
from sync_core.domain.sync_state import SyncOperation, SyncState


class RecordStore(Protocol):
    """Hub records and their sync state, written together in one transaction."""

    def get(self, entity: EntityName, record_id: str) -> HubRecord | None:
        """The record, or None when it does not exist."""
        ...

    def list(self, entity: EntityName, *, limit: int, cursor: str | None) -> Page[HubRecord]:
        """Records of one entity in id order, a page at a time (cursor from the previous page)."""
        ...

    def create(self, record: HubRecord, state: SyncState) -> None:
        """Insert a new record with its state; AlreadyExistsError if the id is taken."""
        ...

    def replace(self, record: HubRecord, state: SyncState, *, expected_version: int) -> None:
        """Write a new version; StaleVersionError unless the stored version is expected_version."""
        ...

    def delete(self, entity: EntityName, record_id: str, state: SyncState, *, expected_version: int) -> None:
        """Remove the record and keep its state (operation Delete); StaleVersionError on a version mismatch."""
        ...


class SyncStateStore(Protocol):
    """Per-record sync state, also found by Salesforce id."""

    def get(self, entity: EntityName, record_id: str) -> SyncState | None: ...

    def find_by_salesforce_id(self, entity: EntityName, salesforce_id: str) -> SyncState | None: ...


class SequenceStore(Protocol):
    """Numbering sequences (Case ID, record ids): the number for the next record of a sequence.

    A number is used up only by the create of the record numbered with it (the record store makes that part
    of the create), so a failed create leaves no gap; a create whose number was taken meanwhile fails with
    ContendedError and is numbered again."""

    def next_value(self, name: str) -> int: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SyncConfigStore(Protocol):
    """Per-entity sync configuration (the entity table of sync administration)."""

    def get(self, entity: EntityName) -> EntitySyncConfig:
        """The entity's configuration; the defaults when it was never configured."""
        ...

    def list(self) -> list[EntitySyncConfig]:
        """Every entity's configuration, in dependency order."""
        ...

    def put(self, config: EntitySyncConfig) -> None: ...


class ErrorLog(Protocol):
    """Failed sync steps, one entry per (entity, record, direction, operation), counted across attempts."""

    def record_failure(
        self,
        *,
        entity: EntityName,
        record_id: str,
        direction: ErrorDirection,
        operation: SyncOperation,
        code: str,
        message: str,
        payload: dict[str, Any] | None,
        status: ErrorStatus,
        now: datetime,
    ) -> ErrorEntry:
        """Add an attempt to the entry (created on the first failure) and return it."""
        ...

    def get(self, error_id: str) -> ErrorEntry | None: ...

    def list(self, status: ErrorStatus, *, limit: int, cursor: str | None) -> Page[ErrorEntry]:
        """Entries with a status, most recently seen first."""
        ...

    def save(self, entry: ErrorEntry) -> None:
        """Store a changed entry (resolve, dead)."""
        ...

    def search(self, where: ErrorFilter, *, limit: int, cursor: str | None) -> Page[ErrorEntry]:
        """Entries of one status narrowed by `where`, most recently seen first."""
        ...


FieldValue = str | int | float | bool


class RecordFinder(Protocol):
    """Records of one entity whose top-level fields equal given values (cases by status, contacts by account)."""

    def find(
        self, entity: EntityName, where: dict[str, FieldValue], *, limit: int, cursor: str | None
    ) -> Page[HubRecord]:
        """Matching records in id order, a page at a time; a page is short only when no more match."""
        ...


class RecordBatchWriter(Protocol):
    """Several records and their sync states written all or nothing (a released case and its invoice)."""

    def write_together(
        self,
        *,
        creates: Sequence[tuple[HubRecord, SyncState]] = (),
        replaces: Sequence[tuple[HubRecord, SyncState, int]] = (),
    ) -> None:
        """Create new records and replace others at an expected version, in one transaction.

        AlreadyExistsError if a new id is taken; StaleVersionError (or NotFoundError) if a replaced record moved on.
        """
        ...
