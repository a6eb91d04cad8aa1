"""Wiring: services built on their AWS adapters from Settings (functions call these once per container)."""

from __future__ import annotations

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.clock import SystemClock
from sync_core.adapters.dynamodb.case_activities import DynamoCaseActivityStore
from sync_core.adapters.dynamodb.case_settings import DynamoCaseSettingsStore
from sync_core.adapters.dynamodb.record_queries import DynamoRecordFinder
from sync_core.adapters.dynamodb.records import DynamoRecordStore, DynamoSequenceStore, DynamoSyncStateStore
from sync_core.config import Settings
from sync_core.services.cases import CaseServices, case_services
from sync_core.services.records import RecordsService

# The settings each service cannot run without (its function declares them: sync_core.http.api_handler).
RECORDS_SERVICE_SETTINGS = ("RECORDS_TABLE", "SYNC_STATE_TABLE", "SYNC_CONFIG_TABLE")
CASES_SERVICE_SETTINGS = ("RECORDS_TABLE", "SYNC_STATE_TABLE", "SYNC_CONFIG_TABLE")


def _record_stores(settings: Settings) -> tuple[DynamoRecordStore, DynamoSequenceStore]:
    """The record store and the sequences it claims numbers of, in the same transaction as each create."""
    client = dynamodb_client()
    sequences = DynamoSequenceStore(client, sync_config_table=settings.require("SYNC_CONFIG_TABLE"))
    records = DynamoRecordStore(
        client,
        records_table=settings.require("RECORDS_TABLE"),
        sync_state_table=settings.require("SYNC_STATE_TABLE"),
        sequences=sequences,
    )
    return records, sequences


def build_records_service(settings: Settings) -> RecordsService:
    records, sequences = _record_stores(settings)
    return RecordsService(
        records=records,
        states=DynamoSyncStateStore(dynamodb_client(), sync_state_table=settings.require("SYNC_STATE_TABLE")),
        sequences=sequences,
        clock=SystemClock(),
    )


def build_case_services(settings: Settings) -> CaseServices:
    client = dynamodb_client()
    # One store serves single writes and the all-or-nothing release writes (case + invoice).
    records, sequences = _record_stores(settings)
    return case_services(
        records=records,
        states=DynamoSyncStateStore(client, sync_state_table=settings.require("SYNC_STATE_TABLE")),
        finder=DynamoRecordFinder(client, records_table=settings.require("RECORDS_TABLE")),
        writer=records,
        settings=DynamoCaseSettingsStore(client, sync_config_table=settings.require("SYNC_CONFIG_TABLE")),
        activities=DynamoCaseActivityStore(
            client,
            records_table=settings.require("RECORDS_TABLE"),
            sync_state_table=settings.require("SYNC_STATE_TABLE"),
        ),
        sequences=sequences,
        clock=SystemClock(),
    )
