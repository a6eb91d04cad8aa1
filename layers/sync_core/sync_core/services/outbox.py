"""The outbox service: hub record writes in, export requests on the export queue out.

It runs on every batch of the records table's stream: the sync's own writes and entities that do not export
are passed over; every other record gets one export request per batch (the export reads the current state).
A request that cannot be queued is reported by the writes behind it, so the stream delivers them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change
from sync_core.domain.sync.outbox import CommittedWrite, export_request, is_sync_write, latest_per_record
from sync_core.ports.queues import ExportQueue
from sync_core.ports.stores import SyncConfigStore


@dataclass
class OutboxResult:
    queued: list[Change] = field(default_factory=list)
    sync_writes: int = 0  # the sync's own writes, passed over
    not_exported: int = 0  # writes of entities whose sync configuration does not export
    failed_write_ids: list[str] = field(default_factory=list)


class ExportOutbox:
    def __init__(self, *, configs: SyncConfigStore, queue: ExportQueue) -> None:
        self._configs = configs
        self._queue = queue

    def queue_exports(self, writes: Sequence[CommittedWrite]) -> OutboxResult:
        result = OutboxResult()
        exports: dict[EntityName, bool] = {}  # one configuration read per entity and batch
        requests: list[tuple[Change, list[CommittedWrite]]] = []
        for (entity, _), record_writes in latest_per_record(list(writes)).items():
            wanted = [write for write in record_writes if not is_sync_write(write)]
            result.sync_writes += len(record_writes) - len(wanted)
            if not wanted:
                continue
            if entity not in exports:
                exports[entity] = self._configs.get(entity).exports
            if not exports[entity]:
                result.not_exported += len(wanted)
                continue
            # The newest write asking for it names the version (a delete after an edit is a delete).
            requests.append((export_request(wanted[-1]), wanted))
        failed = {change.change_id for change in self._queue.send([change for change, _ in requests])}
        for change, wanted in requests:
            if change.change_id in failed:
                result.failed_write_ids.extend(write.write_id for write in wanted)
            else:
                result.queued.append(change)
        return result
