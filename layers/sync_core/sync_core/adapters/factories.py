"""Wiring: services built on their AWS adapters from Settings (functions call these once per container)."""

from __future__ import annotations

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.clock import SystemClock
from sync_core.adapters.dynamodb.case_settings import DynamoCaseSettingsStore
from sync_core.adapters.dynamodb.record_queries import DynamoRecordFinder
from sync_core.adapters.dynamodb.records import DynamoRecordStore, DynamoSequenceStore, DynamoSyncStateStore
from sync_core.config import Settings
from sync_core.services.cases import CasesService
from sync_core.services.records import RecordsService


def build_records_service(settings: Settings) -> RecordsService:
    client = dynamodb_client()
    return RecordsService(
        records=DynamoRecordStore(
            client, records_table=settings.records_table, sync_state_table=settings.sync_state_table
        ),
        states=DynamoSyncStateStore(client, sync_state_table=settings.sync_state_table),
        sequences=DynamoSequenceStore(client, sync_config_table=settings.sync_config_table),
        clock=SystemClock(),
    )


def build_cases_service(settings: Settings) -> CasesService:
    client = dynamodb_client()
    # One store serves single writes and the all-or-nothing release writes (case + invoice).
    records = DynamoRecordStore(
        client, records_table=settings.records_table, sync_state_table=settings.sync_state_table
    )
    return CasesService(
        records=records,
        states=DynamoSyncStateStore(client, sync_state_table=settings.sync_state_table),
        finder=DynamoRecordFinder(client, records_table=settings.records_table),
        writer=records,
        settings=DynamoCaseSettingsStore(client, sync_config_table=settings.sync_config_table),
        sequences=DynamoSequenceStore(client, sync_config_table=settings.sync_config_table),
        clock=SystemClock(),
    )
