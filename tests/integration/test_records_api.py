"""records_api in-process against moto tables created from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import ApiAnswer, call, http_event
from tests.support.aws_stack import hub_aws_environment

COLLECTION = "ANY /records/{entity}"
ITEM = "ANY /records/{entity}/{proxy+}"


@pytest.fixture
def api() -> Iterator[Any]:
    with hub_aws_environment():
        from functions.records_api import app

        app._service.cache_clear()
        yield app
        app._service.cache_clear()


def request(api: Any, method: str, path: str, **kwargs: Any) -> ApiAnswer:
    route = COLLECTION if path.count("/") == 2 else ITEM
    return call(api.lambda_handler, http_event(method, path, route_key=route, **kwargs))


def create_account(api: Any, **fields: Any) -> dict[str, Any]:
    answer = request(api, "POST", "/records/Account", body={"name": "Van Dijk Logistics B.V.", **fields})
    assert answer.status == 201, answer.body
    return dict(answer.body)


def test_create_account_returns_201_with_id_version_and_etag(api: Any) -> None:
    # When
    answer = request(api, "POST", "/records/Account", body={"name": "Acme", "industry": "Retail"}, user="alice")
    # Then
    assert answer.status == 201
    assert answer.body["id"] == "ACC-000001"
    assert answer.body["version"] == 1
    assert answer.body["fields"]["name"] == "Acme"
    assert answer.body["updated_by"] == "alice"
    assert answer.headers["ETag"] == '"1"'


def test_created_record_reads_back_and_is_modified_locally_insert(api: Any) -> None:
    # Given
    created = create_account(api, annual_revenue=1250000.5, custom_fields={"Region": "EMEA"})
    # When
    read = request(api, "GET", f"/records/Account/{created['id']}")
    status = request(api, "GET", f"/records/Account/{created['id']}/sync-status")
    # Then
    assert read.status == 200
    assert read.body == created
    assert read.body["fields"]["annual_revenue"] == 1250000.5
    assert status.status == 200
    assert status.body["status"] == "Modified Locally"
    assert status.body["operation"] == "Insert"
    assert status.body["data_provider"] == "Salesforce"
    assert status.body["external_ref"] is None
    assert status.body["import_scenario"] == "Import Account from Salesforce"
    assert status.body["export_scenario"] == "Export Account to Salesforce"


def test_caller_identity_defaults_to_the_iam_principal(api: Any) -> None:
    created = create_account(api)
    assert created["updated_by"] == "arn:aws:iam::123456789012:user/integration-admin"


def test_patch_merges_fields_and_custom_fields_and_bumps_version(api: Any) -> None:
    # Given
    created = create_account(api, phone="+31 10 123 4567", custom_fields={"Region": "EMEA", "Tier": "Gold"})
    # When
    patched = request(
        api,
        "PATCH",
        f"/records/Account/{created['id']}",
        body={"phone": "+31 10 765 4321", "custom_fields": {"Tier": None, "Segment": "SMB"}},
        headers={"If-Match": '"1"'},
    )
    # Then
    assert patched.status == 200
    assert patched.body["version"] == 2
    assert patched.body["fields"]["phone"] == "+31 10 765 4321"
    assert patched.body["fields"]["name"] == "Van Dijk Logistics B.V."
    assert patched.body["fields"]["custom_fields"] == {"Region": "EMEA", "Segment": "SMB"}
    status = request(api, "GET", f"/records/Account/{created['id']}/sync-status").body
    # Never exported yet: it is still an Insert for the export.
    assert (status["status"], status["operation"], status["record_version"]) == ("Modified Locally", "Insert", 2)


def test_put_replaces_fields_whole(api: Any) -> None:
    created = create_account(api, phone="+31 10 123 4567")
    replaced = request(api, "PUT", f"/records/Account/{created['id']}", body={"name": "Renamed"})
    assert replaced.status == 200
    assert "phone" not in replaced.body["fields"]
    assert replaced.body["fields"]["name"] == "Renamed"


def test_stale_if_match_is_412_and_changes_nothing(api: Any) -> None:
    # Given
    created = create_account(api)
    request(api, "PATCH", f"/records/Account/{created['id']}", body={"phone": "1"})
    # When
    stale = request(api, "PATCH", f"/records/Account/{created['id']}", body={"phone": "2"}, headers={"If-Match": '"1"'})
    # Then
    assert stale.status == 412
    assert stale.body["current"] == 2
    assert stale.body["expected"] == 1
    assert request(api, "GET", f"/records/Account/{created['id']}").body["fields"]["phone"] == "1"


def test_malformed_if_match_is_422(api: Any) -> None:
    created = create_account(api)
    answer = request(api, "PATCH", f"/records/Account/{created['id']}", body={}, headers={"If-Match": "abc"})
    assert answer.status == 422
    assert answer.body["errors"][0]["field"] == "If-Match"


def test_missing_required_field_is_422_naming_the_field(api: Any) -> None:
    answer = request(api, "POST", "/records/Account", body={"industry": "Retail"})
    assert answer.status == 422
    assert {"field": "body.name", "reason": "Field required"} in answer.body["errors"]


def test_unknown_field_and_bad_types_are_422_naming_each_field(api: Any) -> None:
    answer = request(
        api,
        "POST",
        "/records/Opportunity",
        body={"name": "Big deal", "stage": "Won-ish", "close_date": "not a date", "colour": "red"},
    )
    assert answer.status == 422
    fields = {error["field"] for error in answer.body["errors"]}
    assert {"body.stage", "body.close_date", "body.colour"} <= fields


def test_patch_that_breaks_the_model_is_422_and_changes_nothing(api: Any) -> None:
    created = create_account(api)
    answer = request(api, "PATCH", f"/records/Account/{created['id']}", body={"name": ""})
    assert answer.status == 422
    assert answer.body["errors"][0]["field"] == "name"
    assert request(api, "GET", f"/records/Account/{created['id']}").body["version"] == 1


def test_invalid_json_is_400(api: Any) -> None:
    answer = request(api, "POST", "/records/Account", raw_body='{"name": "Acme"')
    assert answer.status == 400
    assert answer.body["message"] == "request body is not valid JSON"


def test_unknown_entity_is_404_listing_known_entities(api: Any) -> None:
    answer = request(api, "GET", "/records/Spaceship")
    assert answer.status == 404
    assert "Spaceship" in answer.body["message"]
    assert "Account" in answer.body["message"]


def test_unknown_id_is_404(api: Any) -> None:
    assert request(api, "GET", "/records/Account/ACC-999999").status == 404
    assert request(api, "GET", "/records/Account/ACC-999999/sync-status").status == 404
    assert request(api, "PATCH", "/records/Account/ACC-999999", body={"phone": "1"}).status == 404


def test_delete_removes_record_and_keeps_sync_state_as_delete(api: Any) -> None:
    created = create_account(api)
    deleted = request(api, "DELETE", f"/records/Account/{created['id']}")
    assert deleted.status == 204
    assert request(api, "GET", f"/records/Account/{created['id']}").status == 404
    status = request(api, "GET", f"/records/Account/{created['id']}/sync-status")
    assert (status.body["status"], status.body["operation"]) == ("Modified Locally", "Delete")


def test_list_is_paginated_with_an_opaque_cursor(api: Any) -> None:
    # Given
    ids = [create_account(api, name=f"Account {n}")["id"] for n in range(5)]
    # When
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = request(api, "GET", "/records/Account", query=query)
        assert page.status == 200
        assert len(page.body["items"]) <= 2
        seen += [item["id"] for item in page.body["items"]]
        cursor = page.body["next_cursor"]
        if cursor is None:
            break
    # Then
    assert seen == ids


def test_list_rejects_bad_limit_and_foreign_cursor(api: Any) -> None:
    assert request(api, "GET", "/records/Account", query={"limit": "0"}).status == 422
    assert request(api, "GET", "/records/Account", query={"cursor": "not-a-cursor"}).status == 422


def test_find_by_salesforce_id_uses_the_sync_state_link(api: Any) -> None:
    # Given a record whose sync state links it to a Salesforce id (as a sync would)
    import boto3

    created = create_account(api)
    import os

    boto3.client("dynamodb").update_item(
        TableName=os.environ["SYNC_STATE_TABLE"],
        Key={"pk": {"S": "Account"}, "sk": {"S": created["id"]}},
        UpdateExpression="SET sf_id = :id, external_ref = :id",
        ExpressionAttributeValues={":id": {"S": "0015e00000MbQ9rAAF"}},
    )
    # When
    found = request(api, "GET", "/records/Account", query={"salesforce_id": "0015e00000MbQ9rAAF"})
    missing = request(api, "GET", "/records/Account", query={"salesforce_id": "0015e00000MbQ9sAAF"})
    # Then
    assert [item["id"] for item in found.body["items"]] == [created["id"]]
    assert missing.body["items"] == []
    assert request(api, "GET", "/records/Account", query={"salesforce_id": "bad id"}).status == 422


@pytest.mark.parametrize("entity", ["Case", "Invoice", "ContractUsage"])
def test_case_records_are_read_here_but_written_through_the_case_workflow(api: Any, entity: str) -> None:
    for method, path in (
        ("POST", f"/records/{entity}"),
        ("PATCH", f"/records/{entity}/X-1"),
        ("DELETE", f"/records/{entity}/X-1"),
    ):
        answer = request(api, method, path, body={"subject": "Broken"})
        assert answer.status == 405, (method, path)
        assert "/cases" in answer.body["message"]
    assert request(api, "GET", f"/records/{entity}").status == 200


@pytest.mark.parametrize(
    ("entity", "fields"),
    [
        ("Contact", {"last_name": "Kowalski", "email": "k@example.com", "account_id": "ACC-000001"}),
        ("Lead", {"last_name": "Novak", "company": "Novak d.o.o."}),
        ("Opportunity", {"name": "Fleet renewal", "stage": "Prospecting", "close_date": "2027-01-31", "amount": 1}),
        ("Product", {"name": "Pallet", "prices": [{"unit_price": 12.5}, {"unit_price": 11, "currency": "EUR"}]}),
        ("Quote", {"name": "Q1", "lines": [{"product_id": "PROD-000001", "quantity": 2, "unit_price": 12.5}]}),
        ("Order", {"account_id": "ACC-000001", "effective_date": "2026-12-01"}),
    ],
)
def test_every_entity_round_trips(api: Any, entity: str, fields: dict[str, Any]) -> None:
    created = request(api, "POST", f"/records/{entity}", body=fields)
    assert created.status == 201, created.body
    read = request(api, "GET", f"/records/{entity}/{created.body['id']}")
    assert read.body["fields"] == created.body["fields"]
    for key, value in fields.items():
        if not isinstance(value, list):
            assert read.body["fields"][key] == value


def test_idempotency_key_makes_a_retried_create_return_the_first_record(api: Any) -> None:
    # Given
    headers = {"Idempotency-Key": "create-acme-1"}
    first = request(api, "POST", "/records/Account", body={"name": "Acme"}, headers=headers)
    # When
    retry = request(api, "POST", "/records/Account", body={"name": "Acme"}, headers=headers)
    other = request(api, "POST", "/records/Account", body={"name": "Acme"}, headers={"Idempotency-Key": "other"})
    # Then
    assert first.status == retry.status == 201
    assert retry.body == first.body
    assert other.body["id"] != first.body["id"]
    listed = request(api, "GET", "/records/Account").body["items"]
    assert len(listed) == 2


def test_idempotency_key_reused_with_another_body_is_422(api: Any) -> None:
    headers = {"Idempotency-Key": "k-1"}
    request(api, "POST", "/records/Account", body={"name": "Acme"}, headers=headers)
    answer = request(api, "POST", "/records/Account", body={"name": "Other"}, headers=headers)
    assert answer.status == 422
    assert answer.body["errors"][0]["field"] == "Idempotency-Key"
    assert len(request(api, "GET", "/records/Account").body["items"]) == 1
