"""record_stream: the records table's stream -> export requests on the export queue (the outbox).

Thin: each stream record becomes a CommittedWrite, the outbox service decides what to queue, and the writes
whose request could not be queued come back as batch item failures, so the stream delivers them again
(from the first of them, in order). A record that cannot be read as a hub record write is logged and
skipped (blocking the shard on it would stop every export behind it); the table's items that are not
records (a case's activities) are passed over.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord, DynamoDBRecordEventName
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from sync_core.adapters.outbox_factory import OUTBOX_SETTINGS, build_export_outbox
from sync_core.config import require_settings
from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import ChangeDirection
from sync_core.domain.sync.outbox import CommittedWrite
from sync_core.observability import logger, publish_counts, tracer
from sync_core.services.outbox import ExportOutbox

REQUIRED_SETTINGS = OUTBOX_SETTINGS
ENTITIES = frozenset(entity.value for entity in EntityName)


@cache
def _outbox() -> ExportOutbox:
    return build_export_outbox(require_settings(REQUIRED_SETTINGS))


def record_write(record: DynamoDBRecord) -> CommittedWrite | None:
    """The hub record write a stream record describes (None: not one)."""
    stream = record.dynamodb
    if stream is None or record.event_name is None:
        return None
    removed = record.event_name is DynamoDBRecordEventName.REMOVE
    image = (stream.old_image if removed else stream.new_image) or {}
    if image.get("pk") not in ENTITIES:
        # The table's other items (a case's activities, under "Case#<id>#Activity") export with their record.
        logger.debug("stream record is not a hub record; passed over", extra={"pk": image.get("pk")})
        return None
    created = stream.approximate_creation_date_time
    return CommittedWrite.model_validate(
        {
            "write_id": stream.sequence_number,
            "entity": image.get("pk"),
            "record_id": image.get("sk"),
            "version": image.get("version"),
            # A REMOVE shows the item before the delete, so its writer is not the deleter's: every delete asks
            # for an export, and the export reads who deleted from the record's sync state (deleted_by).
            "written_by": None if removed else image.get("written_by"),
            "updated_by": None if removed else image.get("updated_by"),
            "removed": removed,
            "stamp": datetime.fromtimestamp(created, UTC) if created else datetime.now(UTC),
        }
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outbox = _outbox()
    writes: list[CommittedWrite] = []
    for record in DynamoDBStreamEvent(event).records:
        try:
            write = record_write(record)
        except ValidationError as exc:
            write = None
            logger.error(
                "stream record is not a hub record write; skipped",
                extra={"sequence_number": record.dynamodb and record.dynamodb.sequence_number, "error": str(exc)},
            )
        if write is not None:
            writes.append(write)
    result = outbox.queue_exports(writes)
    for change in result.queued:
        logger.info(
            "export queued",
            extra={"entity": change.entity.value, "record_id": change.hub_id, "change_id": change.change_id},
        )
    if result.failed_write_ids:
        logger.warning("exports not queued; the stream delivers them again", extra={"writes": result.failed_write_ids})
    direction = ChangeDirection.TO_SALESFORCE.value
    publish_counts(Counter(("ExportsQueued", change.entity.value, direction) for change in result.queued))
    return {"batchItemFailures": [{"itemIdentifier": write_id} for write_id in result.failed_write_ids]}
