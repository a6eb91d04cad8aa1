"""Cases with Salesforce Case, through the engine in-process (moto, the emulator, the template's functions and event
sources): the export carries the status map's Status and the hub's status and reason (never IsClosed or
ClosedDate), the value maps and the links; a status change made by a Salesforce user arrives as the workflow's
action with its effects, as the sync's own write; one the workflow does not allow changes nothing and is held as a
workflow conflict until the hub's state goes back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sync_core.domain.cases.salesforce_case import CaseSalesforceSettings
from sync_core.domain.entities import EntityName
from sync_core.domain.error_log import ErrorDirection, ErrorStatus, error_id
from sync_core.domain.sync.policy import ConflictPolicy
from sync_core.domain.sync_config import EntitySyncConfig
from sync_core.domain.sync_state import SyncOperation
from tests.support.change_events import change_from_event
from tests.support.engine import Engine, running_engine
from tests.support.waiting import wait_until

SUPPORT = {"class_id": "SUPPORT", "billable": False, "resolution_hours": 48}


@pytest.fixture
def engine() -> Iterator[Engine]:
    with running_engine() as running:
        yield running


def _config_store(engine: Engine) -> Any:
    from sync_core.adapters.aws import dynamodb_client
    from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore

    return DynamoSyncConfigStore(dynamodb_client(), sync_config_table=engine.environment["SYNC_CONFIG_TABLE"])


def _error_log(engine: Engine) -> Any:
    from sync_core.adapters.aws import dynamodb_client
    from sync_core.adapters.dynamodb.error_log import DynamoErrorLog

    return DynamoErrorLog(dynamodb_client(), error_log_table=engine.environment["ERROR_LOG_TABLE"])


def _setup(engine: Engine) -> dict[str, str]:
    assert engine.cases("PUT", "/cases/settings/classes/SUPPORT", body=SUPPORT).status == 200
    account = engine.api("POST", "/records/Account", body={"name": "Acme"}).body["id"]
    contact = engine.api("POST", "/records/Contact", body={"last_name": "Kowalski", "account_id": account}).body["id"]
    engine.drain()
    return {"account": account, "contact": contact}


def _new_case(engine: Engine, refs: dict[str, str], **fields: Any) -> str:
    body = {"subject": "Label printer jams", "class_id": "SUPPORT", "account_id": refs["account"], **fields}
    answer = engine.cases("POST", "/cases", body=body)
    assert answer.status == 201, answer.body
    engine.drain()
    return str(answer.body["id"])


def _act(engine: Engine, case_id: str, action: str, reason: str | None = None) -> None:
    body = {"action": action, **({"reason": reason} if reason else {})}
    answer = engine.cases("POST", f"/cases/{case_id}/transitions", body=body)
    assert answer.status == 200, answer.body
    engine.drain()


def _salesforce_case(engine: Engine, case_id: str) -> dict[str, Any]:
    [row] = [row for row in engine.emulator.records("Case") if row["Hub_Id__c"] == case_id]
    return row


def _case(engine: Engine, case_id: str) -> dict[str, Any]:
    return dict(engine.cases("GET", f"/cases/{case_id}").body)


def _sync_status(engine: Engine, case_id: str) -> dict[str, Any]:
    return dict(engine.api("GET", f"/records/Case/{case_id}/sync-status").body)


def _salesforce_user_sets(engine: Engine, salesforce_id: str, **fields: Any) -> None:
    """A Salesforce user edits the Case; its change event goes to the sync queue, as Event Relay delivers it."""
    seen = len(engine.emulator.cdc_events())
    assert engine.emulator.user_change("update", "Case", salesforce_id, fields)["success"]

    def delivered() -> list[dict[str, Any]] | None:
        events = [
            event
            for event in engine.emulator.cdc_events()[seen:]
            if salesforce_id in event["detail"]["payload"]["ChangeEventHeader"]["recordIds"]
        ]
        return events or None

    events = wait_until(delivered)
    engine.put_inbound(*(change_from_event(event, EntityName.CASE) for event in events))
    engine.drain()


def test_a_case_moved_through_the_workflow_shows_the_mapped_status_in_salesforce_at_each_step(engine: Engine) -> None:
    refs = _setup(engine)
    owner_id = engine.emulator.config.user_id
    _config_store(engine).put(
        EntitySyncConfig(entity=EntityName.CASE, case=CaseSalesforceSettings(owner_map={"alice": owner_id}))
    )
    case_id = _new_case(engine, refs, priority="High", origin="Portal", details="Jams on every label", owner="alice")
    row = _salesforce_case(engine, case_id)
    accounts = {r["Hub_Id__c"]: r["Id"] for r in engine.emulator.records("Account")}
    contacts = {r["Hub_Id__c"]: r["Id"] for r in engine.emulator.records("Contact")}
    assert (row["Status"], row["Hub_Status__c"], row["Hub_Status_Reason__c"]) == ("New", "New", "Unassigned")
    assert (row["Subject"], row["Description"], row["Priority"], row["Origin"]) == (
        "Label printer jams",
        "Jams on every label",
        "High",
        "Web",  # a default org has no Portal origin
    )
    assert row["AccountId"] == accounts[refs["account"]]
    assert row["ContactId"] == contacts[refs["contact"]]  # the account's only contact, defaulted
    assert row["OwnerId"] == owner_id
    assert _sync_status(engine, case_id)["status"] == "Synchronized"

    steps = [
        ("open", "In Process", "Working", "Open"),
        ("pending-customer", "Waiting Confirmation", "Working", "Pending Customer"),
        ("close", "Resolved", "Closed", "Closed"),
        ("release", None, "Closed", "Released"),
    ]
    for action, reason, salesforce_status, hub_status in steps:
        _act(engine, case_id, action, reason)
        row = _salesforce_case(engine, case_id)
        assert (row["Status"], row["Hub_Status__c"]) == (salesforce_status, hub_status), action
        assert row["IsClosed"] is (hub_status in ("Closed", "Released"))
        assert _sync_status(engine, case_id)["status"] == "Synchronized"
    assert _salesforce_case(engine, case_id)["Hub_Status_Reason__c"] == "Resolved"


def test_a_valid_status_change_in_salesforce_arrives_as_that_action_with_its_effects(engine: Engine) -> None:
    refs = _setup(engine)
    case_id = _new_case(engine, refs)
    _act(engine, case_id, "open", "In Process")
    salesforce_id = _salesforce_case(engine, case_id)["Id"]

    _salesforce_user_sets(engine, salesforce_id, Status="Closed")
    case = _case(engine, case_id)
    row = _salesforce_case(engine, case_id)
    assert (case["fields"]["status"], case["fields"]["reason"]) == ("Closed", "Resolved")
    assert case["fields"]["active"] is False  # Close clears Active
    closed_at = datetime.fromisoformat(case["fields"]["closing_date"])
    assert closed_at == datetime.fromisoformat(row["ClosedDate"])  # Salesforce's ClosedDate is the closing date
    assert case["updated_by"] == "sync:salesforce"
    assert _sync_status(engine, case_id)["status"] == "Synchronized"
    # The sync's own write is not exported back: the Case still shows the hub status the hub last sent.
    assert row["Hub_Status__c"] == "Open"

    # Reopened in Salesforce as Escalated: Open / In Escalation, active again, no closing date.
    _salesforce_user_sets(engine, salesforce_id, Status="Escalated")
    fields = _case(engine, case_id)["fields"]
    assert (fields["status"], fields["reason"], fields["active"]) == ("Open", "In Escalation", True)
    assert fields.get("closing_date") is None

    # A reason written with the status is the one the action takes.
    _salesforce_user_sets(engine, salesforce_id, Status="Closed", Hub_Status_Reason__c="Duplicate")
    assert _case(engine, case_id)["fields"]["reason"] == "Duplicate"


def test_an_invalid_status_change_in_salesforce_is_a_workflow_conflict_and_changes_nothing(engine: Engine) -> None:
    refs = _setup(engine)
    case_id = _new_case(engine, refs)
    for action, reason in (("open", "In Process"), ("close", "Resolved"), ("release", None)):
        _act(engine, case_id, action, reason)
    before = _case(engine, case_id)
    salesforce_id = _salesforce_case(engine, case_id)["Id"]

    _salesforce_user_sets(engine, salesforce_id, Status="Working")
    after = _case(engine, case_id)
    assert after["fields"] == before["fields"] and after["version"] == before["version"]
    status = _sync_status(engine, case_id)
    assert status["status"] == "Error"
    entry = _error_log(engine).get(
        error_id(EntityName.CASE, case_id, ErrorDirection.FROM_SALESFORCE, SyncOperation.UPDATE)
    )
    assert entry is not None and entry.code == "WORKFLOW_CONFLICT" and entry.status is ErrorStatus.OPEN
    assert "Released" in entry.message and "'Working'" in entry.message and "allowed actions: none" in entry.message
    assert entry.payload["attempted"] == {"Status": "Working"}
    assert entry.payload["allowed_actions"] == []
    assert status["error"] == entry.message

    # Pushing the hub's state back to Salesforce resolves it: an administrator's resync exports the case.
    from sync_core.domain.sync.changes import ChangeSource, export_change

    stamp = datetime.now(UTC)
    request = export_change(EntityName.CASE, case_id, after["version"], source=ChangeSource.ADMIN, stamp=stamp)
    engine.sqs.send_message(QueueUrl=engine.queue_url("ExportQueue"), MessageBody=request.model_dump_json())
    engine.drain()
    assert _salesforce_case(engine, case_id)["Status"] == "Closed"
    assert _sync_status(engine, case_id)["status"] == "Synchronized"
    resolved = _error_log(engine).get(entry.id)
    assert resolved is not None and resolved.status is ErrorStatus.RESOLVED


def test_a_reason_the_target_status_does_not_allow_is_a_workflow_conflict(engine: Engine) -> None:
    refs = _setup(engine)
    case_id = _new_case(engine, refs)
    _act(engine, case_id, "open", "In Process")
    salesforce_id = _salesforce_case(engine, case_id)["Id"]
    _salesforce_user_sets(engine, salesforce_id, Status="Closed", Hub_Status_Reason__c="Waiting Confirmation")
    assert (_case(engine, case_id)["fields"]["status"]) == "Open"
    status = _sync_status(engine, case_id)
    assert status["status"] == "Error"
    assert "Waiting Confirmation" in status["error"] and "allowed actions: close" in status["error"]


def _events_of(engine: Engine, salesforce_id: str, **fields: Any) -> list[Any]:
    """A Salesforce user's edit of the Case, as the changes its change events bring (not queued yet)."""
    seen = len(engine.emulator.cdc_events())
    assert engine.emulator.user_change("update", "Case", salesforce_id, fields)["success"]

    def delivered() -> list[dict[str, Any]] | None:
        events = [
            event
            for event in engine.emulator.cdc_events()[seen:]
            if salesforce_id in event["detail"]["payload"]["ChangeEventHeader"]["recordIds"]
        ]
        return events or None

    return [change_from_event(event, EntityName.CASE) for event in wait_until(delivered)]


def test_status_changes_of_one_case_apply_in_order_a_late_older_one_changes_nothing(engine: Engine) -> None:
    refs = _setup(engine)
    case_id = _new_case(engine, refs)
    salesforce_id = _salesforce_case(engine, case_id)["Id"]
    working = _events_of(engine, salesforce_id, Status="Working")
    escalated = _events_of(engine, salesforce_id, Status="Escalated")
    engine.put_inbound(*escalated, *working)  # the older change delivered late
    engine.drain()
    fields = _case(engine, case_id)["fields"]
    assert (fields["status"], fields["reason"]) == ("Open", "In Escalation")


def _changed_on_both_sides(engine: Engine, policy: ConflictPolicy) -> tuple[str, str]:
    refs = _setup(engine)
    config = _config_store(engine).get(EntityName.CASE)
    _config_store(engine).put(config.model_copy(update={"conflict_policy": policy}))
    case_id = _new_case(engine, refs)
    _act(engine, case_id, "open", "In Process")
    salesforce_id = _salesforce_case(engine, case_id)["Id"]
    # The hub edits the case (not exported yet) and a Salesforce user closes it meanwhile.
    version = _case(engine, case_id)["version"]
    patched = engine.cases(
        "PATCH", f"/cases/{case_id}", body={"subject": "Edited in the hub"}, headers={"If-Match": f'"{version}"'}
    )
    assert patched.status == 200, patched.body
    engine.put_inbound(*_events_of(engine, salesforce_id, Status="Closed"))
    engine.imports.poll_once()  # the import runs before the hub's edit is exported
    return case_id, salesforce_id


def test_a_case_changed_on_both_sides_follows_the_manual_conflict_policy(engine: Engine) -> None:
    case_id, _ = _changed_on_both_sides(engine, ConflictPolicy.MANUAL)
    fields = _case(engine, case_id)["fields"]
    assert (fields["status"], fields["subject"]) == ("Open", "Edited in the hub")
    entry = _error_log(engine).get(
        error_id(EntityName.CASE, case_id, ErrorDirection.FROM_SALESFORCE, SyncOperation.UPDATE)
    )
    assert entry is not None and entry.code == "CONFLICT"
    assert _sync_status(engine, case_id)["status"] == "Error"


def test_a_case_changed_on_both_sides_where_salesforce_is_newer_closes_and_keeps_the_hubs_edit(
    engine: Engine,
) -> None:
    case_id, _ = _changed_on_both_sides(engine, ConflictPolicy.NEWEST_WINS)
    fields = _case(engine, case_id)["fields"]
    assert (fields["status"], fields["subject"]) == ("Closed", "Edited in the hub")
    engine.drain()  # the merged case goes to Salesforce
    row = _salesforce_case(engine, case_id)
    assert (row["Status"], row["Hub_Status__c"], row["Subject"]) == ("Closed", "Closed", "Edited in the hub")
    assert _sync_status(engine, case_id)["status"] == "Synchronized"
