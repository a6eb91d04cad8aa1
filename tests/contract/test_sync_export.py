"""The export service against the Salesforce emulator over HTTPS (tables in moto): records reach Salesforce by
upsert on the hub's external id, get linked, and what comes back from Salesforce as an echo changes nothing."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.dynamodb.error_log import DynamoErrorLog
from sync_core.adapters.export_factory import build_export_service
from sync_core.adapters.factories import build_import_service, build_records_service
from sync_core.config import get_settings
from sync_core.domain.entities import EntityName
from sync_core.domain.error_log import ErrorDirection, ErrorStatus, error_id
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeSource
from sync_core.domain.sync_state import SyncOperation, SyncStatus
from sync_core.ports.sync import RecordKey
from sync_core.services.records import RecordsService
from sync_core.services.sync_export import SyncExportService
from sync_core.services.sync_import import Applied
from tests.contract.conftest import ClientFactory, Controls
from tests.support.change_events import change_from_event
from tests.support.waiting import wait_until

pytestmark = pytest.mark.emulator


@pytest.fixture
def export(make_client: ClientFactory) -> Callable[[list[RecordKey]], Any]:
    make_client()  # sets the secret, CA bundle and client id in the environment, as the function's would be
    service: SyncExportService = build_export_service(get_settings())
    return service.export


@pytest.fixture
def records(aws: dict[str, str]) -> RecordsService:
    return build_records_service(get_settings())


def salesforce_rows(make_client: ClientFactory, soql: str) -> list[dict[str, Any]]:
    return list(make_client().query(soql))


def test_a_hub_account_reaches_salesforce_and_is_linked(
    export: Callable[[list[RecordKey]], Any], records: RecordsService, make_client: ClientFactory
) -> None:
    account = records.create_record(EntityName.ACCOUNT, {"name": "Acme", "phone": "555-0100"}, actor="alice")
    report = export([RecordKey(EntityName.ACCOUNT, account.id)])
    assert report.exported == [RecordKey(EntityName.ACCOUNT, account.id)] and not report.failed
    state = records.sync_status(EntityName.ACCOUNT, account.id)
    assert state.status is SyncStatus.SYNCHRONIZED and state.external_ref
    rows = salesforce_rows(make_client, f"SELECT Id, Name, Phone FROM Account WHERE Hub_Id__c = '{account.id}'")
    assert [(row["Id"], row["Name"], row["Phone"]) for row in rows] == [(state.external_ref, "Acme", "555-0100")]
    # Exported again unchanged: nothing to send
    assert export([RecordKey(EntityName.ACCOUNT, account.id)]).skipped == [RecordKey(EntityName.ACCOUNT, account.id)]
    # Salesforce telling the hub about the hub's own write is an echo: nothing changes
    echo = Change(
        direction=ChangeDirection.FROM_SALESFORCE,
        entity=EntityName.ACCOUNT,
        salesforce_id=state.external_ref,
        source=ChangeSource.CHANGE_EVENT,
        change_id="echo-1",
        stamp=datetime.now(UTC),
        values={"Name": "Acme", "Phone": "555-0100"},
    )
    assert build_import_service(get_settings()).apply(echo).outcome is Applied.ECHO
    assert records.get_record(EntityName.ACCOUNT, account.id).version == 1


def test_a_contact_whose_account_is_in_the_same_batch_goes_right_after_it(
    export: Callable[[list[RecordKey]], Any], records: RecordsService, make_client: ClientFactory
) -> None:
    account = records.create_record(EntityName.ACCOUNT, {"name": "Parent"}, actor="alice")
    contact = records.create_record(EntityName.CONTACT, {"last_name": "Child", "account_id": account.id}, actor="alice")
    report = export([RecordKey(EntityName.CONTACT, contact.id), RecordKey(EntityName.ACCOUNT, account.id)])
    assert sorted(report.exported) == sorted(
        [RecordKey(EntityName.ACCOUNT, account.id), RecordKey(EntityName.CONTACT, contact.id)]
    )
    account_ref = records.sync_status(EntityName.ACCOUNT, account.id).external_ref
    rows = salesforce_rows(make_client, f"SELECT AccountId FROM Contact WHERE Hub_Id__c = '{contact.id}'")
    assert [row["AccountId"] for row in rows] == [account_ref]


def test_a_contact_waits_for_its_account_then_goes_when_it_links(
    export: Callable[[list[RecordKey]], Any], records: RecordsService
) -> None:
    account = records.create_record(EntityName.ACCOUNT, {"name": "Later"}, actor="alice")
    contact = records.create_record(EntityName.CONTACT, {"last_name": "Early", "account_id": account.id}, actor="al")
    contact_key = RecordKey(EntityName.CONTACT, contact.id)
    first = export([contact_key])
    assert first.parked == [contact_key] and not first.failed and not first.errors
    state = records.sync_status(EntityName.CONTACT, contact.id)
    assert state.status is SyncStatus.MODIFIED_LOCALLY and "waits for parent Account" in str(state.error)
    second = export([RecordKey(EntityName.ACCOUNT, account.id)])
    assert second.requeue == [contact_key]  # the parent linked: its child goes again
    third = export(second.requeue)
    assert third.exported == [contact_key]
    assert records.sync_status(EntityName.CONTACT, contact.id).status is SyncStatus.SYNCHRONIZED


def test_products_prices_and_a_quote_with_lines_go_in_one_batch(
    export: Callable[[list[RecordKey]], Any], records: RecordsService, make_client: ClientFactory
) -> None:
    """References through links, child rows (a product's standard price, a quote's lines), the standard price
    book looked up by name: parents first, each child right after its parent, in one run."""
    account = records.create_record(EntityName.ACCOUNT, {"name": "Buyer"}, actor="alice")
    product = records.create_record(
        EntityName.PRODUCT,
        {"name": "Widget", "prices": [{"price_book": "Standard", "currency": "USD", "unit_price": 12.5}]},
        actor="alice",
    )
    opportunity = records.create_record(
        EntityName.OPPORTUNITY,
        {"name": "Deal", "account_id": account.id, "stage": "Prospecting", "close_date": "2026-12-31"},
        actor="alice",
    )
    quote = records.create_record(
        EntityName.QUOTE,
        {
            "name": "Q1",
            "opportunity_id": opportunity.id,
            "lines": [{"product_id": product.id, "quantity": 3, "unit_price": 12.5}],
        },
        actor="alice",
    )
    keys = [
        RecordKey(EntityName.QUOTE, quote.id),
        RecordKey(EntityName.OPPORTUNITY, opportunity.id),
        RecordKey(EntityName.PRODUCT, product.id),
        RecordKey(EntityName.ACCOUNT, account.id),
    ]
    report = export(keys)
    assert sorted(report.exported) == sorted(keys), report
    assert not (report.parked or report.failed or report.errors)
    client = make_client()
    product_ref = records.sync_status(EntityName.PRODUCT, product.id).external_ref
    entries = list(
        client.query(f"SELECT Id, UnitPrice, Product2Id FROM PricebookEntry WHERE Product2Id = '{product_ref}'")
    )
    assert [(row["UnitPrice"], row["Product2Id"]) for row in entries] == [(12.5, product_ref)]
    quote_ref = records.sync_status(EntityName.QUOTE, quote.id).external_ref
    lines = list(client.query(f"SELECT Quantity, PricebookEntryId FROM QuoteLineItem WHERE QuoteId = '{quote_ref}'"))
    assert [(row["Quantity"], row["PricebookEntryId"]) for row in lines] == [(3, entries[0]["Id"])]
    # Exported again after an edit: the same rows are updated (upsert by external id), none duplicated
    records.update_record(
        EntityName.QUOTE, quote.id, {"name": "Q1 v2"}, actor="alice", expected_version=None, replace=False
    )
    assert export([RecordKey(EntityName.QUOTE, quote.id)]).exported == [RecordKey(EntityName.QUOTE, quote.id)]
    assert len(list(client.query(f"SELECT Id FROM QuoteLineItem WHERE QuoteId = '{quote_ref}'"))) == 1


def error_entry(entity: EntityName, record_id: str, operation: SyncOperation = SyncOperation.INSERT) -> Any:
    log = DynamoErrorLog(dynamodb_client(), error_log_table=os.environ["ERROR_LOG_TABLE"])
    return log.get(error_id(entity, record_id, ErrorDirection.TO_SALESFORCE, operation))


def test_a_permanent_failure_is_error_in_the_log_until_a_later_export_succeeds(
    export: Callable[[list[RecordKey]], Any], records: RecordsService, controls: Controls
) -> None:
    account = records.create_record(EntityName.ACCOUNT, {"name": "Refused"}, actor="alice")
    key = RecordKey(EntityName.ACCOUNT, account.id)
    controls.fault(
        scope="record", kind="collections", status=400, error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION", count=1
    )
    report = export([key])
    assert report.errors == [key] and not report.failed  # not retried blindly
    state = records.sync_status(EntityName.ACCOUNT, account.id)
    assert state.status is SyncStatus.ERROR and "FIELD_CUSTOM_VALIDATION_EXCEPTION" in str(state.error)
    entry = error_entry(EntityName.ACCOUNT, account.id)
    assert (entry.status, entry.code, entry.attempts) == (ErrorStatus.OPEN, "FIELD_CUSTOM_VALIDATION_EXCEPTION", 1)
    assert entry.payload["Name"] == "Refused" and entry.payload["Hub_Id__c"] == account.id
    # The user fixes the record; its export succeeds and resolves the entry by itself
    records.update_record(
        EntityName.ACCOUNT, account.id, {"name": "Fixed"}, actor="a", expected_version=None, replace=False
    )
    assert export([key]).exported == [key]
    assert error_entry(EntityName.ACCOUNT, account.id).status is ErrorStatus.RESOLVED
    assert records.sync_status(EntityName.ACCOUNT, account.id).status is SyncStatus.SYNCHRONIZED


def test_retryable_failures_come_back_as_failed_keys_for_the_queue(
    export: Callable[[list[RecordKey]], Any], records: RecordsService, controls: Controls
) -> None:
    locked = records.create_record(EntityName.ACCOUNT, {"name": "Locked row"}, actor="alice")
    fine = records.create_record(EntityName.ACCOUNT, {"name": "Fine"}, actor="alice")
    keys = [RecordKey(EntityName.ACCOUNT, locked.id), RecordKey(EntityName.ACCOUNT, fine.id)]
    controls.fault(scope="record", kind="collections", status=400, error_code="UNABLE_TO_LOCK_ROW", count=1)
    report = export(keys)
    assert report.failed == [keys[0]] and report.exported == [keys[1]]
    state = records.sync_status(EntityName.ACCOUNT, locked.id)
    assert state.status is SyncStatus.MODIFIED_LOCALLY and "UNABLE_TO_LOCK_ROW" in str(state.error)
    assert error_entry(EntityName.ACCOUNT, locked.id).status is ErrorStatus.RETRYING
    # Salesforce down for a whole call: every record of it is retried, none is failed for good
    controls.fault(kind="composite", status=503, error_code="SERVER_UNAVAILABLE", count=5)
    controls.fault(kind="collections", status=503, error_code="SERVER_UNAVAILABLE", count=5)
    down = export([keys[0]])
    assert down.failed == [keys[0]] and not down.errors and not down.parked
    controls.clear_faults()
    assert export([keys[0]]).exported == [keys[0]]
    assert error_entry(EntityName.ACCOUNT, locked.id).status is ErrorStatus.RESOLVED


def test_work_the_budget_defers_is_parked_and_requeued_by_a_run_with_budget(
    make_client: ClientFactory, records: RecordsService
) -> None:
    make_client(salesforce_api_calls_per_run=2)  # GET /limits (the org's size, counted) and one write
    service = build_export_service(get_settings())
    account = records.create_record(EntityName.ACCOUNT, {"name": "First"}, actor="alice")
    contact = records.create_record(EntityName.CONTACT, {"last_name": "Second"}, actor="alice")
    keys = [RecordKey(EntityName.ACCOUNT, account.id), RecordKey(EntityName.CONTACT, contact.id)]
    # Two objects need two calls; this run may make one
    report = service.export(keys)
    assert len(report.exported) == 1 and len(report.parked) == 1 and not report.failed
    parked = report.parked[0]
    assert records.sync_status(parked.entity, parked.record_id).status is SyncStatus.MODIFIED_LOCALLY
    # A later run finds budget again (a fresh per-run cap), once the resume time has passed
    make_client(salesforce_api_calls_per_run=100)
    later = build_export_service(get_settings())
    later._clock = FixedClock(datetime.now(UTC) + timedelta(minutes=2))
    other = records.create_record(EntityName.ACCOUNT, {"name": "Third"}, actor="alice")
    again = later.export([RecordKey(EntityName.ACCOUNT, other.id)])
    assert again.requeue == [parked]
    assert later.export(again.requeue).exported == [parked]


def test_above_the_bulk_threshold_the_rows_go_as_one_bulk_job(
    make_client: ClientFactory, records: RecordsService, controls: Controls
) -> None:
    make_client(salesforce_bulk_threshold=3)
    service = build_export_service(get_settings())
    keys = [
        RecordKey(EntityName.ACCOUNT, records.create_record(EntityName.ACCOUNT, {"name": f"Bulk {n}"}, actor="a").id)
        for n in range(5)
    ]
    controls.reset_counters()
    report = service.export(keys)
    assert sorted(report.exported) == sorted(keys)
    counters = controls.counters()
    assert counters["api_calls"].get("bulk_ingest", 0) >= 1 and not counters["api_calls"].get("collections")
    assert all(records.sync_status(key.entity, key.record_id).external_ref for key in keys)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def event_where(emulator: Any, record_id: str, change_type: str, field: str | None = None) -> dict[str, Any]:
    """The newest change event of the record of that type (and naming that field), once the emulator sent it."""

    def found() -> dict[str, Any] | None:
        for event in reversed(emulator.cdc_events()):
            header = event["detail"]["payload"]["ChangeEventHeader"]
            ours = record_id in header["recordIds"] and header["changeType"] == change_type
            if ours and (field is None or field in event["detail"]["payload"]):
                return dict(event)
        return None

    return wait_until(found)


def test_the_change_events_of_the_hubs_own_writes_are_echoes_and_a_users_edit_applies(
    export: Callable[[list[RecordKey]], Any], records: RecordsService, emulator: Any
) -> None:
    """The emulator leaves changeOrigin untagged for sObject Collections writes (as Salesforce may): the
    import recognises the hub's own writes by the hashes of the values the export sent, not by the origin."""
    importer = build_import_service(get_settings())
    account = records.create_record(
        EntityName.ACCOUNT, {"name": "Echo Co", "billing_address": {"city": "Bremen"}}, actor="alice"
    )
    key = RecordKey(EntityName.ACCOUNT, account.id)
    export([key])
    salesforce_id = str(records.sync_status(EntityName.ACCOUNT, account.id).external_ref)
    created = event_where(emulator, salesforce_id, "CREATE")
    assert "client=" not in created["detail"]["payload"]["ChangeEventHeader"]["changeOrigin"]
    assert importer.apply(change_from_event(created, EntityName.ACCOUNT)).outcome is Applied.ECHO
    # The hub edits the record and exports it: the update's event is an echo too
    records.update_record(
        EntityName.ACCOUNT, account.id, {"phone": "555-0199"}, actor="a", expected_version=None, replace=False
    )
    export([key])
    update = event_where(emulator, salesforce_id, "UPDATE", "Phone")
    assert importer.apply(change_from_event(update, EntityName.ACCOUNT)).outcome is Applied.ECHO
    assert records.get_record(EntityName.ACCOUNT, account.id).version == 2
    # A Salesforce user's edit is not an echo: it applies, and the record is Synchronized
    emulator.user_change("update", "Account", salesforce_id, {"Phone": "555-0200"})
    edit = wait_until(
        lambda: (
            (found := event_where(emulator, salesforce_id, "UPDATE", "Phone")) is not update
            and found["detail"]["payload"]["Phone"] == "555-0200"
            and found
        )
    )
    assert importer.apply(change_from_event(edit, EntityName.ACCOUNT)).outcome is Applied.UPDATED
    record = records.get_record(EntityName.ACCOUNT, account.id)
    assert (record.fields["phone"], record.fields["billing_address"]["city"]) == ("555-0200", "Bremen")
    assert records.sync_status(EntityName.ACCOUNT, account.id).status is SyncStatus.SYNCHRONIZED
