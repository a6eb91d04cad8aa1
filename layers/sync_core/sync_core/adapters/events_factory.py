"""Wiring of the change-event consumer. It loads the Salesforce adapter (gap events and diff fields are re-read
through the REST API), so it lives apart from the factories the functions that never call Salesforce import."""

from __future__ import annotations

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.dynamodb.pulls import DynamoPullRequests
from sync_core.adapters.outbox_factory import build_import_queue
from sync_core.adapters.realtime_factory import build_sync_configs
from sync_core.adapters.salesforce.factory import build_salesforce_client
from sync_core.config import Settings
from sync_core.ports.salesforce import SalesforceApi
from sync_core.services.change_events import ChangeEventService

EVENTS_SETTINGS = ("SYNC_CONFIG_TABLE", "SYNC_STATE_TABLE", "SYNC_QUEUE_URL", "SALESFORCE_SECRET_ARN")


def build_change_event_service(settings: Settings) -> ChangeEventService:
    def salesforce() -> SalesforceApi:
        return build_salesforce_client(settings)  # per event: its per-run cap starts there

    return ChangeEventService(
        queue=build_import_queue(settings),
        configs=build_sync_configs(settings),
        salesforce=salesforce,
        pulls=DynamoPullRequests(dynamodb_client(), sync_state_table=settings.require("SYNC_STATE_TABLE")),
        hub_client_id=settings.hub_client_id,
    )
