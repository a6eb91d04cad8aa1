"""Cases with Salesforce Case over the local stack, as `make run` starts it: a case moved through Open, Pending
Customer, Closed and Released by the API shows the mapped Status in the emulator's Case at each step; a valid
status change a Salesforce user makes in the emulator arrives in the hub (through the outbound-message webhook) as
that action, with its effects; an invalid one is logged as a workflow conflict and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import RunningLocalStack
from tests.e2e.test_sync_e2e import _api, _emulator, _sync_status, _synchronized, _wait

pytestmark = pytest.mark.e2e
ADMIN = {"X-Hub-Roles": "administrator"}


def _ok(stack: RunningLocalStack, method: str, path: str, body: Any = None, expected: int = 200, **headers: str) -> Any:
    answer = _api(stack, method, path, body, **headers)
    assert answer.status_code == expected, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json()


def _case_in_salesforce(stack: RunningLocalStack, case_id: str) -> dict[str, Any]:
    [row] = [row for row in _emulator(stack, "/records/Case") if row.get("Hub_Id__c") == case_id]
    return dict(row)


def _new_case(stack: RunningLocalStack) -> str:
    tag = uuid.uuid4().hex[:8]
    class_id = f"SF-{tag}"
    _ok(stack, "PUT", f"/cases/settings/classes/{class_id}", {"class_id": class_id, "resolution_hours": 24}, **ADMIN)
    account = _ok(stack, "POST", "/records/Account", {"name": f"Case Sync {tag} Ltd"}, 201)["id"]
    body = {"subject": f"Printer {tag} jams", "class_id": class_id, "account_id": account, "priority": "High"}
    case_id = str(_ok(stack, "POST", "/cases", body, 201)["id"])
    _synchronized(stack, "Case", case_id)
    return case_id


def _move(stack: RunningLocalStack, case_id: str, action: str, reason: str | None = None) -> None:
    _ok(stack, "POST", f"/cases/{case_id}/transitions", {"action": action, **({"reason": reason} if reason else {})})


def _shows(stack: RunningLocalStack, case_id: str, status: str, hub_status: str) -> dict[str, Any]:
    def mapped() -> dict[str, Any] | None:
        row = _case_in_salesforce(stack, case_id)
        return row if (row["Status"], row["Hub_Status__c"]) == (status, hub_status) else None

    return dict(_wait(stack, mapped, f"Case {case_id} shows {status} ({hub_status}) in Salesforce"))


def _salesforce_user_sets(stack: RunningLocalStack, salesforce_id: str, **fields: Any) -> None:
    _emulator(stack, "/changes", "POST", {"op": "update", "sobject": "Case", "id": salesforce_id, "fields": fields})


def test_a_case_moved_by_the_api_shows_the_mapped_status_in_salesforce_at_each_step(
    local_stack: RunningLocalStack,
) -> None:
    case_id = _new_case(local_stack)
    row = _shows(local_stack, case_id, "New", "New")
    assert (row["Priority"], row["IsClosed"]) == ("High", False)
    for action, reason, status, hub_status in (
        ("open", "In Process", "Working", "Open"),
        ("pending-customer", "More Info Requested", "Working", "Pending Customer"),
        ("close", "Resolved", "Closed", "Closed"),
        ("release", None, "Closed", "Released"),
    ):
        _move(local_stack, case_id, action, reason)
        row = _shows(local_stack, case_id, status, hub_status)
        assert row["IsClosed"] is (status == "Closed")


def test_a_valid_status_change_in_salesforce_arrives_as_that_action(local_stack: RunningLocalStack) -> None:
    case_id = _new_case(local_stack)
    _move(local_stack, case_id, "open", "In Process")
    salesforce_id = _shows(local_stack, case_id, "Working", "Open")["Id"]

    _salesforce_user_sets(local_stack, salesforce_id, Status="Closed")

    case = _wait(
        local_stack,
        lambda: (body := _ok(local_stack, "GET", f"/cases/{case_id}"))["fields"]["status"] == "Closed" and body,
        "the case closed from Salesforce",
    )
    fields = case["fields"]
    assert (fields["reason"], fields["active"]) == ("Resolved", False)
    assert fields["closing_date"]
    assert case["updated_by"].startswith("sync:")
    assert _sync_status(local_stack, "Case", case_id)["status"] == "Synchronized"


def test_an_invalid_status_change_in_salesforce_is_a_workflow_conflict_and_changes_nothing(
    local_stack: RunningLocalStack,
) -> None:
    case_id = _new_case(local_stack)
    for action, reason in (("open", "In Process"), ("close", "Resolved"), ("release", None)):
        _move(local_stack, case_id, action, reason)
    salesforce_id = _shows(local_stack, case_id, "Closed", "Released")["Id"]
    before = _ok(local_stack, "GET", f"/cases/{case_id}")

    _salesforce_user_sets(local_stack, salesforce_id, Status="Working")

    status = _wait(
        local_stack,
        lambda: (found := _sync_status(local_stack, "Case", case_id))["status"] == "Error" and found,
        "the workflow conflict",
    )
    assert "workflow conflict" in status["error"]
    assert (
        "Released" in status["error"] and "'Working'" in status["error"] and "allowed actions: none" in status["error"]
    )
    after = _ok(local_stack, "GET", f"/cases/{case_id}")
    assert (after["version"], after["fields"]) == (before["version"], before["fields"])
