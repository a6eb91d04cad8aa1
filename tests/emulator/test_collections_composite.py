"""sObject Collections and Composite: shapes from the docs, allOrNone, references, charging one API call."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.emulator

ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}


def accounts(*names):
    return [
        {"attributes": {"type": "Account"}, **({"Name": n} if n else {}), "Hub_Id__c": f"ACC-{i}"}
        for i, n in enumerate(names)
    ]


def test_collections_create_partial_success(http, data_url):
    answer = http.post(
        f"{data_url}/composite/sobjects", json={"allOrNone": False, "records": accounts("Kowalski Trading", None)}
    )
    assert answer.status_code == 200
    first, second = answer.json()
    assert first == {"id": first["id"], "success": True, "errors": []}
    assert second == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [Name]",
                "fields": ["Name"],
            }
        ],
    }


def test_collections_all_or_none_rolls_back(http, data_url, emu):
    answer = http.post(
        f"{data_url}/composite/sobjects", json={"allOrNone": True, "records": accounts("Good", None)}
    ).json()
    assert answer[0] == {"success": False, "errors": [ROLLED_BACK]}
    assert answer[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert emu.records("Account") == []


def test_collections_update_upsert_delete_retrieve(http, data_url, emu):
    ids = emu.seed("Case", [{"Subject": "a"}, {"Subject": "b"}])
    update = http.patch(
        f"{data_url}/composite/sobjects",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Case"}, "id": ids[0], "Status": "Working"},
                {"attributes": {"type": "Case"}, "Status": "Working"},
                {"attributes": {"type": "Case"}, "id": ids[1], "Status": "Bogus"},
            ],
        },
    ).json()
    assert update[0] == {"id": ids[0], "success": True, "errors": []}
    assert update[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert update[2]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"

    upsert = http.patch(
        f"{data_url}/composite/sobjects/Account/Hub_Id__c",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "One", "Hub_Id__c": "ACC-1"},
            ],
        },
    ).json()
    assert upsert == [{"id": upsert[0]["id"], "success": True, "errors": [], "created": True}]
    again = http.patch(
        f"{data_url}/composite/sobjects/Account/Hub_Id__c",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "Name": "One!", "Hub_Id__c": "ACC-1"},
                {"attributes": {"type": "Account"}, "Name": "Two", "Hub_Id__c": "ACC-2"},
            ]
        },
    ).json()
    assert [(r["id"] == upsert[0]["id"], r["created"]) for r in again] == [(True, False), (False, True)]

    retrieved = http.get(
        f"{data_url}/composite/sobjects/Case",
        params={"ids": f"{ids[0]},500Hb0000000999AAA", "fields": "Subject,Status"},
    ).json()
    assert retrieved[0]["Status"] == "Working" and list(retrieved[0]) == ["attributes", "Subject", "Status"]
    assert retrieved[1] is None

    http.delete(f"{data_url}/sobjects/Case/{ids[1]}")
    deleted = http.delete(
        f"{data_url}/composite/sobjects", params={"ids": f"{ids[0]},{ids[1]}", "allOrNone": "false"}
    ).json()
    assert deleted == [
        {"id": ids[0], "success": True, "errors": []},
        {
            "id": ids[1],
            "success": False,
            "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}],
        },
    ]


def test_collections_delete_malformed_id_row_has_no_id(http, data_url, emu):
    """REST API Developer Guide, "Delete Records Using sObject Collections"
    (resources_composite_sobjects_collections_delete.htm), example response body, some items failed and
    allOrNone false:
        [{"id": "001RM000003oCprYAE", "success": true, "errors": []},
         {"success": false, "errors": [{"statusCode": "MALFORMED_ID", "message": ..., "fields": []}]}]
    The failed row for a malformed id carries no "id" key.
    """
    good = http.post(f"{data_url}/sobjects/Account", json={"Name": "Kowalski Trading"}).json()["id"]
    answer = http.delete(
        f"{data_url}/composite/sobjects", params={"ids": f"{good},001RM000003oLrB000", "allOrNone": "false"}
    )
    assert answer.status_code == 200
    first, second = answer.json()
    assert first == {"id": good, "success": True, "errors": []}
    assert list(second) == ["success", "errors"]
    assert second["success"] is False
    assert second["errors"][0]["statusCode"] == "MALFORMED_ID" and second["errors"][0]["fields"] == []

    # allOrNone true: the good row is rolled back and still names its record; the malformed one still has no id.
    other = http.post(f"{data_url}/sobjects/Account", json={"Name": "Van Dijk"}).json()["id"]
    rolled = http.delete(
        f"{data_url}/composite/sobjects", params={"ids": f"{other},001RM000003oLrB000", "allOrNone": "true"}
    ).json()
    assert rolled[0] == {"id": other, "success": False, "errors": [ROLLED_BACK]}
    assert "id" not in rolled[1]
    assert [r["Id"] for r in emu.records("Account")] == [other]


def test_collections_limit_of_200(http, data_url):
    answer = http.post(f"{data_url}/composite/sobjects", json={"records": accounts(*[f"A{i}" for i in range(201)])})
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_composite_references_and_one_api_call(http, data_url, emu):
    emu.reset_counters()
    body = {
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v60.0/sobjects/Account",
                "referenceId": "refAccount",
                "body": {"Name": "Sample"},
            },
            {
                "method": "POST",
                "url": "/services/data/v60.0/sobjects/Contact",
                "referenceId": "refContact",
                "body": {"LastName": "Smith", "AccountId": "@{refAccount.id}"},
            },
            {
                "method": "GET",
                "url": "/services/data/v60.0/sobjects/Account/@{refAccount.id}?fields=Name",
                "referenceId": "refGet",
            },
            {"method": "GET", "url": "/services/data/v60.0/query?q=SELECT+Id+FROM+Contact", "referenceId": "refQuery"},
            {
                "method": "PATCH",
                "url": "/services/data/v60.0/sobjects/Contact/@{refQuery.records[0].Id}",
                "referenceId": "refPatch",
                "body": {"Title": "CFO"},
            },
            {
                "method": "POST",
                "url": "/services/data/v60.0/composite/sobjects",
                "referenceId": "refColl",
                "body": {"records": accounts("X", "Y")},
            },
        ]
    }
    answer = http.post(f"{data_url}/composite", json=body)
    assert answer.status_code == 200
    results = answer.json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in results] == [201, 201, 200, 200, 204, 200]
    assert results[0]["httpHeaders"]["Location"].startswith("/services/data/v60.0/sobjects/Account/001")
    assert set(results[0]) == {"body", "httpHeaders", "httpStatusCode", "referenceId"}
    assert results[4]["body"] is None
    assert emu.records("Contact")[0]["Title"] == "CFO"
    counters = emu.counters()
    assert counters["api_calls"] == {"composite": 1}
    assert answer.headers["Sforce-Limit-Info"] == "api-usage=1/100000"


def test_composite_all_or_none_rolls_back_everything(http, data_url, emu):
    body = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v60.0/sobjects/Account",
                "referenceId": "acmeHQ",
                "body": {"Name": "Acme"},
            },
            {
                "method": "POST",
                "url": "/services/data/v60.0/sobjects/Contact",
                "referenceId": "cfo",
                "body": {"FirstName": "No last name"},
            },
            {
                "method": "POST",
                "url": "/services/data/v60.0/sobjects/Account",
                "referenceId": "after",
                "body": {"Name": "Never"},
            },
        ],
    }
    results = http.post(f"{data_url}/composite", json=body).json()["compositeResponse"]
    halted = [
        {
            "errorCode": "PROCESSING_HALTED",
            "message": "The transaction was rolled back since another operation in the same transaction failed.",
        }
    ]
    assert results[0] == {"body": halted, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": "acmeHQ"}
    assert results[1]["httpStatusCode"] == 400
    assert results[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert results[2]["body"] == halted
    assert emu.records("Account") == [] and emu.records("Contact") == []


def test_composite_dependent_subrequest_is_skipped(http, data_url, emu):
    body = {
        "compositeRequest": [
            {"method": "POST", "url": "/services/data/v60.0/sobjects/Account", "referenceId": "bad", "body": {}},
            {
                "method": "POST",
                "url": "/services/data/v60.0/sobjects/Contact",
                "referenceId": "child",
                "body": {"LastName": "x", "AccountId": "@{bad.id}"},
            },
            {
                "method": "POST",
                "url": "/services/data/v60.0/sobjects/Account",
                "referenceId": "ok",
                "body": {"Name": "ok"},
            },
        ]
    }
    results = http.post(f"{data_url}/composite", json=body).json()["compositeResponse"]
    assert results[0]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert results[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert "bad.id" in results[1]["body"][0]["message"]
    assert results[2]["httpStatusCode"] == 201
    assert [r["Name"] for r in emu.records("Account")] == ["ok"]


def test_composite_limits(http, data_url):
    too_many = {
        "compositeRequest": [
            {"method": "GET", "url": "/services/data/v60.0/limits", "referenceId": f"r{i}"} for i in range(26)
        ]
    }
    assert http.post(f"{data_url}/composite", json=too_many).status_code == 400
    queries = {
        "compositeRequest": [
            {"method": "GET", "url": "/services/data/v60.0/query?q=SELECT+Id+FROM+Account", "referenceId": f"q{i}"}
            for i in range(6)
        ]
    }
    assert http.post(f"{data_url}/composite", json=queries).status_code == 400
