"""Queue ports: where changes go. Export requests to the export queue (standard: order and duplicates do
not matter, the worker sends a record's current state); Salesforce changes to the sync queue (FIFO: one
record's changes apply in order, and SQS drops a redelivery of one change within five minutes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sync_core.domain.sync.changes import Change


class ChangeQueue(Protocol):
    """A queue of `Change`s for a worker."""

    def send(self, changes: Sequence[Change]) -> list[Change]:
        """Queue the changes; returns those that could not be queued (the caller retries them or fails)."""
        ...


# The export queue takes export requests (`Change`s to Salesforce) for the export worker.
ExportQueue = ChangeQueue
# The sync queue takes Salesforce changes (`Change`s from Salesforce) for the sync worker, in order per record.
ImportQueue = ChangeQueue
