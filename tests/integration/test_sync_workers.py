"""The sync engine's workers through their real interfaces: records API writes, the records stream, the export
queue and the FIFO sync queue driven by the template's event sources, against moto and the Salesforce
emulator (tests/support/engine.py). Failures are injected in the emulator (fault rules) and in DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_core.domain.entities import EntityName
from sync_core.domain.error_log import ErrorDirection, ErrorStatus, error_id
from sync_core.domain.sync_state import SyncOperation
from tests.support.change_events import inbound_account_change
from tests.support.engine import Engine, running_engine
from tests.support.faults import dynamodb_fails
from tests.support.logs import captured_logs

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def engine() -> Iterator[Engine]:
    with running_engine() as running:
        yield running


def _status(engine: Engine, entity: str, record_id: str) -> dict[str, Any]:
    answer = engine.api("GET", f"/records/{entity}/{record_id}/sync-status")
    assert answer.status == 200, answer.body
    return dict(answer.body)


def _in_salesforce(engine: Engine, sobject: str, hub_id: str) -> list[dict[str, Any]]:
    return [row for row in engine.emulator.records(sobject) if row.get("Hub_Id__c") == hub_id]


def _error_entry(
    engine: Engine, entity: EntityName, record_id: str, direction: ErrorDirection, operation: SyncOperation
):
    from sync_core.adapters.aws import dynamodb_client
    from sync_core.adapters.dynamodb.error_log import DynamoErrorLog

    log = DynamoErrorLog(dynamodb_client(), error_log_table=engine.environment["ERROR_LOG_TABLE"])
    return log.get(error_id(entity, record_id, direction, operation))


# ---------------------------------------------------------------- export (hub -> Salesforce)
def test_a_hub_write_is_exported_and_the_record_synchronized(engine: Engine) -> None:
    account = engine.api("POST", "/records/Account", body={"name": "Acme", "industry": "Energy"}).body["id"]

    with captured_logs() as lines:
        engine.drain()

    status = _status(engine, "Account", account)
    [row] = _in_salesforce(engine, "Account", account)
    assert (status["status"], status["external_ref"]) == ("Synchronized", row["Id"])
    assert (row["Name"], row["Industry"]) == ("Acme", "Energy")
    exported = [line for line in lines if line["message"] == "exported"]
    assert [(line["entity"], line["record_id"]) for line in exported] == [("Account", account)]
    assert all(line["function_name"] == "ExportWorkerFunction" for line in exported)


def test_the_syncs_own_export_result_is_not_exported_again(engine: Engine) -> None:
    engine.api("POST", "/records/Account", body={"name": "Once"})
    engine.drain()
    engine.emulator.reset_counters()

    report = engine.drain()

    assert report.messages["ExportWorkerFunction"] == 0
    assert engine.emulator.counters()["api_calls_total"] == 0


def test_requests_naming_one_record_many_times_export_it_once_and_all_are_done(engine: Engine) -> None:
    account = engine.api("POST", "/records/Account", body={"name": "Busy"}).body["id"]
    for phone in ("1", "2", "3"):
        version = engine.api("GET", f"/records/Account/{account}").body["version"]
        engine.api("PATCH", f"/records/Account/{account}", body={"phone": phone}, headers={"If-Match": f'"{version}"'})
        engine.run_stream()  # one request per stream batch: three batches, three requests
    engine.emulator.reset_counters()

    report = engine.drain()

    assert report.messages["ExportWorkerFunction"] == 3
    assert report.failures["ExportWorkerFunction"] == 0
    [row] = _in_salesforce(engine, "Account", account)
    assert row["Phone"] == "3"
    calls = engine.emulator.counters()["api_calls"]
    assert calls.get("collections", 0) + calls.get("composite", 0) == 1  # one upsert of one row


def test_a_contact_whose_account_cannot_be_exported_waits_then_goes_when_the_account_links(engine: Engine) -> None:
    engine.emulator.add_fault(
        scope="record",
        kind="collections",
        status=400,
        error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
        message="Accounts need a region",
        count=1,
    )
    account = engine.api("POST", "/records/Account", body={"name": "Parent"}).body["id"]
    engine.drain()
    assert _status(engine, "Account", account)["status"] == "Error"
    contact = engine.api("POST", "/records/Contact", body={"last_name": "Child", "account_id": account}).body["id"]

    with captured_logs() as lines:
        engine.drain()

    assert [line["record_id"] for line in lines if line["message"] == "export parked"] == [contact]
    assert _status(engine, "Contact", contact)["external_ref"] is None
    assert _in_salesforce(engine, "Contact", contact) == []

    engine.api("PATCH", f"/records/Account/{account}", body={"phone": "+1 212 555 0100"}, headers={"If-Match": '"1"'})
    engine.drain()

    account_status, contact_status = _status(engine, "Account", account), _status(engine, "Contact", contact)
    assert (account_status["status"], contact_status["status"]) == ("Synchronized", "Synchronized")
    [row] = _in_salesforce(engine, "Contact", contact)
    assert row["AccountId"] == account_status["external_ref"]


def test_a_retryable_salesforce_failure_is_reported_as_a_batch_item_failure_and_retried(engine: Engine) -> None:
    # A 503 or an exhausted budget defers the whole write (parked until a run finds Salesforce again); a row
    # Salesforce refuses with a retryable error is the queue's to retry.
    engine.emulator.add_fault(scope="record", kind="collections", status=400, error_code="UNABLE_TO_LOCK_ROW", count=1)
    account = engine.api("POST", "/records/Account", body={"name": "Later"}).body["id"]

    report = engine.drain()

    assert report.failures["ExportWorkerFunction"] == 1
    assert _status(engine, "Account", account)["status"] == "Synchronized"
    assert len(_in_salesforce(engine, "Account", account)) == 1


def test_an_export_failing_every_attempt_goes_to_the_dead_letter_queue_and_its_error_entry_is_dead(
    engine: Engine,
) -> None:
    engine.emulator.add_fault(scope="record", kind="collections", status=400, error_code="UNABLE_TO_LOCK_ROW")
    account = engine.api("POST", "/records/Account", body={"name": "Never"}).body["id"]

    with captured_logs("ERROR") as lines:
        report = engine.drain()

    assert report.failures["ExportWorkerFunction"] == 5  # maxReceiveCount receives, then the DLQ
    [dead] = engine.take_messages(engine.queue_url("ExportDeadLetterQueue"))
    assert dead["hub_id"] == account
    status = _status(engine, "Account", account)
    assert status["status"] == "Error"
    entry = _error_entry(engine, EntityName.ACCOUNT, account, ErrorDirection.TO_SALESFORCE, SyncOperation.INSERT)
    assert entry is not None and entry.status is ErrorStatus.DEAD
    assert any(line["message"] == "exports dead-lettered" for line in lines)


def test_an_export_queue_message_that_is_no_export_request_is_logged_and_dead_lettered(engine: Engine) -> None:
    engine.sqs.send_message(QueueUrl=engine.queue_url("ExportQueue"), MessageBody='{"entity": "Account"}')

    with captured_logs("ERROR") as lines:
        report = engine.drain()

    assert report.failures["ExportWorkerFunction"] == 5
    [dead] = engine.take_messages(engine.queue_url("ExportDeadLetterQueue"))
    assert dead == {"entity": "Account"}
    assert {line["message"] for line in lines} == {
        "export queue message is not an export request; after its retries it goes to the dead-letter queue"
    }


# ---------------------------------------------------------------- import (Salesforce -> hub)
def test_an_inbound_change_of_a_new_salesforce_record_makes_one_hub_record_even_delivered_twice(
    engine: Engine,
) -> None:
    [salesforce_id] = engine.emulator.seed("Account", [{"Name": "From Salesforce"}])
    change = inbound_account_change(salesforce_id, "tx-1:1", NOW, Name="From Salesforce", Phone="+44 20 7946 0000")
    engine.put_inbound(change)
    engine.sqs.send_message(  # a redelivery after SQS's deduplication window: same change, new message
        QueueUrl=engine.environment["SYNC_QUEUE_URL"],
        MessageBody=change.model_dump_json(),
        MessageGroupId=change.message_group_id,
        MessageDeduplicationId="redelivered",
    )

    with captured_logs() as lines:
        report = engine.drain()

    assert report.messages["SyncWorkerFunction"] == 2
    page = engine.api("GET", "/records/Account", query={"salesforce_id": salesforce_id}).body
    [record] = page["items"]
    assert (record["fields"]["name"], record["fields"]["phone"]) == ("From Salesforce", "+44 20 7946 0000")
    status = _status(engine, "Account", record["id"])
    assert (status["status"], status["external_ref"]) == ("Synchronized", salesforce_id)
    outcomes = [line["outcome"] for line in lines if line.get("change_id") == "tx-1:1" and "outcome" in line]
    assert outcomes[0] == "created" and len(outcomes) == 2 and outcomes[1] != "created"
    assert report.messages["ExportWorkerFunction"] == 0  # the sync's own write is not exported back


def test_a_change_queued_twice_within_the_deduplication_window_is_delivered_once(engine: Engine) -> None:
    [salesforce_id] = engine.emulator.seed("Account", [{"Name": "Queued twice"}])
    change = inbound_account_change(salesforce_id, "tx-dup:1", NOW, Name="Queued twice")

    engine.put_inbound(change, change)  # a producer retrying its send: same group, same deduplication id
    report = engine.drain()

    assert report.messages["SyncWorkerFunction"] == 1


def test_an_inbound_change_updates_the_linked_hub_record(engine: Engine) -> None:
    account = engine.api("POST", "/records/Account", body={"name": "Acme"}).body["id"]
    engine.drain()
    salesforce_id = _status(engine, "Account", account)["external_ref"]

    engine.put_inbound(
        inbound_account_change(salesforce_id, "tx-2:1", datetime.now(UTC) + timedelta(seconds=5), Phone="555")
    )
    engine.drain()

    assert engine.api("GET", f"/records/Account/{account}").body["fields"]["phone"] == "555"
    assert _status(engine, "Account", account)["status"] == "Synchronized"


def test_an_inbound_change_failing_every_attempt_is_dead_lettered_with_a_dead_error_entry(engine: Engine) -> None:
    [salesforce_id] = engine.emulator.seed("Account", [{"Name": "Throttled"}])
    engine.put_inbound(inbound_account_change(salesforce_id, "tx-3:1", NOW, Name="Throttled"))

    with dynamodb_fails("TransactWriteItems", "ProvisionedThroughputExceededException", times=1000):
        report = engine.drain()

    assert report.failures["SyncWorkerFunction"] == 5
    [dead] = engine.take_messages(engine.queue_url("SyncDeadLetterQueue"))
    assert dead["change_id"] == "tx-3:1"
    entry = _error_entry(
        engine, EntityName.ACCOUNT, f"sf:{salesforce_id}", ErrorDirection.FROM_SALESFORCE, SyncOperation.INSERT
    )
    assert entry is not None and entry.status is ErrorStatus.DEAD


def test_a_sync_queue_message_that_is_no_change_is_logged_and_dead_lettered(engine: Engine) -> None:
    engine.sqs.send_message(
        QueueUrl=engine.environment["SYNC_QUEUE_URL"],
        MessageBody="not json",
        MessageGroupId="g",
        MessageDeduplicationId="d",
    )

    with captured_logs("ERROR") as lines:
        report = engine.drain()

    assert report.failures["SyncWorkerFunction"] == 5
    [dead] = engine.sqs.receive_message(QueueUrl=engine.queue_url("SyncDeadLetterQueue"))["Messages"]
    assert dead["Body"] == "not json"
    messages = {line["message"] for line in lines}
    assert "sync queue message is not a change; after its retries it goes to the dead-letter queue" in messages


# ---------------------------------------------------------------- found by the convergence test
def test_a_record_created_in_salesforce_then_edited_in_the_hub_updates_that_record_not_a_second_one(
    engine: Engine,
) -> None:
    [salesforce_id] = engine.emulator.seed("Account", [{"Name": "Born in Salesforce"}])
    engine.put_inbound(inbound_account_change(salesforce_id, "born:1", NOW, Name="Born in Salesforce"))
    engine.drain()
    [record] = engine.api("GET", "/records/Account", query={"salesforce_id": salesforce_id}).body["items"]

    engine.api("PATCH", f"/records/Account/{record['id']}", body={"phone": "555"}, headers={"If-Match": '"1"'})
    engine.drain()

    rows = [row for row in engine.emulator.records("Account") if row["Name"] == "Born in Salesforce"]
    assert [(row["Id"], row["Phone"], row["Hub_Id__c"]) for row in rows] == [(salesforce_id, "555", record["id"])]
    assert _status(engine, "Account", record["id"])["status"] == "Synchronized"


def test_an_export_sends_only_what_the_hub_changed_so_a_salesforce_users_edit_meanwhile_is_kept(
    engine: Engine,
) -> None:
    account = engine.api("POST", "/records/Account", body={"name": "Both edit"}).body["id"]
    engine.drain()
    salesforce_id = _status(engine, "Account", account)["external_ref"]
    engine.emulator.user_change("update", "Account", salesforce_id, {"Description": "set in Salesforce"})

    engine.api("PATCH", f"/records/Account/{account}", body={"phone": "555"}, headers={"If-Match": '"1"'})
    engine.drain()  # the hub's export goes before the user's change event arrives

    [row] = _in_salesforce(engine, "Account", account)
    assert (row["Phone"], row["Description"]) == ("555", "set in Salesforce")
    stamp = datetime.now(UTC) + timedelta(seconds=5)
    engine.put_inbound(inbound_account_change(salesforce_id, "user:1", stamp, Description="set in Salesforce"))
    engine.drain()
    fields = engine.api("GET", f"/records/Account/{account}").body["fields"]
    assert (fields["phone"], fields["description"]) == ("555", "set in Salesforce")


def test_a_conflict_the_hub_wins_exports_the_hubs_side_again(engine: Engine) -> None:
    from sync_core.adapters.aws import dynamodb_client
    from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
    from sync_core.domain.sync.policy import ConflictPolicy
    from sync_core.domain.sync_config import EntitySyncConfig

    configs = DynamoSyncConfigStore(dynamodb_client(), sync_config_table=engine.environment["SYNC_CONFIG_TABLE"])
    configs.put(EntitySyncConfig(entity=EntityName.ACCOUNT, conflict_policy=ConflictPolicy.HUB_WINS))
    account = engine.api("POST", "/records/Account", body={"name": "Hub wins", "phone": "1"}).body["id"]
    engine.drain()
    salesforce_id = _status(engine, "Account", account)["external_ref"]
    # The hub's edit is refused by Salesforce for good (Error): nothing would export it again by itself.
    engine.emulator.add_fault(
        scope="record", kind="collections", status=400, error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION", count=1
    )
    engine.api("PATCH", f"/records/Account/{account}", body={"phone": "hub"}, headers={"If-Match": '"1"'})
    engine.drain()
    assert _status(engine, "Account", account)["status"] == "Error"
    # A Salesforce user edits the same field: a conflict, which the hub wins by policy.
    engine.emulator.user_change("update", "Account", salesforce_id, {"Phone": "salesforce"})
    engine.put_inbound(
        inbound_account_change(salesforce_id, "user:2", datetime.now(UTC) + timedelta(seconds=5), Phone="salesforce")
    )

    with captured_logs() as lines:
        engine.drain()

    assert "export queued: the hub's side of the conflict goes to Salesforce" in [line["message"] for line in lines]
    [row] = _in_salesforce(engine, "Account", account)
    assert row["Phone"] == "hub" and engine.api("GET", f"/records/Account/{account}").body["fields"]["phone"] == "hub"
    assert _status(engine, "Account", account)["status"] == "Synchronized"


def test_an_edit_event_of_a_salesforce_record_the_hub_does_not_have_yet_waits_for_its_create(engine: Engine) -> None:
    """Change events arrive out of order: an edit naming only Phone cannot create the record (no Name). It waits
    in DynamoDB, not in the error log, and applies once the record's create has linked it."""
    [salesforce_id] = engine.emulator.seed("Account", [{"Name": "Late create", "Phone": "555"}])
    engine.put_inbound(inbound_account_change(salesforce_id, "late:2", NOW + timedelta(seconds=1), Phone="555"))
    with captured_logs() as lines:
        engine.drain()
    assert [line["outcome"] for line in lines if "outcome" in line] == ["parked"]

    engine.put_inbound(inbound_account_change(salesforce_id, "late:1", NOW, Name="Late create"))
    engine.drain()

    [record] = engine.api("GET", "/records/Account", query={"salesforce_id": salesforce_id}).body["items"]
    assert (record["fields"]["name"], record["fields"]["phone"]) == ("Late create", "555")
