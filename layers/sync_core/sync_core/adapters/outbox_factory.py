"""Wiring of the outbox (the records stream -> the export queue) and of the export queue itself."""

from __future__ import annotations

from sync_core.adapters.aws import dynamodb_client, sqs_client
from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
from sync_core.adapters.sqs.export_queue import SqsExportQueue
from sync_core.config import Settings
from sync_core.services.outbox import ExportOutbox

# The outbox reads each entity's sync configuration (does it export?) and queues export requests.
OUTBOX_SETTINGS = ("SYNC_CONFIG_TABLE", "EXPORT_QUEUE_URL")


def build_export_queue(settings: Settings) -> SqsExportQueue:
    return SqsExportQueue(sqs_client(), queue_url=settings.require("EXPORT_QUEUE_URL"))


def build_export_outbox(settings: Settings) -> ExportOutbox:
    return ExportOutbox(
        configs=DynamoSyncConfigStore(dynamodb_client(), sync_config_table=settings.require("SYNC_CONFIG_TABLE")),
        queue=build_export_queue(settings),
    )
