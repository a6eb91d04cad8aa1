"""The sync engine on the local stack, as `make run` starts it: a hub write reaches the Salesforce emulator
(records stream -> export queue -> export worker), a change on the sync queue reaches the hub record
(sync worker), and a contact written while its account cannot be exported waits, then goes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeSource
from tests.e2e.conftest import RunningLocalStack
from tests.support.waiting import wait_until

SYNC_SECONDS = 90  # a generous bound (CI shares 2 cores among two test workers); speed is in benchmarks/


def _api(stack: RunningLocalStack, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
    return requests.request(
        method, f"{stack.api_url}{path}", json=body, headers={"X-Hub-User": "e2e", **headers}, timeout=30
    )


def _emulator(stack: RunningLocalStack, path: str, method: str = "GET", body: Any = None) -> Any:
    health = _api(stack, "GET", "/__local/health").json()
    answer = requests.request(
        method, f"{health['salesforce']}/__emulator{path}", json=body, verify=health["salesforce_ca"], timeout=30
    )
    answer.raise_for_status()
    return answer.json()


def _sync_status(stack: RunningLocalStack, entity: str, record_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = _api(stack, "GET", f"/records/{entity}/{record_id}/sync-status").json()
    return answer


def _wait(stack: RunningLocalStack, predicate: Any, message: str) -> Any:
    """wait_until, and on a timeout the queues' depths and the stack's last console lines, to see why."""
    try:
        return wait_until(predicate, timeout=SYNC_SECONDS, interval=0.2, message=message)
    except AssertionError as exc:
        depth = _api(stack, "GET", "/__local/queues").json()
        raise AssertionError(f"{exc}\nqueues: {depth}\n{stack.console()[-6000:]}") from exc


def _synchronized(stack: RunningLocalStack, entity: str, record_id: str) -> dict[str, Any]:
    return _wait(
        stack,
        lambda: (status := _sync_status(stack, entity, record_id))["status"] == "Synchronized" and status,
        f"{entity} {record_id} Synchronized",
    )


def _salesforce_record(stack: RunningLocalStack, sobject: str, salesforce_id: str) -> dict[str, Any]:
    [record] = [row for row in _emulator(stack, f"/records/{sobject}") if row["Id"] == salesforce_id]
    return dict(record)


def _queues_idle(stack: RunningLocalStack) -> bool:
    depth = _api(stack, "GET", "/__local/queues").json()
    return all(queue["visible"] == 0 and queue["in_flight"] == 0 for queue in depth.values())


def test_a_hub_write_reaches_salesforce(local_stack: RunningLocalStack) -> None:
    name = f"Export {uuid.uuid4().hex[:8]}"
    created = _api(local_stack, "POST", "/records/Account", {"name": name, "industry": "Energy"})
    assert created.status_code == 201, created.text
    account = created.json()["id"]

    status = _synchronized(local_stack, "Account", account)

    assert status["external_ref"]
    record = _salesforce_record(local_stack, "Account", status["external_ref"])
    assert (record["Name"], record["Hub_Id__c"]) == (name, account)


def test_a_change_on_the_sync_queue_reaches_the_hub_record(local_stack: RunningLocalStack) -> None:
    account = _api(local_stack, "POST", "/records/Account", {"name": f"Import {uuid.uuid4().hex[:8]}"}).json()["id"]
    salesforce_id = _synchronized(local_stack, "Account", account)["external_ref"]
    change = Change(
        direction=ChangeDirection.FROM_SALESFORCE,
        entity=EntityName.ACCOUNT,
        salesforce_id=salesforce_id,
        source=ChangeSource.CHANGE_EVENT,
        change_id=f"e2e-{uuid.uuid4()}",
        stamp=datetime.now(UTC),
        values={"Phone": "+1 415 555 0100"},
    )

    sent = requests.post(f"{local_stack.api_url}/__local/queues/SyncQueue", data=change.model_dump_json(), timeout=10)
    assert sent.status_code == 202, sent.text

    record = wait_until(
        lambda: (
            (body := _api(local_stack, "GET", f"/records/Account/{account}").json())["fields"].get("phone")
            == "+1 415 555 0100"
            and body
        ),
        timeout=SYNC_SECONDS,
        interval=0.2,
        message="the imported phone on the hub record",
    )
    assert record["updated_by"].startswith("sync:")
    assert _sync_status(local_stack, "Account", account)["status"] == "Synchronized"


def test_a_contact_written_before_its_account_is_exported_waits_then_goes(local_stack: RunningLocalStack) -> None:
    _wait(local_stack, lambda: _queues_idle(local_stack), "queues idle")
    # The account's export is refused once, for good (a validation rule in the org): it stays unlinked.
    _emulator(
        local_stack,
        "/faults",
        "POST",
        {
            "scope": "record",
            "kind": "collections",
            "status": 400,
            "error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "message": "Accounts need a region",
            "count": 1,
        },
    )
    account = _api(local_stack, "POST", "/records/Account", {"name": f"Parent {uuid.uuid4().hex[:8]}"}).json()["id"]
    _wait(
        local_stack,
        lambda: _sync_status(local_stack, "Account", account)["status"] == "Error",
        "the account's refused export",
    )
    contact = _api(local_stack, "POST", "/records/Contact", {"last_name": "Waits", "account_id": account}).json()["id"]
    _wait(local_stack, lambda: _queues_idle(local_stack), "the contact parked")
    assert _sync_status(local_stack, "Contact", contact)["external_ref"] is None
    assert not [row for row in _emulator(local_stack, "/records/Contact") if row.get("Hub_Id__c") == contact]

    # Fixed in the hub: the account goes, and its parked contact right after it.
    fixed = _api(
        local_stack, "PATCH", f"/records/Account/{account}", {"phone": "+1 212 555 0100"}, **{"If-Match": '"1"'}
    )
    assert fixed.status_code == 200, fixed.text

    account_id = _synchronized(local_stack, "Account", account)["external_ref"]
    contact_status = _synchronized(local_stack, "Contact", contact)
    salesforce_contact = _salesforce_record(local_stack, "Contact", contact_status["external_ref"])
    assert (salesforce_contact["Hub_Id__c"], salesforce_contact["AccountId"]) == (contact, account_id)
