"""export_worker: export requests from the export queue -> the records' current state to Salesforce.

Thin: the batch's messages (up to 1,000, see the template) become record keys, each record once however
many requests name it; the export service sends them all in one run (one Composite call per 1,000 rows)
and reports per record. Records it could not send for a reason a retry may fix are reported as batch item
failures, by every message that named them, so SQS delivers those again; on a message's last receive (the
queue's maxReceiveCount) the record is marked dead first. Children whose parent this run linked, and work
the API budget had parked, are queued again. A message that is not an export request is logged and fails,
so it reaches the dead-letter queue after its retries rather than vanishing.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from sync_core.adapters.export_factory import EXPORT_SERVICE_SETTINGS, build_export_service
from sync_core.adapters.outbox_factory import build_export_queue
from sync_core.adapters.sqs.change_queue import SqsChangeQueue
from sync_core.config import require_settings
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeSource, export_change
from sync_core.observability import logger, publish_counts, tracer
from sync_core.ports.sync import RecordKey
from sync_core.services.sync_export import ExportReport, SyncExportService

REQUIRED_SETTINGS = (*EXPORT_SERVICE_SETTINGS, "EXPORT_QUEUE_URL")
DIRECTION = ChangeDirection.TO_SALESFORCE.value


@cache
def _service() -> SyncExportService:
    return build_export_service(require_settings(REQUIRED_SETTINGS))


@cache
def _queue() -> SqsChangeQueue:
    return build_export_queue(require_settings(REQUIRED_SETTINGS))


def _export_key(record: SQSRecord) -> RecordKey | None:
    """The record an export request names; None (logged) when the message is not one."""
    try:
        change = Change.model_validate_json(record.body)
    except ValidationError as exc:
        problem = str(exc)
    else:
        if change.direction is ChangeDirection.TO_SALESFORCE and change.hub_id is not None:
            return RecordKey(change.entity, change.hub_id)
        problem = f"a change {change.direction.value} is not an export request"
    logger.error(
        "export queue message is not an export request; after its retries it goes to the dead-letter queue",
        extra={"message_id": record.message_id, "error": problem, "body": record.body[:500]},
    )
    return None


def _last_receive(record: SQSRecord) -> bool:
    return int(record.attributes.approximate_receive_count or 1) >= require_settings(()).max_receive_count


def _requeue(keys: list[RecordKey]) -> list[RecordKey]:
    """Queue the keys again (children whose parent linked, budget-parked work); those that could not be."""
    if not keys:
        return []
    now = datetime.now(UTC)
    # The export sends the current state whatever the version: 1 is "at least the first".
    changes = [export_change(key.entity, key.record_id, 1, source=ChangeSource.STREAM, stamp=now) for key in keys]
    refused = _queue().send(changes)
    return [RecordKey(change.entity, str(change.hub_id)) for change in refused]


def _counts(report: ExportReport) -> Counter[tuple[str, str, str]]:
    counts: Counter[tuple[str, str, str]] = Counter()
    for metric, keys in (
        ("ChangesExported", report.exported),
        ("ChangesSkipped", report.skipped),
        ("ChangesParked", report.parked),
        ("ChangesFailed", report.errors),
        ("ChangesFailed", report.failed),
    ):
        for key in keys:
            counts[metric, key.entity.value, DIRECTION] += 1
    return counts


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    messages: dict[RecordKey, list[SQSRecord]] = {}
    failures: list[str] = []
    for record in SQSEvent(event).records:
        key = _export_key(record)
        if key is None:
            failures.append(record.message_id)
        else:
            messages.setdefault(key, []).append(record)
    report = _service().export(list(messages)) if messages else ExportReport()
    for key in report.exported:
        logger.info("exported", extra={"entity": key.entity.value, "record_id": key.record_id})
    for key in report.parked:
        logger.info("export parked", extra={"entity": key.entity.value, "record_id": key.record_id})
    dead = [key for key in report.failed if all(_last_receive(record) for record in messages.get(key, []))]
    if dead:
        _service().mark_dead(dead, "the export failed its last attempt (retryable failures, see the error log)")
        logger.error("exports dead-lettered", extra={"records": [str(key) for key in dead]})
    retried = [key for key in report.failed if key not in dead]
    if retried:
        logger.warning("exports failed; SQS delivers them again", extra={"records": [str(key) for key in retried]})
    unqueued = _requeue(report.requeue)
    if unqueued:
        # They stay parked until a later run finds them; say so rather than lose track of them.
        logger.error("parked exports not queued again", extra={"records": [str(key) for key in unqueued]})
    failures += [record.message_id for key in report.failed for record in messages.get(key, [])]
    publish_counts(_counts(report))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}
