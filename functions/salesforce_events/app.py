"""salesforce_events: Salesforce Change Data Capture events, relayed to EventBridge by Event Relay.

An EventBridge rule on the partner event bus Event Relay delivers to invokes this function once per change
event (asynchronously). Thin: the event is parsed (Powertools parser; only `detail.payload`, the change event,
is read), the change-event service turns it into changes on the FIFO sync queue, and the outcome is logged
and counted. A failure raises, so nothing is lost: Lambda retries the event, then hands it to the template's
failure queue (ChangeEventFailureQueue), as EventBridge does when it cannot invoke the function at all.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, ValidationError

from sync_core.adapters.events_factory import EVENTS_SETTINGS, build_change_event_service
from sync_core.config import require_settings
from sync_core.domain.sync.change_events import ChangeEventPayload
from sync_core.domain.sync.changes import ChangeDirection
from sync_core.errors import RetryableError
from sync_core.observability import logger, publish_counts, tracer
from sync_core.services.change_events import ChangeEventService, EventOutcome

REQUIRED_SETTINGS = EVENTS_SETTINGS

METRICS = {
    EventOutcome.QUEUED: "ChangeEventsQueued",
    EventOutcome.ECHO: "ChangeEventsEchoed",
    EventOutcome.NOT_SYNCED: "ChangeEventsNotSynced",
    EventOutcome.PULL_REQUESTED: "ChangeEventsPullRequested",
}


class EventRelayDetail(BaseModel):
    """Event Relay's `detail`: the change event is `payload`; any other key is ignored (not documented)."""

    model_config = ConfigDict(extra="ignore")

    payload: ChangeEventPayload


class EventRelayEvent(EventBridgeModel):
    detail: EventRelayDetail


class UnreadableEventError(ValueError):
    """An event that is not a change event: after Lambda's retries it lands in the failure queue, kept."""


@cache
def _service() -> ChangeEventService:
    return build_change_event_service(require_settings(REQUIRED_SETTINGS))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        relay = parse(event=event, model=EventRelayEvent)
    except ValidationError as exc:
        logger.error(
            "not a change event; after its retries it goes to the failure queue",
            extra={"event_id": event.get("id"), "detail_type": event.get("detail-type"), "error": str(exc)},
        )
        raise UnreadableEventError(f"event {event.get('id')} is not a Salesforce change event") from exc
    header = relay.detail.payload.header
    keys = {"event_id": relay.id, "change_id": header.change_id, "change_type": header.change_type.value}
    with logger.append_context_keys(**keys, entity_name=header.entity_name, record_ids=header.record_ids[:20]):
        direction = ChangeDirection.FROM_SALESFORCE.value
        try:
            result = _service().receive(relay.detail.payload)
        except RetryableError as exc:
            publish_counts(Counter({("ChangeEventsFailed", header.entity_name, direction): 1}))
            logger.warning("change event not queued; it is delivered again", extra={"error": exc.message})
            raise
        publish_counts(Counter({(METRICS[result.outcome], result.entity, direction): 1}))
        extra = {"outcome": result.outcome.value, "queued": result.queued, "reread": result.reread}
        if result.outcome is EventOutcome.ECHO:
            logger.info("the hub's own change came back: dropped", extra={**extra, "reason": result.reason})
        elif result.outcome is EventOutcome.NOT_SYNCED:
            logger.warning("change event of an object the hub does not sync", extra={**extra, "reason": result.reason})
        else:
            logger.info(f"change event {result.outcome.value}", extra={**extra, "reason": result.reason})
        return {"outcome": result.outcome.value, "queued": result.queued, "reread": result.reread}
