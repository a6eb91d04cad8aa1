"""cases_api in-process against moto tables created from template.yaml: every route and every refusal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import ApiAnswer, call, http_event
from tests.support.aws_stack import hub_aws_environment


@pytest.fixture
def api() -> Iterator[Any]:
    with hub_aws_environment():
        from functions.cases_api import app
        from functions.records_api import app as records_app

        app._services.cache_clear()
        records_app._service.cache_clear()
        yield app
        app._services.cache_clear()
        records_app._service.cache_clear()


def request(api: Any, method: str, path: str, **kwargs: Any) -> ApiAnswer:
    route = "ANY /cases" if path == "/cases" else "ANY /cases/{proxy+}"
    kwargs.setdefault("user", "alice")
    if path.startswith("/cases/settings"):
        kwargs.setdefault("roles", ("administrator",))  # only an administrator writes settings (test_roles.py)
    return call(api.lambda_handler, http_event(method, path, route_key=route, **kwargs))


def record(method: str, path: str, **kwargs: Any) -> ApiAnswer:
    from functions.records_api import app as records_app

    route = "ANY /records/{entity}" if path.count("/") == 2 else "ANY /records/{entity}/{proxy+}"
    return call(records_app.lambda_handler, http_event(method, path, route_key=route, **kwargs))


@pytest.fixture
def configured(api: Any) -> dict[str, str]:
    """A billable support class, a workgroup, and an account with one active contact."""
    support = {
        "class_id": "SUPPORT",
        "billable": True,
        "allow_billable_override": True,
        "labor_rate": 80,
        "overtime_rate": 120,
        "round_time_minutes": 15,
        "resolution_hours": 48,
    }
    assert request(api, "PUT", "/cases/settings/classes/SUPPORT", body=support).status == 200
    workgroup = {"workgroup_id": "L1", "name": "First line", "members": ["alice", "bob"]}
    assert request(api, "PUT", "/cases/settings/workgroups/L1", body=workgroup).status == 200
    account = record("POST", "/records/Account", body={"name": "Acme"}).body["id"]
    contact = record("POST", "/records/Contact", body={"last_name": "Kowalski", "account_id": account}).body["id"]
    return {"account": account, "contact": contact}


def create_case(api: Any, configured: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"subject": "Printer jams", "class_id": "SUPPORT", "account_id": configured["account"], **fields}
    answer = request(api, "POST", "/cases", body=body)
    assert answer.status == 201, answer.body
    return dict(answer.body)


def transition(api: Any, case_id: str, action: str, reason: str | None = None, **kwargs: Any) -> ApiAnswer:
    body = {"action": action, **({"reason": reason} if reason else {}), **kwargs.pop("body", {})}
    return request(api, "POST", f"/cases/{case_id}/transitions", body=body, **kwargs)


def version_of(api: Any, case_id: str) -> int:
    return int(request(api, "GET", f"/cases/{case_id}").body["version"])


# ---------------------------------------------------------------- create, read, update, list


def test_create_numbers_the_case_applies_class_defaults_and_the_accounts_contact(
    api: Any, configured: dict[str, str]
) -> None:
    # When
    answer = request(
        api, "POST", "/cases", body={"subject": "Jam", "class_id": "SUPPORT", "account_id": configured["account"]}
    )
    # Then
    assert answer.status == 201
    assert answer.headers["ETag"] == '"1"'
    fields = answer.body["fields"]
    assert answer.body["id"] == "CS000001"
    assert (fields["status"], fields["reason"], fields["active"]) == ("New", "Unassigned", True)
    assert (fields["billable"], fields["contact_id"]) == (True, configured["contact"])
    assert fields["sla"] is not None and fields["sla"] > fields["date_reported"]
    assert answer.body["updated_by"] == "alice"
    assert request(api, "GET", "/cases/CS000001").body == answer.body


def test_a_case_is_a_hub_record_modified_locally(api: Any, configured: dict[str, str]) -> None:
    case = create_case(api, configured)
    status = record("GET", f"/records/Case/{case['id']}/sync-status").body
    assert (status["status"], status["operation"], status["export_scenario"]) == (
        "Modified Locally",
        "Insert",
        "Export Case to Salesforce",
    )
    assert record("GET", f"/records/Case/{case['id']}").body["fields"]["subject"] == "Printer jams"
    assert record("PATCH", f"/records/Case/{case['id']}", body={"subject": "x"}).status == 405


def test_patch_changes_fields_and_checks_the_rules_again(api: Any, configured: dict[str, str]) -> None:
    case = create_case(api, configured)
    path = f"/cases/{case['id']}"
    patched = request(api, "PATCH", path, body={"severity": "High", "owner": "bob", "workgroup_id": "L1"})
    assert patched.status == 200
    assert (patched.body["version"], patched.body["fields"]["severity"], patched.headers["ETag"]) == (2, "High", '"2"')
    outsider = request(api, "PATCH", path, body={"owner": "mallory"})
    assert (outsider.status, outsider.body["errors"][0]["field"]) == (422, "owner")
    assert request(api, "PATCH", path, body={"status": "Closed"}).status == 422
    assert request(api, "PATCH", path, body={"reason": "Resolved"}).status == 422
    assert version_of(api, case["id"]) == 2


def test_list_filters_by_status_owner_and_account_and_pages(api: Any, configured: dict[str, str]) -> None:
    ids = [create_case(api, configured)["id"] for _ in range(3)]
    other = create_case(api, configured, account_id=None)["id"]
    transition(api, ids[1], "take")

    def listed(**query: str) -> list[str]:
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            page = request(
                api, "GET", "/cases", query={**query, "limit": "2", **({"cursor": cursor} if cursor else {})}
            )
            assert page.status == 200, page.body
            seen += [item["id"] for item in page.body["items"]]
            cursor = page.body["next_cursor"]
            if cursor is None:
                return seen
        raise AssertionError("too many pages")

    assert listed() == [*ids, other]
    assert listed(account_id=configured["account"]) == ids
    assert listed(owner="alice") == [ids[1]]
    assert listed(status="New", account_id=configured["account"]) == ids
    assert listed(status="Closed") == []
    assert request(api, "GET", "/cases", query={"status": "Done"}).status == 422


# ---------------------------------------------------------------- the workflow


def test_transitions_list_the_actions_and_reasons_allowed_now(api: Any, configured: dict[str, str]) -> None:
    case = create_case(api, configured)
    answer = request(api, "GET", f"/cases/{case['id']}/transitions")
    assert answer.status == 200
    assert (answer.body["status"], answer.body["reason"]) == ("New", "Unassigned")
    assert [t["action"] for t in answer.body["transitions"]] == ["open", "close", "take", "apply-assignment-rules"]
    close = next(t for t in answer.body["transitions"] if t["action"] == "close")
    assert close["reasons"] == ["Resolved", "Rejected", "Canceled", "Abandoned", "Duplicate"]


def test_an_action_not_allowed_now_is_409_naming_status_and_allowed_actions(
    api: Any, configured: dict[str, str]
) -> None:
    case = create_case(api, configured)
    answer = transition(api, case["id"], "release")
    assert answer.status == 409
    assert answer.body["workflow_status"] == "New"
    assert answer.body["allowed_actions"] == ["open", "close", "take", "apply-assignment-rules"]
    assert version_of(api, case["id"]) == 1


def test_a_reason_the_target_status_does_not_allow_is_422_listing_the_allowed(
    api: Any, configured: dict[str, str]
) -> None:
    case = create_case(api, configured)
    answer = transition(api, case["id"], "close", "In Process")
    assert answer.status == 422
    assert answer.body["workflow_status"] == "Closed"
    assert answer.body["allowed_reasons"] == ["Resolved", "Rejected", "Canceled", "Abandoned", "Duplicate"]
    missing = transition(api, case["id"], "open")
    assert (missing.status, missing.body.get("reason")) == (422, None)
    assert version_of(api, case["id"]) == 1


def test_an_unknown_action_is_422(api: Any, configured: dict[str, str]) -> None:
    case = create_case(api, configured)
    answer = transition(api, case["id"], "reopen")
    assert answer.status == 422
    assert answer.body["errors"][0]["field"] == "body.action"


def test_a_stale_if_match_is_412_and_without_it_a_lost_race_is_409(api: Any, configured: dict[str, str]) -> None:
    case = create_case(api, configured)
    transition(api, case["id"], "take")
    stale = transition(api, case["id"], "open", "In Process", headers={"If-Match": '"1"'})
    assert (stale.status, stale.body["expected"], stale.body["current"]) == (412, 1, 2)
    stale_patch = request(api, "PATCH", f"/cases/{case['id']}", body={"priority": "Low"}, headers={"If-Match": '"1"'})
    assert stale_patch.status == 412
    assert version_of(api, case["id"]) == 2
    fresh = transition(api, case["id"], "open", "In Process", headers={"If-Match": '"2"'})
    assert (fresh.status, fresh.headers["ETag"]) == (200, '"3"')


def test_take_case_makes_the_caller_the_owner(api: Any, configured: dict[str, str]) -> None:
    case = create_case(api, configured, workgroup_id="L1")
    taken = transition(api, case["id"], "take", user="bob")
    assert (taken.body["fields"]["owner"], taken.body["fields"]["reason"]) == ("bob", "Assigned")
    outsider = transition(api, case["id"], "take", user="mallory")
    assert (outsider.status, outsider.body["errors"][0]["field"]) == (422, "owner")
    assert version_of(api, case["id"]) == 2


def test_full_workflow_to_release_creates_the_invoice(api: Any, configured: dict[str, str]) -> None:
    # Given a taken, opened case with 50 minutes of work and 10 of overtime
    case_id = create_case(api, configured)["id"]
    transition(api, case_id, "take")
    transition(api, case_id, "open", "In Process")
    work = {"type": "Work Item", "summary": "Cleared the jam", "time_spent_minutes": 50, "overtime_minutes": 10}
    logged = request(api, "POST", f"/cases/{case_id}/activities", body=work)
    assert (logged.status, logged.body["number"], logged.body["created_by"]) == (201, 1, "alice")
    transition(api, case_id, "pending-customer", "Waiting Confirmation")
    closed = transition(api, case_id, "close", "Resolved")
    assert (closed.body["fields"]["active"], closed.body["fields"]["closing_date"] is not None) == (False, True)
    # When
    released = transition(api, case_id, "release")
    # Then
    fields = released.body["fields"]
    assert (released.status, fields["status"], fields["reason"], fields["invoice_id"]) == (
        200,
        "Released",
        "Resolved",
        "INV000001",
    )
    invoice = request(api, "GET", f"/cases/{case_id}/invoice")
    assert invoice.status == 200
    assert [(line["hours"], line["amount"]) for line in invoice.body["fields"]["lines"]] == [(1.0, 80.0), (0.25, 30.0)]
    assert invoice.body["fields"]["total"] == 110.0
    assert record("GET", "/records/Invoice/INV000001").body["fields"]["case_id"] == case_id
    assert record("GET", "/records/Invoice/INV000001/sync-status").body["operation"] == "Insert"
    assert request(api, "GET", f"/cases/{case_id}/contract-usage").status == 404


def test_release_of_a_contract_case_records_contract_usage(api: Any, configured: dict[str, str]) -> None:
    contract = {"contract_id": "C-1", "account_id": configured["account"]}
    assert request(api, "PUT", "/cases/settings/contracts/C-1", body=contract).status == 200
    case_id = create_case(api, configured, contract_id="C-1")["id"]
    transition(api, case_id, "close", "Resolved")
    transition(api, case_id, "release")
    usage = request(api, "GET", f"/cases/{case_id}/contract-usage")
    assert (usage.status, usage.body["id"], usage.body["fields"]["contract_id"]) == (200, "CU000001", "C-1")
    assert request(api, "GET", f"/cases/{case_id}/invoice").status == 404


def test_apply_assignment_rules(api: Any, configured: dict[str, str]) -> None:
    rules = {"rules": [{"workgroup_id": "L1", "owner": "bob", "severity": "High"}]}
    assert request(api, "PUT", "/cases/settings/assignment-rules", body=rules).status == 200
    assert request(api, "GET", "/cases/settings/assignment-rules").body == {
        "rules": [
            {
                "workgroup_id": "L1",
                "owner": "bob",
                "class_id": None,
                "severity": "High",
                "priority": None,
                "account_id": None,
            }
        ]
    }
    high = create_case(api, configured, severity="High")["id"]
    low = create_case(api, configured)["id"]
    assigned = transition(api, high, "apply-assignment-rules")
    assert (assigned.body["fields"]["workgroup_id"], assigned.body["fields"]["owner"]) == ("L1", "bob")
    assert transition(api, low, "apply-assignment-rules").status == 422
    assert version_of(api, low) == 1


def test_idempotency_key_makes_a_retried_transition_safe(api: Any, configured: dict[str, str]) -> None:
    case_id = create_case(api, configured)["id"]
    transition(api, case_id, "close", "Resolved")
    headers = {"Idempotency-Key": "release-1"}
    first = transition(api, case_id, "release", headers=headers)
    retry = transition(api, case_id, "release", headers=headers)
    assert first.status == retry.status == 200
    assert retry.body == first.body
    assert version_of(api, case_id) == first.body["version"]
    reused = transition(api, case_id, "open", "Updated", headers=headers)
    assert (reused.status, reused.body["errors"][0]["field"]) == (422, "Idempotency-Key")


def test_idempotency_key_makes_a_retried_create_return_the_first_case(api: Any, configured: dict[str, str]) -> None:
    body = {"subject": "Jam", "class_id": "SUPPORT"}
    first = request(api, "POST", "/cases", body=body, headers={"Idempotency-Key": "c-1"})
    retry = request(api, "POST", "/cases", body=body, headers={"Idempotency-Key": "c-1"})
    assert (first.status, retry.body) == (201, first.body)
    assert [item["id"] for item in request(api, "GET", "/cases").body["items"]] == [first.body["id"]]


def test_idempotency_key_makes_a_retried_patch_safe(api: Any, configured: dict[str, str]) -> None:
    # Given a PATCH that succeeded but whose answer was lost
    case_id = create_case(api, configured)["id"]
    headers = {"If-Match": '"1"', "Idempotency-Key": "patch-1"}
    path = f"/cases/{case_id}"
    first = request(api, "PATCH", path, body={"priority": "High"}, headers=headers)
    # When the client retries it as it was
    retry = request(api, "PATCH", path, body={"priority": "High"}, headers=headers)
    # Then it gets the first answer, not a 412 for its own write, and nothing is written twice
    assert (first.status, retry.status, retry.body, retry.headers["ETag"]) == (200, 200, first.body, '"2"')
    assert version_of(api, case_id) == 2
    reused = request(api, "PATCH", path, body={"priority": "Low"}, headers=headers)
    assert (reused.status, reused.body["errors"][0]["field"]) == (422, "Idempotency-Key")


def test_idempotency_key_makes_retried_related_case_writes_safe(api: Any, configured: dict[str, str]) -> None:
    case_id = create_case(api, configured)["id"]
    other = create_case(api, configured, subject="Toner empty")["id"]
    link = {"case_id": other, "relation": "Related"}
    path = f"/cases/{case_id}/related-cases"
    first = request(api, "POST", path, body=link, headers={"If-Match": '"1"', "Idempotency-Key": "link-1"})
    retry = request(api, "POST", path, body=link, headers={"If-Match": '"1"', "Idempotency-Key": "link-1"})
    assert (first.status, retry.status, retry.headers["ETag"]) == (200, 200, '"2"')
    removed = request(api, "DELETE", f"{path}/{other}", headers={"Idempotency-Key": "unlink-1"})
    again = request(api, "DELETE", f"{path}/{other}", headers={"Idempotency-Key": "unlink-1"})
    assert (removed.status, again.status, again.headers["ETag"]) == (204, 204, '"3"')
    assert version_of(api, case_id) == 3


def test_the_openapi_document_gives_every_case_route_its_answers_and_refusal_schema() -> None:
    # The answers each route really gives, and the refusals a client must handle
    from tools.openapi import OPENAPI_PATH

    document = json.loads(OPENAPI_PATH.read_text())
    paths = {path: ops for path, ops in document["paths"].items() if path.startswith("/cases")}
    expected_success = {
        ("/cases", "post"): "201",
        ("/cases/{case_id}/activities", "post"): "201",
        ("/cases/{case_id}/related-cases/{related_id}", "delete"): "204",
    }
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            success = expected_success.get((path, method), "200")
            assert min(responses) == success, (path, method, sorted(responses))
            if success != "204":
                assert "$ref" in json.dumps(responses[success]["content"]), (path, method)
            for code in set(responses) - {success}:
                schema = responses[code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/CaseErrorBody"}, (path, method, code)
    transitions = paths["/cases/{case_id}/transitions"]["post"]["responses"]
    assert {"404", "409", "412", "422"} <= set(transitions)
    error_body = document["components"]["schemas"]["CaseErrorBody"]["properties"]
    assert {"workflow_status", "allowed_actions", "allowed_reasons", "expected", "current", "errors"} <= set(error_body)


# ---------------------------------------------------------------- activities and related cases


def test_activities_are_listed_and_an_incoming_email_reopens_a_closed_case(
    api: Any, configured: dict[str, str]
) -> None:
    case_id = create_case(api, configured)["id"]
    transition(api, case_id, "close", "Resolved")
    email = {"type": "Email", "summary": "Still jams", "direction": "Incoming"}
    logged = request(api, "POST", f"/cases/{case_id}/activities", body=email, user="customer@acme.example")
    assert (logged.status, logged.headers["ETag"]) == (201, '"3"')
    case = request(api, "GET", f"/cases/{case_id}").body["fields"]
    assert (case["status"], case["reason"], case["active"]) == ("Open", "Updated", True)
    assert case["last_activity_date"] == logged.body["start_date"]
    listed = request(api, "GET", f"/cases/{case_id}/activities").body
    assert [(a["type"], a["created_by"]) for a in listed["items"]] == [("Email", "customer@acme.example")]
    assert listed["next_cursor"] is None
    bad = request(
        api, "POST", f"/cases/{case_id}/activities", body={"type": "Email", "summary": "x", "direction": "Internal"}
    )
    assert bad.status == 422


def test_related_cases(api: Any, configured: dict[str, str]) -> None:
    case_id = create_case(api, configured)["id"]
    other = create_case(api, configured, subject="Toner empty")["id"]
    linked = request(api, "POST", f"/cases/{case_id}/related-cases", body={"case_id": other, "relation": "Blocks"})
    assert (linked.status, linked.headers["ETag"]) == (200, '"2"')
    assert linked.body == [
        {
            "case_id": other,
            "relation": "Blocks",
            "subject": "Toner empty",
            "status": "New",
            "owner": None,
            "workgroup_id": None,
        }
    ]
    assert request(api, "GET", f"/cases/{case_id}/related-cases").body == linked.body
    assert (
        request(api, "POST", f"/cases/{case_id}/related-cases", body={"case_id": other, "relation": "Kin"}).status
        == 422
    )
    assert (
        request(api, "POST", f"/cases/{case_id}/related-cases", body={"case_id": case_id, "relation": "Related"}).status
        == 422
    )
    assert request(api, "DELETE", f"/cases/{case_id}/related-cases/{other}").status == 204
    assert request(api, "GET", f"/cases/{case_id}/related-cases").body == []
    assert request(api, "DELETE", f"/cases/{case_id}/related-cases/{other}").status == 404


# ---------------------------------------------------------------- settings and errors


def test_settings_round_trip_and_ids_must_match_the_path(api: Any, configured: dict[str, str]) -> None:
    assert [c["class_id"] for c in request(api, "GET", "/cases/settings/classes").body] == ["SUPPORT"]
    assert request(api, "GET", "/cases/settings/classes/SUPPORT").body["labor_rate"] == 80
    assert request(api, "GET", "/cases/settings/workgroups/L1").body["members"] == ["alice", "bob"]
    assert [w["workgroup_id"] for w in request(api, "GET", "/cases/settings/workgroups").body] == ["L1"]
    assert request(api, "GET", "/cases/settings/contracts").body == []
    assert request(api, "GET", "/cases/settings/classes/NOPE").status == 404
    assert request(api, "GET", "/cases/settings/contracts/NOPE").status == 404
    mismatch = request(api, "PUT", "/cases/settings/classes/OTHER", body={"class_id": "SUPPORT"})
    assert (mismatch.status, mismatch.body["errors"][0]["field"]) == (422, "class_id")
    orphan = request(api, "PUT", "/cases/settings/contracts/C-2", body={"contract_id": "C-2", "account_id": "ACC-999"})
    assert orphan.status == 422


def test_unknown_case_is_404_and_invalid_json_is_400(api: Any, configured: dict[str, str]) -> None:
    assert request(api, "GET", "/cases/CS999999").status == 404
    assert request(api, "GET", "/cases/CS999999/transitions").status == 404
    assert transition(api, "CS999999", "take").status == 404
    assert request(api, "PATCH", "/cases/CS999999", body={"priority": "Low"}).status == 404
    assert request(api, "GET", "/cases/CS000001/nothing-here").status == 404
    bad = request(api, "POST", "/cases", raw_body='{"subject": "x"')
    assert (bad.status, bad.body["message"]) == (400, "request body is not valid JSON")


def test_create_refusals_name_the_field_and_use_no_case_id(api: Any, configured: dict[str, str]) -> None:
    cases = [
        ({"subject": "x", "class_id": "NOPE"}, "class_id"),
        ({"subject": "x", "class_id": "SUPPORT", "workgroup_id": "L1", "owner": "mallory"}, "owner"),
        ({"subject": "x", "class_id": "SUPPORT", "contact_id": "CON-999999"}, "contact_id"),
        ({"subject": "x", "class_id": "SUPPORT", "billable_minutes": 30}, "billable_minutes"),
        ({"class_id": "SUPPORT"}, "body.subject"),
    ]
    for body, field in cases:
        answer = request(api, "POST", "/cases", body=body)
        assert answer.status == 422, body
        assert field in {error["field"] for error in answer.body["errors"]}, answer.body
    assert create_case(api, configured)["id"] == "CS000001"
