"""End to end over HTTP: a case taken, moved through Open, Pending Customer, Closed and Released on the local stack."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningLocalStack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

TIMEOUT = 10


class Hub:
    """The hub's API as one user sees it (X-Hub-User names the caller on the local stack)."""

    def __init__(self, api_url: str, user: str) -> None:
        self.api = api_url
        self.user = user

    def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        return requests.request(
            method, f"{self.api}{path}", headers={"X-Hub-User": self.user, **(headers or {})}, timeout=TIMEOUT, **kwargs
        )

    def ok(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        answer = self.call(method, path, **kwargs)
        assert answer.status_code == expected, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def move(self, case_id: str, action: str, reason: str | None = None, **kwargs: Any) -> requests.Response:
        body = {"action": action, **({"reason": reason} if reason else {})}
        return self.call("POST", f"/cases/{case_id}/transitions", json=body, **kwargs)


def test_a_case_through_its_whole_workflow_to_the_invoice_its_release_creates(local_stack: RunningLocalStack) -> None:
    alice = Hub(local_stack.api_url, "alice@hub.example")
    tag = uuid.uuid4().hex[:8]
    class_id, workgroup_id = f"E2E-{tag}", f"WG-{tag}"

    # Given a billable class, a workgroup alice belongs to (set up by an administrator), and an account with one
    # contact
    admin = {"X-Hub-Roles": "administrator"}
    alice.ok(
        "PUT",
        f"/cases/settings/classes/{class_id}",
        headers=admin,
        json={
            "class_id": class_id,
            "billable": True,
            "allow_billable_override": True,
            "labor_rate": 100,
            "overtime_rate": 150,
            "round_time_minutes": 30,
            "resolution_hours": 24,
        },
    )
    alice.ok(
        "PUT",
        f"/cases/settings/workgroups/{workgroup_id}",
        headers=admin,
        json={"workgroup_id": workgroup_id, "members": ["alice@hub.example", "bob@hub.example"]},
    )
    account = alice.ok("POST", "/records/Account", 201, json={"name": f"Case Test {tag} Ltd"})["id"]
    contact = alice.ok("POST", "/records/Contact", 201, json={"last_name": "Novak", "account_id": account})["id"]

    # When a case is created (retried with the same Idempotency-Key)
    draft = {"subject": "Label printer jams", "class_id": class_id, "account_id": account, "workgroup_id": workgroup_id}
    created = alice.call("POST", "/cases", json=draft, headers={"Idempotency-Key": f"create-{tag}"})
    retried = alice.call("POST", "/cases", json=draft, headers={"Idempotency-Key": f"create-{tag}"})
    assert created.status_code == retried.status_code == 201, created.text
    assert retried.json() == created.json()
    case = created.json()
    case_id = case["id"]
    assert case_id.startswith("CS")
    assert (case["fields"]["status"], case["fields"]["contact_id"], case["fields"]["billable"]) == (
        "New",
        contact,
        True,
    )

    # A refused action answers 409 with the actions allowed, and changes nothing
    refused = alice.move(case_id, "release")
    assert refused.status_code == 409
    assert refused.json()["allowed_actions"] == ["open", "close", "take", "apply-assignment-rules"]
    assert alice.ok("GET", f"/cases/{case_id}")["version"] == 1

    # Take Case: the caller becomes the owner, reason Assigned
    taken = alice.move(case_id, "take")
    assert taken.status_code == 200, taken.text
    assert (taken.json()["fields"]["owner"], taken.json()["fields"]["reason"]) == ("alice@hub.example", "Assigned")

    # Open (with If-Match), then log work and an email
    opened = alice.move(case_id, "open", "In Process", headers={"If-Match": taken.headers["ETag"]})
    assert opened.status_code == 200, opened.text
    alice.ok(
        "POST",
        f"/cases/{case_id}/activities",
        201,
        json={"type": "Work Item", "summary": "Replaced the roller", "time_spent_minutes": 70, "overtime_minutes": 20},
    )
    alice.ok("POST", f"/cases/{case_id}/activities", 201, json={"type": "Email", "summary": "Please confirm"})

    # A reason the target status does not allow answers 422 with the allowed ones, and changes nothing
    version = alice.ok("GET", f"/cases/{case_id}")["version"]
    wrong_reason = alice.move(case_id, "pending-customer", "Resolved")
    assert wrong_reason.status_code == 422
    assert wrong_reason.json()["allowed_reasons"] == ["More Info Requested", "Waiting Confirmation", "Pending Closure"]
    assert alice.ok("GET", f"/cases/{case_id}")["version"] == version

    # Pending Customer; a stale If-Match answers 412 and changes nothing
    assert alice.move(case_id, "pending-customer", "Waiting Confirmation").status_code == 200
    stale = alice.move(case_id, "close", "Resolved", headers={"If-Match": f'"{version}"'})
    assert stale.status_code == 412
    assert alice.ok("GET", f"/cases/{case_id}")["fields"]["status"] == "Pending Customer"

    # Closed: Closing Date set, Active cleared
    closed = alice.move(case_id, "close", "Resolved")
    assert closed.status_code == 200, closed.text
    assert closed.json()["fields"]["active"] is False
    assert closed.json()["fields"]["closing_date"] is not None

    # Released: the standalone billable case gets its invoice
    released = alice.move(case_id, "release", headers={"Idempotency-Key": f"release-{tag}"})
    assert released.status_code == 200, released.text
    assert alice.move(case_id, "release", headers={"Idempotency-Key": f"release-{tag}"}).json() == released.json()
    fields = released.json()["fields"]
    assert (fields["status"], fields["reason"]) == ("Released", "Resolved")

    # Then everything reads back
    invoice = alice.ok("GET", f"/cases/{case_id}/invoice")
    assert invoice["id"] == fields["invoice_id"]
    # 70 min -> 90 (rounded to 30) at 100/h; 20 min overtime -> 30 at 150/h
    assert [(line["hours"], line["amount"]) for line in invoice["fields"]["lines"]] == [(1.5, 150.0), (0.5, 75.0)]
    assert invoice["fields"]["total"] == 225.0
    assert alice.ok("GET", f"/records/Invoice/{invoice['id']}")["fields"]["case_id"] == case_id
    page = alice.ok("GET", f"/cases/{case_id}/activities")
    activities = page["items"]
    assert page["next_cursor"] is None
    assert [(a["type"], a["created_by"]) for a in activities] == [
        ("Work Item", "alice@hub.example"),
        ("Email", "alice@hub.example"),
    ]
    final = alice.ok("GET", f"/cases/{case_id}")
    assert final["fields"]["time_spent_minutes"] == 70
    assert final["fields"]["last_activity_date"] == activities[1]["start_date"]
    assert alice.ok("GET", f"/cases/{case_id}/transitions")["transitions"] == []
    listed = alice.ok("GET", "/cases", params={"status": "Released", "account_id": account})
    assert [item["id"] for item in listed["items"]] == [case_id]
    # The case workflow's writes are exported like any hub write: the case reaches Salesforce (inserted by the
    # first export, updated by the later ones, depending on how its writes and the exports interleave).
    sync = wait_until(
        lambda: (
            (status := alice.ok("GET", f"/records/Case/{case_id}/sync-status"))["status"] == "Synchronized" and status
        ),
        timeout=90,
        interval=0.2,
        message="the released case exported",
    )
    assert sync["operation"] in ("Insert", "Update") and sync["external_ref"]
