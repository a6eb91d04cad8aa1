"""Wiring of the outbound-message webhook (it never calls Salesforce: no Salesforce adapter here)."""

from __future__ import annotations

from datetime import timedelta

from sync_core.adapters.aws import dynamodb_client, secretsmanager_client
from sync_core.adapters.clock import SystemClock
from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
from sync_core.adapters.outbox_factory import build_import_queue
from sync_core.adapters.secrets import SecretsManagerValue
from sync_core.config import Settings
from sync_core.services.outbound import OutboundMessageService
from sync_core.services.sync_config import SyncConfigCache

# ALLOWED_ORG_IDS may be empty: the webhook then refuses every message (403), as it should.
WEBHOOK_SETTINGS = ("SYNC_CONFIG_TABLE", "SYNC_QUEUE_URL", "WEBHOOK_TOKEN_SECRET_ARN")


def build_sync_configs(settings: Settings) -> SyncConfigCache:
    store = DynamoSyncConfigStore(dynamodb_client(), sync_config_table=settings.require("SYNC_CONFIG_TABLE"))
    return SyncConfigCache(store, SystemClock(), max_age=timedelta(seconds=settings.sync_config_cache_seconds))


def build_webhook_service(settings: Settings) -> OutboundMessageService:
    return OutboundMessageService(
        queue=build_import_queue(settings),
        configs=build_sync_configs(settings),
        token=SecretsManagerValue(secretsmanager_client(), secret_id=settings.require("WEBHOOK_TOKEN_SECRET_ARN")),
        allowed_org_ids=settings.allowed_org_ids,
        clock=SystemClock(),
    )
