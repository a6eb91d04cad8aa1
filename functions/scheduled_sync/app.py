"""scheduled_sync: the one-minute tick -> every entity whose schedule (or a pull request) is due, synced.

Thin: the tick's EventBridge event is checked, the scheduled-sync service runs the due entities with a deadline
well inside the function's timeout (an entity it cannot start is due again at the next tick), and the run's
counts are logged and published as metrics. The schedules themselves live in each entity's sync configuration,
read at every tick: an administrator's change applies at the next minute, and a redeploy changes none of them.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from sync_core.adapters.clock import SystemClock
from sync_core.adapters.schedule_factory import SCHEDULED_SYNC_SETTINGS, build_scheduled_sync
from sync_core.config import require_settings
from sync_core.domain.sync.changes import ChangeDirection
from sync_core.observability import logger, publish_counts, tracer
from sync_core.services.scheduled_sync import ScheduledSyncService

# Entities are not started in the last part of the run: the one going on finishes its chunk and stops.
SAFETY_MARGIN = timedelta(seconds=60)


@cache
def _service() -> ScheduledSyncService:
    return build_scheduled_sync(require_settings(SCHEDULED_SYNC_SETTINGS))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tick = parse(event=event, model=EventBridgeModel)
    now = SystemClock().now()
    remaining = timedelta(milliseconds=context.get_remaining_time_in_millis())
    deadline = now + max(remaining - SAFETY_MARGIN, remaining / 2)
    report = _service().run_due(now, deadline=deadline)
    for entity in report.entities:
        log = logger.warning if entity.error else logger.info
        log("scheduled sync of an entity", extra={"tick": tick.time.isoformat(), **entity.as_dict()})
    if report.postponed:
        logger.warning("due entities left for the next tick", extra={"entities": [e.value for e in report.postponed]})
    counts: Counter[tuple[str, str, str]] = Counter()
    for entity in report.entities:
        counts[("ChangesPulled", entity.entity.value, ChangeDirection.FROM_SALESFORCE.value)] += entity.pulled
        counts[("ExportsQueued", entity.entity.value, ChangeDirection.TO_SALESFORCE.value)] += entity.pushed
    publish_counts(counts)
    return report.as_dict()
