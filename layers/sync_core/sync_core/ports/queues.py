"""Queue ports: where export requests go (the export queue)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sync_core.domain.sync.changes import Change


class ExportQueue(Protocol):
    """Export requests (`Change`s to Salesforce) for the export worker; order and duplicates do not matter."""

    def send(self, changes: Sequence[Change]) -> list[Change]:
        """Queue the changes; returns those that could not be queued (the caller retries them)."""
        ...
