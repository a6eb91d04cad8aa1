"""Wiring of the outbox (the records stream -> the export queue) and of the two change queues."""

from __future__ import annotations

from sync_core.adapters.aws import dynamodb_client, sqs_client
from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
from sync_core.adapters.sqs.change_queue import SqsChangeQueue
from sync_core.config import Settings
from sync_core.services.outbox import ExportOutbox

# The outbox reads each entity's sync configuration (does it export?) and queues export requests.
OUTBOX_SETTINGS = ("SYNC_CONFIG_TABLE", "EXPORT_QUEUE_URL")


def build_export_queue(settings: Settings) -> SqsChangeQueue:
    return SqsChangeQueue(sqs_client(), queue_url=settings.require("EXPORT_QUEUE_URL"))


def build_import_queue(settings: Settings) -> SqsChangeQueue:
    """The FIFO sync queue: Salesforce changes for the sync worker (webhook, change events, pulls)."""
    return SqsChangeQueue(sqs_client(), queue_url=settings.require("SYNC_QUEUE_URL"), fifo=True)


def build_export_outbox(settings: Settings) -> ExportOutbox:
    return ExportOutbox(
        configs=DynamoSyncConfigStore(dynamodb_client(), sync_config_table=settings.require("SYNC_CONFIG_TABLE")),
        queue=build_export_queue(settings),
    )
