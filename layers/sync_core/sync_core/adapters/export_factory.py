"""Wiring of the export service: the only factory that loads the Salesforce adapter (and simple-salesforce).

Kept apart from sync_core.adapters.factories, which the records and cases APIs import: import-linter keeps
simple-salesforce out of the functions that never call Salesforce (cold starts).
"""

from __future__ import annotations

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.clock import SystemClock
from sync_core.adapters.dynamodb.sync import DynamoLinkStore, DynamoParkedWork
from sync_core.adapters.factories import IMPORT_SERVICE_SETTINGS, sync_parts
from sync_core.adapters.salesforce.factory import build_salesforce_client
from sync_core.config import Settings
from sync_core.ports.salesforce import SalesforceApi
from sync_core.services.sync_export import SyncExportService

EXPORT_SERVICE_SETTINGS = (*IMPORT_SERVICE_SETTINGS, "SALESFORCE_SECRET_ARN")


def build_export_service(settings: Settings) -> SyncExportService:
    """Exports hub records to Salesforce; a Salesforce client is built per export run (its per-run cap starts
    there), and only when the run has something to send."""
    writer, configs, error_log, _ = sync_parts(settings)
    table = settings.require("SYNC_STATE_TABLE")
    settings.require("SALESFORCE_SECRET_ARN")

    def salesforce() -> SalesforceApi:
        return build_salesforce_client(settings)

    return SyncExportService(
        store=writer.store,
        writer=writer,
        links=DynamoLinkStore(dynamodb_client(), sync_state_table=table),
        parked=DynamoParkedWork(dynamodb_client(), sync_state_table=table),
        configs=configs,
        salesforce=salesforce,
        error_log=error_log,
        clock=SystemClock(),
    )
