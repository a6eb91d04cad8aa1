"""Wiring of the scheduled sync: the second factory that loads the Salesforce adapter (like export_factory, kept
apart from sync_core.adapters.factories so the functions that never call Salesforce never load it)."""

from __future__ import annotations

from datetime import timedelta

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.clock import SystemClock
from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
from sync_core.adapters.dynamodb.pulls import DynamoPullRequests
from sync_core.adapters.dynamodb.records import DynamoRecordStore
from sync_core.adapters.dynamodb.schedules import DynamoPendingExports, DynamoScheduleLedger
from sync_core.adapters.factories import IMPORT_SERVICE_SETTINGS, sync_parts
from sync_core.adapters.outbox_factory import build_export_queue, build_import_queue
from sync_core.adapters.salesforce.factory import build_salesforce_client
from sync_core.config import Settings
from sync_core.ports.salesforce import SalesforceApi
from sync_core.services.first_load import FirstLoadService
from sync_core.services.scheduled_sync import ScheduledSyncService, ScheduleOptions

SCHEDULED_SYNC_SETTINGS = (
    "SYNC_CONFIG_TABLE",
    "SYNC_STATE_TABLE",
    "SYNC_QUEUE_URL",
    "EXPORT_QUEUE_URL",
    "SALESFORCE_SECRET_ARN",
)


def schedule_options(settings: Settings) -> ScheduleOptions:
    return ScheduleOptions(
        overlap=timedelta(seconds=settings.pull_overlap_seconds),
        bulk_threshold=settings.pull_bulk_threshold,
        max_changes_per_run=settings.pull_max_changes_per_run,
        push_grace=timedelta(seconds=settings.push_grace_seconds),
        error_retry=timedelta(minutes=settings.error_retry_minutes),
    )


def build_scheduled_sync(settings: Settings) -> ScheduledSyncService:
    """The scheduled sync (and the admin API's "sync now"); a Salesforce client is built per run, when a pull
    needs one."""
    client = dynamodb_client()
    state_table = settings.require("SYNC_STATE_TABLE")
    settings.require("SALESFORCE_SECRET_ARN")

    def salesforce() -> SalesforceApi:
        return build_salesforce_client(settings)

    return ScheduledSyncService(
        configs=DynamoSyncConfigStore(client, sync_config_table=settings.require("SYNC_CONFIG_TABLE")),
        ledger=DynamoScheduleLedger(client, sync_state_table=state_table),
        pulls=DynamoPullRequests(client, sync_state_table=state_table),
        pending=DynamoPendingExports(client, sync_state_table=state_table),
        salesforce=salesforce,
        import_queue=build_import_queue(settings),
        export_queue=build_export_queue(settings),
        clock=SystemClock(),
        options=schedule_options(settings),
    )


FIRST_LOAD_SETTINGS = (*IMPORT_SERVICE_SETTINGS, "SALESFORCE_SECRET_ARN")


def build_first_load(settings: Settings) -> FirstLoadService:
    """First loads (Process All) and their dry runs, for the admin API."""
    writer, _, error_log, _ = sync_parts(settings)
    client = dynamodb_client()
    settings.require("SALESFORCE_SECRET_ARN")

    def salesforce() -> SalesforceApi:
        return build_salesforce_client(settings)

    return FirstLoadService(
        configs=DynamoSyncConfigStore(client, sync_config_table=settings.require("SYNC_CONFIG_TABLE")),
        records=DynamoRecordStore(
            client,
            records_table=settings.require("RECORDS_TABLE"),
            sync_state_table=settings.require("SYNC_STATE_TABLE"),
        ),
        store=writer.store,
        writer=writer,
        error_log=error_log,
        salesforce=salesforce,
        import_queue=build_import_queue(settings),
        export_queue=build_export_queue(settings),
        clock=SystemClock(),
        bulk_threshold=settings.pull_bulk_threshold,
    )
