"""Sync administration on the local stack, as `make run` starts it: stopping an entity holds both directions and
processing it sends what waited, nothing lost; a configuration with a mistake is refused with its path and a
valid one changes what the next sync does; an error retried after fixing the data clears; a caller without the
administrator role gets 403 on every write. (A dead-letter replay is tested in-process,
tests/integration/test_sync_errors_api.py: dead-lettering takes five visibility timeouts on the stack.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeSource
from tests.e2e.conftest import RunningLocalStack
from tests.e2e.test_sync_e2e import _api, _emulator, _queues_idle, _synchronized, _wait

ADMIN = {"X-Hub-User": "e2e-admin", "X-Hub-Roles": "administrator"}


def _admin(stack: RunningLocalStack, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
    return requests.request(method, f"{stack.api_url}{path}", json=body, headers={**ADMIN, **headers}, timeout=30)


def _row(stack: RunningLocalStack, entity: str) -> dict[str, Any]:
    return next(row for row in _admin(stack, "GET", "/sync/entities").json() if row["entity"] == entity)


def _in_salesforce(stack: RunningLocalStack, salesforce_id: str) -> dict[str, Any]:
    return next(row for row in _emulator(stack, "/records/Account") if row["Id"] == salesforce_id)


@pytest.fixture
def account_processed_after(local_stack: RunningLocalStack) -> Iterator[None]:
    """Whatever the test does, the stack's accounts sync again after it (the stack is shared by the session)."""
    yield
    answer = _admin(local_stack, "POST", "/sync/entities/process", {"entities": ["Account"]})
    assert answer.status_code == 200, answer.text


def test_stopping_an_entity_holds_both_directions_and_processing_resumes_them_with_nothing_lost(
    local_stack: RunningLocalStack, account_processed_after: None
) -> None:
    name = f"Held {uuid.uuid4().hex[:8]}"
    account = _api(local_stack, "POST", "/records/Account", {"name": name}).json()["id"]
    salesforce_id = _synchronized(local_stack, "Account", account)["external_ref"]
    _wait(local_stack, lambda: _queues_idle(local_stack), "queues idle")

    stopped = _admin(local_stack, "POST", "/sync/entities/stop", {"entities": ["Account"]})
    assert stopped.status_code == 200, stopped.text
    version = _api(local_stack, "GET", f"/records/Account/{account}").json()["version"]
    if_match = {"If-Match": f'"{version}"'}
    patched = _api(local_stack, "PATCH", f"/records/Account/{account}", {"phone": "+44 20 7946 0000"}, **if_match)
    assert patched.status_code == 200, patched.text
    change = Change(
        direction=ChangeDirection.FROM_SALESFORCE,
        entity=EntityName.ACCOUNT,
        salesforce_id=salesforce_id,
        source=ChangeSource.CHANGE_EVENT,
        change_id=f"e2e-held-{uuid.uuid4()}",
        stamp=datetime.now(UTC) + timedelta(seconds=2),
        values={"Website": "https://held.example"},
    )
    sent = requests.post(f"{local_stack.api_url}/__local/queues/SyncQueue", data=change.model_dump_json(), timeout=10)
    assert sent.status_code == 202, sent.text

    _wait(local_stack, lambda: _row(local_stack, "Account")["held_changes"] >= 1, "the change held")
    _wait(local_stack, lambda: _queues_idle(local_stack), "queues idle while stopped")
    assert _in_salesforce(local_stack, salesforce_id).get("Phone") in (None, "")
    assert _api(local_stack, "GET", f"/records/Account/{account}").json()["fields"].get("website") is None
    assert _api(local_stack, "GET", f"/records/Account/{account}/sync-status").json()["status"] == "Modified Locally"

    processed = _admin(local_stack, "POST", "/sync/entities/process", {"entities": ["Account"]})
    assert processed.status_code == 200, processed.text
    [result] = processed.json()
    assert result["changes_released"] >= 1 and result["exports_queued"] >= 1

    _wait(
        local_stack,
        lambda: _in_salesforce(local_stack, salesforce_id).get("Phone") == "+44 20 7946 0000",
        "the hub's edit in Salesforce",
    )
    _wait(
        local_stack,
        lambda: (
            _api(local_stack, "GET", f"/records/Account/{account}").json()["fields"].get("website")
            == "https://held.example"
        ),
        "Salesforce's change in the hub",
    )


def test_a_configuration_mistake_is_refused_with_its_path_and_a_valid_one_changes_the_next_sync(
    local_stack: RunningLocalStack,
) -> None:
    current = _admin(local_stack, "GET", "/sync/entities/Lead/config")
    assert current.status_code == 200, current.text
    config = current.json()

    wrong = _admin(
        local_stack,
        "PUT",
        "/sync/entities/Lead/config",
        {**config, "mode": "batch", "outbound_fields": ["Name"]},
        **{"If-Match": current.headers["ETag"]},
    )
    assert wrong.status_code == 422, wrong.text
    assert {error["field"] for error in wrong.json()["errors"]} == {"schedule", "outbound_fields"}

    saved = _admin(
        local_stack,
        "PUT",
        "/sync/entities/Lead/config",
        {**config, "export_enabled": False},
        **{"If-Match": current.headers["ETag"]},
    )
    assert saved.status_code == 200, saved.text
    try:
        lead = _api(local_stack, "POST", "/records/Lead", {"last_name": "Stays", "company": "Home Ltd"})
        assert lead.status_code == 201, lead.text
        _wait(local_stack, lambda: _queues_idle(local_stack), "queues idle")
        lead_id = lead.json()["id"]
        assert not [row for row in _emulator(local_stack, "/records/Lead") if row.get("Hub_Id__c") == lead_id]
    finally:
        restored = _admin(
            local_stack, "PUT", "/sync/entities/Lead/config", config, **{"If-Match": saved.headers["ETag"]}
        )
        assert restored.status_code == 200, restored.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/sync/entities/process", {"entities": ["Account"]}),
        ("POST", "/sync/entities/process-all", None),
        ("POST", "/sync/entities/stop", {"entities": ["Account"]}),
        ("POST", "/sync/entities/stop-all", None),
        ("PUT", "/sync/entities/Account/config", {"entity": "Account"}),
        ("POST", "/sync/errors/bm9wZSNub3BlI25vcGUjbm9wZQ/retry", {}),
        ("POST", "/sync/errors/bm9wZSNub3BlI25vcGUjbm9wZQ/resolve", {}),
        ("POST", "/sync/errors/retry", {"refs": ["x"]}),
        ("POST", "/sync/errors/resolve", {"refs": ["x"]}),
        ("POST", "/sync/dlq/replay", {"queue": "export"}),
    ],
)
def test_a_caller_without_the_administrator_role_gets_403_on_every_write(
    local_stack: RunningLocalStack, method: str, path: str, body: Any
) -> None:
    answer = requests.request(
        method,
        f"{local_stack.api_url}{path}",
        json=body,
        headers={"X-Hub-User": "e2e-agent", "X-Hub-Roles": "agent, integration"},
        timeout=10,
    )
    assert answer.status_code == 403, answer.text
    assert answer.json()["required_roles"] == ["administrator"]
    assert _row(local_stack, "Account")["process_status"] in ("Active", "Error")


def test_an_export_error_retried_after_fixing_the_data_clears(local_stack: RunningLocalStack) -> None:
    _wait(local_stack, lambda: _queues_idle(local_stack), "queues idle")
    # The org's validation rule refuses the account once; the administrator fixes it in the org, then retries.
    rule = {
        "scope": "record",
        "kind": "collections",
        "status": 400,
        "error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "message": "Accounts need a region",
        "count": 1,
    }
    _emulator(local_stack, "/faults", "POST", rule)
    account = _api(local_stack, "POST", "/records/Account", {"name": f"Retry {uuid.uuid4().hex[:8]}"}).json()["id"]
    _wait(
        local_stack,
        lambda: _api(local_stack, "GET", f"/records/Account/{account}/sync-status").json()["status"] == "Error",
        "the refused export",
    )
    query = {"entity": "Account", "direction": "to Salesforce", "code": "FIELD_CUSTOM_VALIDATION_EXCEPTION"}
    listed = requests.get(f"{local_stack.api_url}/sync/errors", params=query, headers=ADMIN, timeout=30).json()
    [entry] = [item for item in listed["items"] if item["record_id"] == account]

    retried = _admin(local_stack, "POST", f"/sync/errors/{entry['ref']}/retry", {})
    assert retried.status_code == 200, retried.text

    _synchronized(local_stack, "Account", account)
    _wait(
        local_stack,
        lambda: _admin(local_stack, "GET", f"/sync/errors/{entry['ref']}").json()["status"] == "resolved",
        "the entry resolved",
    )


def test_a_first_load_dry_run_reports_the_plan_and_writes_nothing(local_stack: RunningLocalStack) -> None:
    _wait(local_stack, lambda: _queues_idle(local_stack), "queues idle")
    before = len(_emulator(local_stack, "/records/Account"))

    answer = _admin(local_stack, "POST", "/sync/entities/Account/process-all", {"dry_run": True})

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["dry_run"] is True and report["queued"] == 0
    assert report["hub_records"] >= 3 and report["salesforce_records"] >= 3  # the seeded accounts, linked
    assert sum(report["counts"][action] for action in ("link", "update", "leave")) >= 3
    _wait(local_stack, lambda: _queues_idle(local_stack), "queues idle")
    assert len(_emulator(local_stack, "/records/Account")) == before
