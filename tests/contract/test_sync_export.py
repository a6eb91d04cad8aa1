"""The export service against the Salesforce emulator over HTTPS (tables in moto): records reach Salesforce by
upsert on the hub's external id, get linked, and what comes back from Salesforce as an echo changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sync_core.adapters.export_factory import build_export_service
from sync_core.adapters.factories import build_import_service, build_records_service
from sync_core.config import get_settings
from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeSource
from sync_core.domain.sync_state import SyncStatus
from sync_core.ports.sync import RecordKey
from sync_core.services.records import RecordsService
from sync_core.services.sync_export import SyncExportService
from sync_core.services.sync_import import Applied
from tests.contract.conftest import ClientFactory

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
