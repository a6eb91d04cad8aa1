"""sync_worker: inbound Salesforce changes from the FIFO sync queue, applied to hub records.

Thin: each message body is a `Change`; the import service applies it (merge, echo, conflicts, links, the
one write path) and says what it did, then hands on what is left: changes that waited (parked in DynamoDB)
for the record it linked go to the sync queue again, and the hub's side of a conflict it won goes to the
export queue. Powertools' FIFO batch processor keeps each record's changes in order: a failed change fails
the rest of its message group in the batch (they are retried after it), other records carry on
(skip_group_on_error). A retryable failure is raised so SQS delivers the message again; on its last
receive (the queue's maxReceiveCount) the change's error-log entry is marked dead first, as the message
moves to the dead-letter queue. A body that is not a change is logged and fails the same way, so it
reaches the dead-letter queue with its own log line instead of vanishing.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from sync_core.adapters.factories import IMPORT_SERVICE_SETTINGS, build_import_service
from sync_core.config import require_settings
from sync_core.domain.sync.changes import Change, ChangeDirection
from sync_core.errors import RetryableError
from sync_core.observability import logger, publish_counts, tracer
from sync_core.services.sync_import import Applied, SyncImportService

REQUIRED_SETTINGS = IMPORT_SERVICE_SETTINGS

# The metrics each outcome counts in (by entity and direction).
_APPLIED, _SKIPPED, _ECHOED, _CONFLICTED, _FAILED = (
    "ChangesApplied",
    "ChangesSkipped",
    "ChangesEchoed",
    "ChangesConflicted",
    "ChangesFailed",
)
OUTCOME_METRICS: dict[Applied, tuple[str, ...]] = {
    Applied.CREATED: (_APPLIED,),
    Applied.UPDATED: (_APPLIED,),
    Applied.DELETED: (_APPLIED,),
    Applied.UNLINKED: (_APPLIED,),
    Applied.UNCHANGED: (_SKIPPED,),
    Applied.DUPLICATE: (_SKIPPED,),
    Applied.STALE: (_SKIPPED,),
    Applied.SKIPPED: (_SKIPPED,),
    Applied.PARKED: ("ChangesParked",),
    Applied.HELD: ("ChangesHeld",),
    Applied.ECHO: (_ECHOED,),
    Applied.CONFLICT_SALESFORCE_WON: (_CONFLICTED, _APPLIED),
    Applied.CONFLICT_HUB_KEPT: (_CONFLICTED,),
    Applied.CONFLICT_HELD: (_CONFLICTED,),
    Applied.WORKFLOW_CONFLICT: (_CONFLICTED,),
    Applied.FAILED: (_FAILED,),
}


class UnreadableMessageError(ValueError):
    """A message on the sync queue that is not a change (it goes to the dead-letter queue)."""


@cache
def _service() -> SyncImportService:
    return build_import_service(require_settings(REQUIRED_SETTINGS))


def _last_receive(record: SQSRecord) -> bool:
    return int(record.attributes.approximate_receive_count or 1) >= require_settings(()).max_receive_count


class _Run:
    """One invocation's counts, published as metrics by entity when the batch is done."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def handle(self, record: SQSRecord) -> None:
        try:
            change = Change.model_validate_json(record.body)
        except ValidationError as exc:
            logger.error(
                "sync queue message is not a change; after its retries it goes to the dead-letter queue",
                extra={"message_id": record.message_id, "last_receive": _last_receive(record), "error": str(exc)},
            )
            self.counts[_FAILED, "unknown", ChangeDirection.FROM_SALESFORCE.value] += 1
            raise UnreadableMessageError(record.message_id) from exc
        keys = {"change_id": change.change_id, "entity": change.entity.value, "salesforce_id": change.salesforce_id}
        with logger.append_context_keys(message_id=record.message_id, **keys):
            try:
                result = _service().apply(change)
            except RetryableError as exc:
                self.counts[_FAILED, change.entity.value, change.direction.value] += 1
                if _last_receive(record):
                    _service().mark_dead(change, exc.message)
                    logger.error("change failed its last attempt: dead-lettered", extra={"error": exc.message})
                else:
                    logger.warning("change failed; SQS delivers it again", extra={"error": exc.message})
                raise
            log = logger.warning if result.outcome is Applied.FAILED else logger.info
            log(
                f"change {result.outcome.value}",
                extra={"outcome": result.outcome.value, "record_id": result.record_id, "reason": result.message},
            )
            # Changes that waited for the record this one linked go again; a conflict the hub won is exported.
            _service().hand_on(result)
            if result.requeue:
                logger.info(
                    "parked changes queued again", extra={"changes": [i.change.change_id for i in result.requeue]}
                )
            if result.queue_export:
                logger.info("export queued: the hub's side of the conflict goes to Salesforce")
            for metric in OUTCOME_METRICS[result.outcome]:
                self.counts[metric, change.entity.value, change.direction.value] += 1


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = _Run()
    try:
        return dict(
            process_partial_response(
                event=event,
                record_handler=run.handle,
                processor=SqsFifoPartialProcessor(skip_group_on_error=True),
                context=context,
            )
        )
    finally:
        publish_counts(run.counts)
