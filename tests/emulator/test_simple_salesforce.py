"""Unmodified simple-salesforce 1.12.x against the emulator, as the adapter uses it."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from tests.emulator.conftest import session_for

pytestmark = pytest.mark.emulator


def test_crud_and_upsert(sf):
    created = sf.Account.create({"Name": "Acme", "Hub_Id__c": "ACC-1"}, headers={"Sforce-Call-Options": "client=hub"})
    assert created["success"] is True
    assert sf.Account.get(created["id"])["Name"] == "Acme"
    assert sf.Account.get_by_custom_id("Hub_Id__c", "ACC-1")["Id"] == created["id"]
    assert sf.Account.update(created["id"], {"Phone": "1"}) == 204
    upsert = sf.Account.upsert("Hub_Id__c/ACC-2", {"Name": "Beta"}, raw_response=True)
    assert upsert.status_code == 201 and upsert.json()["created"] is True
    assert sf.Account.upsert("Hub_Id__c/ACC-2", {"Name": "Beta 2"}) == 200
    assert sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(created["id"])
    assert sf.api_usage == {} or sf.api_usage["api-usage"].total == 100000


def test_errors_map_to_simple_salesforce_exceptions(sf, emu, token):
    with pytest.raises(SalesforceMalformedRequest) as malformed:
        sf.Contact.create({"FirstName": "x"})
    assert malformed.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    emu.set_limits(max=1, used=1)
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.query("SELECT Id FROM Account")
    assert refused.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    emu.set_limits(max=100, used=0)
    emu.expire_sessions(token)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account")


def test_query_query_all_and_paging(sf, emu):
    emu.configure(query_page_size_varies=False)  # pages of exactly the batch size, to count them
    emu.seed("Account", [{"Name": f"A{i:04d}", "Hub_Id__c": f"ACC-{i}"} for i in range(2100)])
    first = sf.query("SELECT Id, Name FROM Account ORDER BY Name")
    assert first["done"] is False and len(first["records"]) == 2000
    more = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert more["done"] is True and len(more["records"]) == 100
    everything = sf.query_all("SELECT Id, Name FROM Account ORDER BY Name")
    assert everything["totalSize"] == 2100
    assert everything["records"][-1]["Name"] == "A2099"
    victim = everything["records"][0]["Id"]
    sf.Account.delete(victim)
    with_deleted = sf.query_all("SELECT Id, IsDeleted FROM Account WHERE IsDeleted = true", include_deleted=True)
    assert [r["Id"] for r in with_deleted["records"]] == [victim]
    assert sf.api_usage["api-usage"].used == emu.api_usage()[0]


def test_restful_collections_and_composite(sf):
    answer = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": False, "records": [{"attributes": {"type": "Lead"}, "LastName": "L", "Company": "C"}]},
    )
    assert answer[0]["success"] is True
    composite = sf.restful(
        "composite",
        method="POST",
        json={
            "compositeRequest": [
                {
                    "method": "GET",
                    "url": f"/services/data/v{sf.sf_version}/sobjects/Lead/{answer[0]['id']}",
                    "referenceId": "lead",
                }
            ]
        },
    )
    assert composite["compositeResponse"][0]["body"]["LastName"] == "L"
    assert sf.limits()["DailyApiRequests"]["Max"] == 100000
    assert sf.Case.describe()["name"] == "Case"
    assert {o["name"] for o in sf.describe()["sobjects"]} >= {"Account", "Case"}


def test_default_version_of_simple_salesforce_works(emu, token):
    client = Salesforce(instance_url=emu.url, session_id=token, session=session_for(emu))
    assert client.sf_version == "59.0"
    assert client.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_get_updated_and_deleted(sf, emu):
    from datetime import UTC, datetime, timedelta

    kept, gone = emu.seed("Account", [{"Name": "kept"}, {"Name": "gone"}])
    sf.Account.delete(gone)
    emu.advance_clock(120)
    start = datetime.now(UTC) - timedelta(hours=1)
    end = datetime.now(UTC) + timedelta(hours=1)
    updated = sf.Account.updated(start, end)
    assert updated["ids"] == [kept] and updated["latestDateCovered"].endswith(":00.000+0000")
    deleted = sf.Account.deleted(start, end)
    assert [d["id"] for d in deleted["deletedRecords"]] == [gone]
