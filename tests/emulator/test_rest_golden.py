"""Golden tests: answers compared with the shapes in Salesforce's documentation (keys, types, codes, bodies)."""

from __future__ import annotations

import re

import pytest

from local.sf_emulator import EmulatorConfig, PicklistValue, start_emulator
from local.sf_emulator.ids import checksum_suffix, is_valid_id
from tests.emulator.conftest import API, session_for

pytestmark = pytest.mark.emulator

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000\+0000$")


def test_token_endpoint_client_credentials(emu):
    from tests.emulator.conftest import session_for

    http = session_for(emu)
    answer = http.post(
        f"{emu.url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("hub-client", "hub-secret"),
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at"}
    assert body["instance_url"] == emu.url
    assert body["token_type"] == "Bearer"
    assert body["access_token"].startswith("00D000000000001!")
    assert body["id"].endswith("/id/00D000000000001AAA/005000000000001AAA")
    assert body["issued_at"].isdigit()


@pytest.mark.parametrize(
    ("form", "auth", "error", "description"),
    [
        (
            {"grant_type": "client_credentials"},
            ("nope", "hub-secret"),
            "invalid_client_id",
            "client identifier invalid",
        ),
        ({"grant_type": "client_credentials"}, ("hub-client", "bad"), "invalid_client", "invalid client credentials"),
        (
            {
                "grant_type": "password",
                "client_id": "hub-client",
                "client_secret": "hub-secret",
                "username": "hub@example.com",
                "password": "password",
            },
            None,
            "invalid_grant",
            "authentication failure",
        ),
        ({"grant_type": "authorization_code"}, None, "unsupported_grant_type", "grant type not supported"),
    ],
)
def test_token_endpoint_errors(emu, form, auth, error, description):
    from tests.emulator.conftest import session_for

    answer = session_for(emu).post(f"{emu.url}/services/oauth2/token", data=form, auth=auth)
    assert answer.status_code == 400
    assert answer.json() == {"error": error, "error_description": description}


def test_password_grant_with_security_token(emu):
    from tests.emulator.conftest import session_for

    answer = session_for(emu).post(
        f"{emu.url}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": "hub-client",
            "client_secret": "hub-secret",
            "username": "hub@example.com",
            "password": "passwordtoken",
        },
    )
    assert answer.status_code == 200


def test_versions_list_and_unknown_version(emu, http):
    versions = http.get(f"{emu.url}/services/data/").json()
    assert {"label": "Spring '24", "url": "/services/data/v60.0", "version": "60.0"} in versions
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions
    missing = http.get(f"{emu.url}/services/data/v99.0/limits")
    assert missing.status_code == 404
    assert missing.json() == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


def test_missing_or_expired_session_is_401(emu, http, data_url, token):
    from tests.emulator.conftest import session_for

    anonymous = session_for(emu).get(f"{data_url}/limits")
    assert anonymous.status_code == 401
    assert anonymous.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert http.get(f"{data_url}/limits").status_code == 200
    emu.expire_sessions(token)
    expired = http.get(f"{data_url}/limits")
    assert expired.status_code == 401
    assert expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_create_get_update_delete_shapes(http, data_url):
    created = http.post(f"{data_url}/sobjects/Account/", json={"Name": "Van Dijk Logistics B.V."})
    assert created.status_code == 201
    body = created.json()
    assert list(body) == ["id", "success", "errors"]
    assert body["success"] is True and body["errors"] == []
    record_id = body["id"]
    assert record_id.startswith("001") and len(record_id) == 18 and is_valid_id(record_id)
    assert checksum_suffix(record_id[:15]) == record_id[15:]

    record = http.get(f"{data_url}/sobjects/Account/{record_id}").json()
    assert record["attributes"] == {"type": "Account", "url": f"/services/data/v60.0/sobjects/Account/{record_id}"}
    for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        assert DATETIME.match(record[name]), record[name]
    assert record["IsDeleted"] is False
    assert record["CreatedById"] == record["LastModifiedById"] == "005000000000001AAA"
    assert record["Phone"] is None

    some = http.get(f"{data_url}/sobjects/Account/{record_id}", params={"fields": "Name,Phone"}).json()
    assert list(some) == ["attributes", "Name", "Phone"]

    updated = http.patch(f"{data_url}/sobjects/Account/{record_id}", json={"Phone": "+31 10 123"})
    assert updated.status_code == 204 and updated.content == b""
    assert http.get(f"{data_url}/sobjects/Account/{record_id}").json()["Phone"] == "+31 10 123"

    deleted = http.delete(f"{data_url}/sobjects/Account/{record_id}")
    assert deleted.status_code == 204
    gone = http.get(f"{data_url}/sobjects/Account/{record_id}")
    assert gone.status_code == 404
    assert gone.json() == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
    again = http.delete(f"{data_url}/sobjects/Account/{record_id}")
    assert again.status_code == 404
    assert again.json() == [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}]


def test_upsert_by_external_id_created_then_updated(http, data_url):
    url = f"{data_url}/sobjects/Account/Hub_Id__c/ACC-000417"
    first = http.patch(url, json={"Name": "Van Dijk"})
    assert first.status_code == 201
    assert first.json() == {"id": first.json()["id"], "success": True, "errors": [], "created": True}
    second = http.patch(url, json={"Name": "Van Dijk B.V."})
    assert second.status_code == 200
    assert second.json() == {"id": first.json()["id"], "success": True, "errors": [], "created": False}
    old_api = http.patch(url.replace("v60.0", "v45.0"), json={"Name": "Van Dijk"})
    assert old_api.status_code == 204
    only_update = http.patch(
        f"{data_url}/sobjects/Account/Hub_Id__c/NEW-1", params={"updateOnly": "true"}, json={"Name": "x"}
    )
    assert only_update.status_code == 404
    fetched = http.get(url).json()
    assert fetched["Name"] == "Van Dijk" and fetched["Hub_Id__c"] == "ACC-000417"


@pytest.mark.parametrize(
    ("sobject", "body", "status", "expected"),
    [
        (
            "Account",
            {},
            400,
            [
                {
                    "message": "Required fields are missing: [Name]",
                    "errorCode": "REQUIRED_FIELD_MISSING",
                    "fields": ["Name"],
                }
            ],
        ),
        (
            "Lead",
            {"FirstName": "A"},
            400,
            [
                {
                    "message": "Required fields are missing: [LastName, Company]",
                    "errorCode": "REQUIRED_FIELD_MISSING",
                    "fields": ["LastName", "Company"],
                }
            ],
        ),
        (
            "Opportunity",
            {"Name": "Deal"},
            400,
            [
                {
                    "message": "Required fields are missing: [StageName, CloseDate]",
                    "errorCode": "REQUIRED_FIELD_MISSING",
                    "fields": ["StageName", "CloseDate"],
                }
            ],
        ),
        (
            "Account",
            {"Name": "A", "Foo__c": 1},
            400,
            [{"message": "No such column 'Foo__c' on sobject of type Account", "errorCode": "INVALID_FIELD"}],
        ),
        (
            "Case",
            {"Status": "Escalatedd"},
            400,
            [
                {
                    "message": "bad value for restricted picklist field: Escalatedd",
                    "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    "fields": ["Status"],
                }
            ],
        ),
        (
            "Case",
            {"Priority": "Urgent"},
            400,
            [
                {
                    "message": "bad value for restricted picklist field: Urgent",
                    "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    "fields": ["Priority"],
                }
            ],
        ),
        (
            "Contact",
            {"LastName": "X", "AccountId": "003000000000001AAA"},
            400,
            [
                {
                    "message": "Account ID: id value of incorrect type: 003000000000001AAA",
                    "errorCode": "MALFORMED_ID",
                    "fields": ["AccountId"],
                }
            ],
        ),
        (
            "Contact",
            {"LastName": "X", "AccountId": "001000000000001AAA"},
            400,
            [
                {
                    "message": "invalid cross reference id",
                    "errorCode": "INVALID_CROSS_REFERENCE_KEY",
                    "fields": ["AccountId"],
                }
            ],
        ),
        (
            "Contact",
            {"LastName": "X", "Email": "not-an-email"},
            400,
            [
                {
                    "message": "Email: invalid email address: not-an-email",
                    "errorCode": "INVALID_EMAIL_ADDRESS",
                    "fields": ["Email"],
                }
            ],
        ),
    ],
)
def test_validation_errors(http, data_url, sobject, body, status, expected):
    answer = http.post(f"{data_url}/sobjects/{sobject}", json=body)
    assert answer.status_code == status
    assert answer.json() == expected


def test_case_read_only_fields_and_derived_is_closed(http, data_url):
    read_only = http.post(f"{data_url}/sobjects/Case", json={"Subject": "s", "IsClosed": True, "ClosedDate": None})
    assert read_only.status_code == 400
    error = read_only.json()[0]
    assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert error["fields"] == ["IsClosed", "ClosedDate"]
    assert error["message"].startswith("Unable to create/update fields: IsClosed, ClosedDate.")

    case_id = http.post(f"{data_url}/sobjects/Case", json={"Subject": "s"}).json()["id"]
    case = http.get(f"{data_url}/sobjects/Case/{case_id}").json()
    assert (case["Status"], case["Priority"], case["IsClosed"], case["ClosedDate"]) == ("New", "Medium", False, None)
    assert case["CaseNumber"] == "00001001"
    for status, closed in (("Working", False), ("Closed", True), ("Escalated", False)):
        assert http.patch(f"{data_url}/sobjects/Case/{case_id}", json={"Status": status}).status_code == 204
        case = http.get(f"{data_url}/sobjects/Case/{case_id}").json()
        assert case["IsClosed"] is closed
        assert (case["ClosedDate"] is not None) is closed


@pytest.mark.parametrize("status", ["Open", "Pending Customer", "Released"])
def test_a_default_org_rejects_the_hubs_own_case_statuses(http, data_url, status):
    """Case Status is restricted to the org's values: a default org has New, Working, Escalated and Closed."""
    answer = http.post(f"{data_url}/sobjects/Case", json={"Subject": "s", "Status": status})
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert answer.json()[0]["fields"] == ["Status"]


def test_an_administrator_adds_case_statuses_through_the_config():
    statuses = [
        PicklistValue("New", default=True),
        PicklistValue("Working"),
        PicklistValue("Waiting on Customer"),
        PicklistValue("Closed", closed=True),
        PicklistValue("Closed - Billed", closed=True),
    ]
    with start_emulator(EmulatorConfig(port=0, picklist_overrides={"Case.Status": statuses})) as emu:
        http = session_for(emu, emu.issue_token())
        base = f"{emu.url}/services/data/{API}"
        case_id = http.post(f"{base}/sobjects/Case", json={"Subject": "s", "Status": "Waiting on Customer"}).json()[
            "id"
        ]
        assert http.patch(f"{base}/sobjects/Case/{case_id}", json={"Status": "Closed - Billed"}).status_code == 204
        case = http.get(f"{base}/sobjects/Case/{case_id}").json()
        assert case["IsClosed"] is True
        assert http.patch(f"{base}/sobjects/Case/{case_id}", json={"Status": "Escalated"}).status_code == 400


def test_duplicate_external_id(http, data_url):
    first = http.post(f"{data_url}/sobjects/Account", json={"Name": "A", "Hub_Id__c": "ACC-1"}).json()["id"]
    answer = http.post(f"{data_url}/sobjects/Account", json={"Name": "B", "Hub_Id__c": "acc-1"})
    assert answer.status_code == 400
    assert answer.json() == [
        {
            "message": f"duplicate value found: Hub_Id__c duplicates value on record with id: {first}",
            "errorCode": "DUPLICATE_VALUE",
            "fields": [],
        }
    ]


@pytest.mark.parametrize(
    ("method", "record_id", "status", "code"),
    [
        ("GET", "001000000000001AAX", 400, "MALFORMED_ID"),
        ("PATCH", "003000000000001AAA", 400, "MALFORMED_ID"),
        ("GET", "001000000000009AAA", 404, "NOT_FOUND"),
        ("GET", "nonsense", 404, "NOT_FOUND"),
    ],
)
def test_bad_ids(http, data_url, method, record_id, status, code):
    answer = http.request(method, f"{data_url}/sobjects/Account/{record_id}", json={"Name": "x"})
    assert answer.status_code == status
    assert answer.json()[0]["errorCode"] == code


def test_describe_global_and_object(http, data_url):
    described = http.get(f"{data_url}/sobjects").json()
    assert described["maxBatchSize"] == 200
    names = {o["name"]: o for o in described["sobjects"]}
    assert set(names) >= {
        "Account",
        "Contact",
        "Lead",
        "Opportunity",
        "Product2",
        "Pricebook2",
        "PricebookEntry",
        "Quote",
        "QuoteLineItem",
        "Order",
        "OrderItem",
        "Case",
    }
    assert names["Case"]["keyPrefix"] == "500"
    case = http.get(f"{data_url}/sobjects/Case/describe").json()
    fields = {f["name"]: f for f in case["fields"]}
    for key in ("name", "type", "nillable", "createable", "updateable", "externalId", "picklistValues"):
        assert key in fields["Status"]
    assert fields["Hub_Id__c"]["externalId"] is True and fields["Hub_Id__c"]["unique"] is True
    assert fields["IsClosed"]["createable"] is False and fields["IsClosed"]["updateable"] is False
    assert fields["ClosedDate"]["updateable"] is False
    # A default org's values (research/salesforce-facts.md §e); others are an administrator's change
    statuses = [(p["value"], p["defaultValue"]) for p in fields["Status"]["picklistValues"]]
    assert statuses == [("New", True), ("Working", False), ("Escalated", False), ("Closed", False)]
    assert fields["Status"]["restrictedPicklist"] is True
    priorities = [(p["value"], p["defaultValue"]) for p in fields["Priority"]["picklistValues"]]
    assert priorities == [("High", False), ("Medium", True), ("Low", False)]
    assert [p["value"] for p in fields["Origin"]["picklistValues"]] == ["Phone", "Email", "Web"]
    reasons = [p["value"] for p in fields["Reason"]["picklistValues"]]
    defaults = ["Installation", "Equipment Complexity", "Performance", "Breakdown", "Equipment Design", "Feedback"]
    assert reasons == [*defaults, "Other"]


def test_limits_resource_and_header(http, data_url):
    first = http.get(f"{data_url}/limits")
    assert first.status_code == 200
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
    daily = first.json()["DailyApiRequests"]
    assert daily == {"Max": 100000, "Remaining": 99999}
    assert http.get(f"{data_url}/limits").headers["Sforce-Limit-Info"] == "api-usage=2/100000"


def test_standard_price_book_and_price_rules(http, data_url):
    books = http.get(f"{data_url}/query", params={"q": "SELECT Id, Name FROM Pricebook2 WHERE IsStandard = true"})
    standard = books.json()["records"][0]["Id"]
    product = http.post(f"{data_url}/sobjects/Product2", json={"Name": "Widget"}).json()["id"]
    custom = http.post(f"{data_url}/sobjects/Pricebook2", json={"Name": "EU", "IsActive": True}).json()["id"]
    early = http.post(
        f"{data_url}/sobjects/PricebookEntry", json={"Pricebook2Id": custom, "Product2Id": product, "UnitPrice": 9}
    )
    assert early.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    entry = {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 10, "IsActive": True}
    assert http.post(f"{data_url}/sobjects/PricebookEntry", json=entry).status_code == 201
    assert http.post(f"{data_url}/sobjects/PricebookEntry", json=entry).json()[0]["errorCode"] == "DUPLICATE_VALUE"
    assert (
        http.post(
            f"{data_url}/sobjects/PricebookEntry", json={"Pricebook2Id": custom, "Product2Id": product, "UnitPrice": 9}
        ).status_code
        == 201
    )
