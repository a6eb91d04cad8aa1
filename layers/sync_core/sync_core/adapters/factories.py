"""Wiring: services built on their AWS adapters from Settings (functions call these once per container)."""

from __future__ import annotations

from datetime import timedelta

from sync_core.adapters.aws import dynamodb_client, sqs_client
from sync_core.adapters.clock import SystemClock
from sync_core.adapters.dynamodb.case_activities import DynamoCaseActivityStore
from sync_core.adapters.dynamodb.case_settings import DynamoCaseSettingsStore
from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
from sync_core.adapters.dynamodb.error_log import DynamoErrorLog
from sync_core.adapters.dynamodb.pulls import DynamoPullRequests
from sync_core.adapters.dynamodb.record_queries import DynamoRecordFinder
from sync_core.adapters.dynamodb.records import DynamoRecordStore, DynamoSequenceStore, DynamoSyncStateStore
from sync_core.adapters.dynamodb.schedules import DynamoScheduleLedger
from sync_core.adapters.dynamodb.sync import DynamoLinkStore, DynamoParkedWork, DynamoSyncStore
from sync_core.adapters.dynamodb.sync_admin import DynamoHeldChanges, DynamoSyncStatusIndex
from sync_core.adapters.outbox_factory import build_export_queue, build_import_queue
from sync_core.adapters.sqs.dead_letters import SqsDeadLetterQueue
from sync_core.config import Settings
from sync_core.services.cases import CaseServices, case_services
from sync_core.services.cases.records import CaseRecords
from sync_core.services.cases.references import CaseReferenceLoader
from sync_core.services.cases.salesforce import CaseSalesforceHook
from sync_core.services.cases.workflow import CaseWorkflowService
from sync_core.services.records import RecordsService
from sync_core.services.sync_admin import SyncAdminService
from sync_core.services.sync_config import SyncConfigCache
from sync_core.services.sync_errors import SyncErrorsService, WorkQueue
from sync_core.services.sync_import import SyncImportService
from sync_core.services.sync_writer import SyncWriter

# The settings each service cannot run without (its function declares them: sync_core.http.api_handler).
RECORDS_SERVICE_SETTINGS = ("RECORDS_TABLE", "SYNC_STATE_TABLE", "SYNC_CONFIG_TABLE")
CASES_SERVICE_SETTINGS = ("RECORDS_TABLE", "SYNC_STATE_TABLE", "SYNC_CONFIG_TABLE")
IMPORT_SERVICE_SETTINGS = (
    "RECORDS_TABLE",
    "SYNC_STATE_TABLE",
    "SYNC_CONFIG_TABLE",
    "ERROR_LOG_TABLE",
    "SYNC_QUEUE_URL",
    "EXPORT_QUEUE_URL",
)


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


def build_sync_writer(settings: Settings, sequences: DynamoSequenceStore | None = None) -> SyncWriter:
    """The one write path on DynamoDB (records table + sync state table); `sequences` numbers new records."""
    store = DynamoSyncStore(
        dynamodb_client(),
        records_table=settings.require("RECORDS_TABLE"),
        sync_state_table=settings.require("SYNC_STATE_TABLE"),
        sequences=sequences,
    )
    return SyncWriter(store, SystemClock())


def build_records_service(settings: Settings) -> RecordsService:
    records, sequences = _record_stores(settings)
    return RecordsService(
        records=records,
        states=DynamoSyncStateStore(dynamodb_client(), sync_state_table=settings.require("SYNC_STATE_TABLE")),
        sequences=sequences,
        clock=SystemClock(),
        writer=build_sync_writer(settings, sequences),
    )


def build_case_services(settings: Settings) -> CaseServices:
    client = dynamodb_client()
    # Reads from the record store; every write (a release's case + invoice together) through the one write path.
    records, sequences = _record_stores(settings)
    return case_services(
        records=records,
        finder=DynamoRecordFinder(client, records_table=settings.require("RECORDS_TABLE")),
        writer=build_sync_writer(settings, sequences),
        settings=DynamoCaseSettingsStore(client, sync_config_table=settings.require("SYNC_CONFIG_TABLE")),
        activities=DynamoCaseActivityStore(
            client,
            records_table=settings.require("RECORDS_TABLE"),
            sync_state_table=settings.require("SYNC_STATE_TABLE"),
        ),
        sequences=sequences,
        clock=SystemClock(),
    )


def sync_parts(settings: Settings) -> tuple[SyncWriter, SyncConfigCache, DynamoErrorLog, DynamoSequenceStore]:
    """What the import and export services share: the writer (with the cached sync configuration), the error log
    and the numbering sequences. build_export_service lives in sync_core.adapters.export_factory, because it
    wires the Salesforce adapter and the functions that import this module must not load simple-salesforce."""
    client = dynamodb_client()
    sequences = DynamoSequenceStore(client, sync_config_table=settings.require("SYNC_CONFIG_TABLE"))
    clock = SystemClock()
    configs = SyncConfigCache(
        DynamoSyncConfigStore(client, sync_config_table=settings.require("SYNC_CONFIG_TABLE")),
        clock,
        max_age=timedelta(seconds=settings.sync_config_cache_seconds),
    )
    store = DynamoSyncStore(
        client,
        records_table=settings.require("RECORDS_TABLE"),
        sync_state_table=settings.require("SYNC_STATE_TABLE"),
        sequences=sequences,
    )
    writer = SyncWriter(store, clock, exports=configs.exports)
    error_log = DynamoErrorLog(client, error_log_table=settings.require("ERROR_LOG_TABLE"))
    return writer, configs, error_log, sequences


def build_case_hook(settings: Settings, writer: SyncWriter, sequences: DynamoSequenceStore) -> CaseSalesforceHook:
    """The import's Case hook: the case workflow (class, workgroup, contract, billable activities, numbering) on
    the same stores as the cases API; it reads them, the import writes."""
    client = dynamodb_client()
    records = DynamoRecordStore(
        client,
        records_table=settings.require("RECORDS_TABLE"),
        sync_state_table=settings.require("SYNC_STATE_TABLE"),
        sequences=sequences,
    )
    case_settings = DynamoCaseSettingsStore(client, sync_config_table=settings.require("SYNC_CONFIG_TABLE"))
    activities = DynamoCaseActivityStore(
        client, records_table=settings.require("RECORDS_TABLE"), sync_state_table=settings.require("SYNC_STATE_TABLE")
    )
    shared = CaseRecords(records=records, writer=writer, activities=activities, clock=SystemClock())
    references = CaseReferenceLoader(
        records=records,
        finder=DynamoRecordFinder(client, records_table=settings.require("RECORDS_TABLE")),
        settings=case_settings,
    )
    workflow = CaseWorkflowService(cases=shared, references=references, settings=case_settings, sequences=sequences)
    return CaseSalesforceHook(workflow)


def build_import_service(settings: Settings) -> SyncImportService:
    """Applies Salesforce changes to the hub (never imports the Salesforce adapter)."""
    writer, configs, error_log, sequences = sync_parts(settings)
    return SyncImportService(
        case_hook=build_case_hook(settings, writer, sequences),
        store=writer.store,
        writer=writer,
        links=DynamoLinkStore(dynamodb_client(), sync_state_table=settings.require("SYNC_STATE_TABLE")),
        configs=configs,
        sequences=sequences,
        error_log=error_log,
        clock=SystemClock(),
        parked=DynamoParkedWork(dynamodb_client(), sync_state_table=settings.require("SYNC_STATE_TABLE")),
        held=DynamoHeldChanges(dynamodb_client(), sync_state_table=settings.require("SYNC_STATE_TABLE")),
        sync_queue=build_import_queue(settings),
        export_queue=build_export_queue(settings),
    )


# Sync administration reads and saves configurations, counts and lists records by sync status, and releases held
# changes and exports to the two queues (it never calls Salesforce).
SYNC_ADMIN_SETTINGS = ("SYNC_STATE_TABLE", "SYNC_CONFIG_TABLE", "SYNC_QUEUE_URL", "EXPORT_QUEUE_URL")


def build_sync_admin_service(settings: Settings) -> SyncAdminService:
    client = dynamodb_client()
    state_table = settings.require("SYNC_STATE_TABLE")
    config_table = settings.require("SYNC_CONFIG_TABLE")
    return SyncAdminService(
        configs=DynamoSyncConfigStore(client, sync_config_table=config_table),
        statuses=DynamoSyncStatusIndex(client, sync_state_table=state_table),
        held=DynamoHeldChanges(client, sync_state_table=state_table),
        runs=DynamoScheduleLedger(client, sync_state_table=state_table),
        requests=DynamoPullRequests(client, sync_state_table=state_table),
        sync_queue=build_import_queue(settings),
        export_queue=build_export_queue(settings),
        clock=SystemClock(),
    )


# The error log and the dead-letter queues of both work queues (a replay moves messages back).
SYNC_ERRORS_SETTINGS = (
    "ERROR_LOG_TABLE",
    "SYNC_QUEUE_URL",
    "EXPORT_QUEUE_URL",
    "SYNC_DEAD_LETTER_QUEUE_URL",
    "EXPORT_DEAD_LETTER_QUEUE_URL",
)


def build_sync_errors_service(settings: Settings) -> SyncErrorsService:
    sqs = sqs_client()
    return SyncErrorsService(
        errors=DynamoErrorLog(dynamodb_client(), error_log_table=settings.require("ERROR_LOG_TABLE")),
        sync_queue=build_import_queue(settings),
        export_queue=build_export_queue(settings),
        dead_letters={
            WorkQueue.SYNC: SqsDeadLetterQueue(sqs, queue_url=settings.require("SYNC_DEAD_LETTER_QUEUE_URL")),
            WorkQueue.EXPORT: SqsDeadLetterQueue(sqs, queue_url=settings.require("EXPORT_DEAD_LETTER_QUEUE_URL")),
        },
        clock=SystemClock(),
    )
