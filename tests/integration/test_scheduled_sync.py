"""The scheduled sync through its handler (the one-minute tick, as EventBridge delivers it) with moto and the
Salesforce emulator (tests/support/engine.py): pulls of the due entities, parents first, applied by the sync
worker; deletions; the lease; the watermark that moves only over queued work; pull requests; Bulk API 2.0 above
the threshold; pushes of waiting hub records; and the DynamoDB calls it makes, held equal to its role."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from benchmarks.moto_speedups import faster_moto
from local.runtime import LocalFunction
from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
from sync_core.adapters.dynamodb.pulls import DynamoPullRequests
from sync_core.adapters.dynamodb.schedules import DynamoScheduleLedger
from sync_core.adapters.sqs.change_queue import SqsChangeQueue
from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change
from sync_core.domain.sync_config import EntitySyncConfig
from tests.integration.test_least_privilege import DynamoCallRecorder, _physical_tables
from tests.support.engine import Engine, running_engine
from tools.template_info import dynamodb_grants

# A weekly slot two days from today: the test never crosses it, so an entity that ran is not due again.
WEEKLY = {"kind": "weekly", "at": "12:00", "weekday": (datetime.now(UTC).weekday() + 2) % 7}


@pytest.fixture
def engine() -> Iterator[Engine]:
    with running_engine() as running:
        yield running


def _configure(engine: Engine, entity: EntityName, **fields: Any) -> None:
    store = DynamoSyncConfigStore(dynamodb_client(), sync_config_table=engine.environment["SYNC_CONFIG_TABLE"])
    store.put(EntitySyncConfig.model_validate({"entity": entity.value, **fields}))


def _ledger(engine: Engine) -> DynamoScheduleLedger:
    return DynamoScheduleLedger(dynamodb_client(), sync_state_table=engine.environment["SYNC_STATE_TABLE"])


def _time_passes(engine: Engine, entity: EntityName) -> None:
    """As if the entity's schedule fired again since its last run (its last run set back a year)."""
    dynamodb_client().update_item(
        TableName=engine.environment["SYNC_STATE_TABLE"],
        Key={"pk": {"S": "SCHEDULE"}, "sk": {"S": entity.value}},
        UpdateExpression="SET last_run = :long_ago",
        ExpressionAttributeValues={":long_ago": {"S": "2025-01-01T00:00:00.000000+00:00"}},
    )


def _settings(monkeypatch: pytest.MonkeyPatch, engine: Engine, **variables: str) -> None:
    """Function settings for the next tick (a new container: the handler builds its service again)."""
    from sync_core.config import get_settings

    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    engine.functions["ScheduledSyncFunction"].handler()  # imported
    import functions.scheduled_sync.app as app

    app._service.cache_clear()


def _ran(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["entity"]: entry for entry in report["entities"]}


def _hub(engine: Engine, entity: str, salesforce_id: str) -> dict[str, Any] | None:
    items = engine.api("GET", f"/records/{entity}", query={"salesforce_id": salesforce_id}).body["items"]
    return items[0] if items else None


def _queued(engine: Engine, queue: str) -> int:
    attributes = engine.sqs.get_queue_attributes(
        QueueUrl=engine.environment[queue], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_a_tick_pulls_the_due_entities_parents_first_and_the_workers_apply_them(engine: Engine) -> None:
    [account] = engine.emulator.seed("Account", [{"Name": "Pulled Ltd", "BillingCity": "Leeds"}])
    [contact] = engine.emulator.seed(
        "Contact", [{"LastName": "Pulled", "Email": "p@pulled.test", "AccountId": account}]
    )
    for entity in (EntityName.CONTACT, EntityName.ACCOUNT):
        _configure(engine, entity, schedule=WEEKLY)

    report = engine.tick()

    assert [entry["entity"] for entry in report["entities"]] == ["Account", "Contact"]
    for entry in report["entities"]:
        assert (entry["reason"], entry["via"], entry["pulled"], entry["complete"]) == ("schedule", "rest", 1, True)
    assert _queued(engine, "SYNC_QUEUE_URL") == 2
    engine.drain()
    hub_account, hub_contact = _hub(engine, "Account", account), _hub(engine, "Contact", contact)
    assert hub_account is not None and hub_contact is not None
    assert hub_account["fields"]["billing_address"]["city"] == "Leeds"
    assert hub_contact["fields"]["account_id"] == hub_account["id"]  # under its account
    status = engine.api("GET", f"/records/Contact/{hub_contact['id']}/sync-status").body
    assert (status["status"], status["external_ref"]) == ("Synchronized", contact)
    runs = _ledger(engine).runs()
    assert runs[EntityName.ACCOUNT].watermark is not None and not runs[EntityName.ACCOUNT].catching_up

    # Not due again until its next slot: the tick does nothing, and asks Salesforce nothing.
    engine.emulator.reset_counters()
    assert engine.tick()["entities"] == []
    assert engine.emulator.counters()["api_calls_total"] == 0


def test_a_scheduled_run_pulls_an_edit_and_a_deletion_and_repeats_nothing(engine: Engine) -> None:
    [account] = engine.emulator.seed("Account", [{"Name": "Edited Ltd"}])
    [lead] = engine.emulator.seed("Lead", [{"LastName": "Gone", "Company": "Gone Ltd"}])
    _configure(engine, EntityName.ACCOUNT, schedule=WEEKLY)
    _configure(engine, EntityName.LEAD, schedule=WEEKLY, delete_policy="delete in hub")
    engine.tick()
    engine.drain()
    hub_lead = _hub(engine, "Lead", lead)
    assert hub_lead is not None

    engine.emulator.advance_clock(2)  # a later SystemModstamp (a second's resolution) than the seed's
    engine.emulator.user_change("update", "Account", account, {"Phone": "+31 10 123 4567"})
    engine.emulator.user_change("delete", "Lead", lead)
    for entity in (EntityName.ACCOUNT, EntityName.LEAD):
        _time_passes(engine, entity)
    report = _ran(engine.tick())
    drained = engine.drain()

    assert report["Lead"]["deleted"] == 1
    hub_account = _hub(engine, "Account", account)
    assert hub_account is not None and hub_account["fields"]["phone"] == "+31 10 123 4567"
    assert engine.api("GET", f"/records/Lead/{hub_lead['id']}").status == 404  # the entity's delete policy
    assert drained.failures.get("SyncWorkerFunction", 0) == 0

    # The next run reads the overlap window again: its repeats change nothing (no hub write, no export).
    _time_passes(engine, EntityName.ACCOUNT)
    engine.tick()
    version = engine.api("GET", f"/records/Account/{hub_account['id']}").body["version"]
    again = engine.drain()
    assert engine.api("GET", f"/records/Account/{hub_account['id']}").body["version"] == version
    assert again.messages.get("ExportWorkerFunction", 0) == 0


def test_a_run_that_finds_another_still_going_leaves_the_entity_alone(engine: Engine) -> None:
    engine.emulator.seed("Account", [{"Name": "Leased"}])
    _configure(engine, EntityName.ACCOUNT, schedule=WEEKLY)
    now = datetime.now(UTC)
    assert _ledger(engine).acquire(EntityName.ACCOUNT, owner="other run", now=now, until=now + timedelta(minutes=5))

    [entry] = engine.tick()["entities"]

    assert (entry["entity"], entry["ran"], entry["pulled"]) == ("Account", False, 0)
    assert _queued(engine, "SYNC_QUEUE_URL") == 0
    assert _ledger(engine).runs()[EntityName.ACCOUNT].last_run is None  # still due: the next tick tries again


def test_the_watermark_moves_only_after_the_work_is_queued(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    [account] = engine.emulator.seed("Account", [{"Name": "Refused once"}])
    _configure(engine, EntityName.ACCOUNT, schedule=WEEKLY)
    send = SqsChangeQueue.send
    sync_queue = engine.environment["SYNC_QUEUE_URL"]

    def refusing(queue: SqsChangeQueue, changes: Any) -> list[Change]:
        return list(changes) if queue._queue_url == sync_queue else send(queue, changes)

    monkeypatch.setattr(SqsChangeQueue, "send", refusing)
    [entry] = engine.tick()["entities"]
    assert (entry["pulled"], entry["refused"], entry["complete"], entry["watermark"]) == (0, 1, False, None)
    run = _ledger(engine).runs()[EntityName.ACCOUNT]
    assert (run.watermark, run.last_run, run.catching_up) == (None, None, True)

    monkeypatch.setattr(SqsChangeQueue, "send", send)
    [entry] = engine.tick()["entities"]  # catching up at the next tick, whatever the schedule says
    assert (entry["reason"], entry["pulled"], entry["complete"]) == ("catching up", 1, True)
    engine.drain()
    assert _hub(engine, "Account", account) is not None


def test_a_pull_request_is_honoured_for_an_entity_without_a_schedule_and_cleared(engine: Engine) -> None:
    [lead] = engine.emulator.seed("Lead", [{"LastName": "Missed", "Company": "Gap Ltd"}])
    pulls = DynamoPullRequests(dynamodb_client(), sync_state_table=engine.environment["SYNC_STATE_TABLE"])
    pulls.request(EntityName.LEAD, reason="change events lost: GAP_OVERFLOW", at=datetime.now(UTC) - timedelta(hours=1))

    [entry] = engine.tick()["entities"]

    assert (entry["entity"], entry["reason"], entry["pulled"], entry["complete"]) == ("Lead", "pull request", 1, True)
    assert pulls.pending() == []
    engine.drain()
    assert _hub(engine, "Lead", lead) is not None
    assert engine.tick()["entities"] == []  # nothing more to do for it


def test_above_the_threshold_a_pull_is_one_bulk_api_query(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.emulator.seed("Product2", [{"Name": f"Bulk {n}", "ProductCode": f"B-{n:05d}"} for n in range(2_100)])
    _configure(engine, EntityName.PRODUCT, schedule=WEEKLY)
    _settings(monkeypatch, engine, PULL_BULK_THRESHOLD="1000")
    engine.emulator.reset_counters()

    with faster_moto():  # moto's SQS counts a queue's messages for every message sent: quadratic in a burst
        [entry] = engine.tick()["entities"]

    assert (entry["via"], entry["pulled"], entry["complete"]) == ("bulk", 2_100, True)
    assert _queued(engine, "SYNC_QUEUE_URL") == 2_100
    # The first REST page (it told the size), the describe that types the CSV, and the Bulk API 2.0 job.
    assert engine.emulator.counters()["api_calls_total"] <= 10


def test_waiting_hub_records_are_pushed_to_the_export_queue(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _configure(engine, EntityName.ACCOUNT, schedule=WEEKLY)
    _settings(monkeypatch, engine, PUSH_GRACE_SECONDS="0")
    waiting = engine.api("POST", "/records/Account", body={"name": "Waiting"}).body["id"]  # the stream not run

    [entry] = engine.tick()["entities"]

    assert entry["pushed"] == 1
    [request] = engine.take_messages(engine.environment["EXPORT_QUEUE_URL"])
    assert (request["hub_id"], request["source"], request["direction"]) == (waiting, "schedule", "to Salesforce")


def test_the_scheduled_sync_calls_dynamodb_only_as_its_role_allows(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = DynamoCallRecorder(_physical_tables(engine.environment))
    invoke = LocalFunction.invoke
    recording = {"on": False}

    def attributed(function: LocalFunction, event: Any) -> Any:
        recording["on"] = function.name == "ScheduledSyncFunction"
        try:
            return invoke(function, event)
        finally:
            recording["on"] = False

    dynamodb_client().meta.events.register(
        "provide-client-params.dynamodb.*", lambda **kwargs: recorder(**kwargs) if recording["on"] else None
    )
    monkeypatch.setattr(LocalFunction, "invoke", attributed)
    _settings(monkeypatch, engine, PUSH_GRACE_SECONDS="0")
    engine.emulator.seed("Account", [{"Name": "Recorded"}])
    _configure(engine, EntityName.ACCOUNT, schedule=WEEKLY)
    engine.api("POST", "/records/Account", body={"name": "To push"})
    DynamoPullRequests(dynamodb_client(), sync_state_table=engine.environment["SYNC_STATE_TABLE"]).request(
        EntityName.LEAD, reason="GAP_OVERFLOW", at=datetime.now(UTC)
    )

    ran = _ran(engine.tick())
    assert ran["Account"]["pushed"] == 1 and ran["Lead"]["complete"]

    grants = dynamodb_grants("ScheduledSyncFunction")
    outside = [access for access in recorder.accesses if not any(grant.allows(*access) for grant in grants)]
    assert outside == [], "the scheduled sync calls DynamoDB beyond its role in template.yaml"
    used = {(table, index, action) for table, index, action, _ in recorder.accesses}
    granted = {(grant.table, grant.index, action) for grant in grants for action in grant.actions}
    assert granted - used == set(), "its role grants what its code never calls"
    assert os.environ["PUSH_GRACE_SECONDS"] == "0"
