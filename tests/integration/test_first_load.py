"""First loads (Process All) over two populated sides, with moto and the Salesforce emulator
(tests/support/engine.py): records on both sides are matched (external id, then the entity's matching fields)
and linked, what matches nothing is created on the other side, ambiguous matches go to the error log naming
their candidates, no duplicate is made on either side, and the dry run reports what the real run then does
while writing nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
from sync_core.adapters.dynamodb.error_log import DynamoErrorLog
from sync_core.adapters.schedule_factory import build_first_load
from sync_core.config import get_settings
from sync_core.domain.entities import EntityName
from sync_core.domain.error_log import ErrorDirection, error_id
from sync_core.domain.sync_config import EntitySyncConfig
from sync_core.domain.sync_state import SyncOperation
from tests.support.engine import Engine, running_engine


@pytest.fixture
def engine() -> Iterator[Engine]:
    with running_engine() as running:
        yield running


def _configure(engine: Engine, entity: EntityName, **fields: Any) -> None:
    store = DynamoSyncConfigStore(dynamodb_client(), sync_config_table=engine.environment["SYNC_CONFIG_TABLE"])
    store.put(EntitySyncConfig.model_validate({"entity": entity.value, **fields}))


def _hub(engine: Engine, entity: str) -> list[dict[str, Any]]:
    return list(engine.api("GET", f"/records/{entity}", query={"limit": "100"}).body["items"])


def _status(engine: Engine, entity: str, record_id: str) -> dict[str, Any]:
    return dict(engine.api("GET", f"/records/{entity}/{record_id}/sync-status").body)


def _queued(engine: Engine) -> int:
    total = 0
    for queue in ("SYNC_QUEUE_URL", "EXPORT_QUEUE_URL"):
        attributes = engine.sqs.get_queue_attributes(
            QueueUrl=engine.environment[queue], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        total += int(attributes["ApproximateNumberOfMessages"])
    return total


def _populated(engine: Engine) -> dict[str, str]:
    """Accounts on both sides, filled while the entity was stopped (nothing exported meanwhile)."""
    _configure(engine, EntityName.ACCOUNT, status="Stopped")
    hub = {
        name: engine.api("POST", "/records/Account", body={"name": name, "billing_address": {"city": city}}).body["id"]
        for name, city in (("Both Ltd", "Leeds"), ("Renamed In Hub", "York"), ("Only Hub", "Rome"), ("Dup Co", "Paris"))
    }
    engine.drain()  # the stream passes over them: the entity does not export
    ids = engine.emulator.seed(
        "Account",
        [
            {"Name": "BOTH LTD ", "BillingCity": "leeds"},  # matches "Both Ltd" / Leeds (trimmed, case-blind)
            {"Name": "Known By Id", "Hub_Id__c": hub["Renamed In Hub"]},  # the external id names a hub record
            {"Name": "Dup Co", "BillingCity": "Paris"},  # two candidates for the hub's "Dup Co"
            {"Name": "Dup Co", "BillingCity": "PARIS"},
            {"Name": "Only Salesforce", "BillingCity": "Oslo"},
        ],
    )
    _configure(engine, EntityName.ACCOUNT)  # started: Active, both ways
    return {**hub, "sf both": ids[0], "sf known": ids[1], "sf dup 1": ids[2], "sf dup 2": ids[3], "sf only": ids[4]}


def test_a_first_load_over_two_populated_sides_links_them_and_creates_no_duplicates(engine: Engine) -> None:
    ids = _populated(engine)
    service = build_first_load(get_settings())
    salesforce_before = engine.emulator.records("Account")
    engine.emulator.reset_counters()

    dry = service.first_load(EntityName.ACCOUNT, dry_run=True).as_dict()

    assert dry["counts"] == {
        "link": 2,
        "create in Salesforce": 1,
        "create in hub": 1,
        "update": 0,
        "leave": 0,
        "ambiguous": 1,
    }
    assert {sample["hub_id"] for sample in dry["samples"]["link"]} == {ids["Both Ltd"], ids["Renamed In Hub"]}
    [ambiguous] = dry["samples"]["ambiguous"]
    assert ambiguous["hub_id"] == ids["Dup Co"]
    assert set(ambiguous["candidates"]) == {ids["sf dup 1"], ids["sf dup 2"]}
    # The dry run wrote nothing to either side: no Salesforce write, no hub record, nothing queued.
    assert engine.emulator.records("Account") == salesforce_before
    assert set(engine.emulator.counters()["api_calls"]) <= {"query", "limits"}
    assert len(_hub(engine, "Account")) == 4 and _queued(engine) == 0
    log = DynamoErrorLog(dynamodb_client(), error_log_table=engine.environment["ERROR_LOG_TABLE"])
    flagged = error_id(EntityName.ACCOUNT, ids["Dup Co"], ErrorDirection.FROM_SALESFORCE, SyncOperation.INSERT)
    assert log.get(flagged) is None

    real = service.first_load(EntityName.ACCOUNT, dry_run=False).as_dict()
    assert real["counts"] == dry["counts"] and real["samples"] == dry["samples"]  # the dry run told the truth
    assert (real["queued"], real["refused"], real["flagged"]) == (4, 0, 1)
    engine.drain()

    # No duplicates: Salesforce gained only the hub's unmatched record, the hub only Salesforce's.
    rows = {row["Id"]: row for row in engine.emulator.records("Account")}
    assert len(rows) == 6
    assert Counter(row["Name"] for row in rows.values())["Dup Co"] == 2 and ids["sf only"] in rows
    [only_hub] = [row for row in rows.values() if row.get("Hub_Id__c") == ids["Only Hub"]]
    assert only_hub["Name"] == "Only Hub"
    # A linked pair changed on both sides since a sync that never was: the entity's conflict policy (newest
    # wins) keeps the hub's later write and sends it, on the Salesforce id, stamping the external id.
    assert (rows[ids["sf both"]]["Name"], rows[ids["sf both"]]["Hub_Id__c"]) == ("Both Ltd", ids["Both Ltd"])
    assert rows[ids["sf known"]]["Name"] == "Renamed In Hub"
    hub = {record["id"]: record for record in _hub(engine, "Account")}
    assert len(hub) == 5
    for hub_id, salesforce_id in ((ids["Both Ltd"], ids["sf both"]), (ids["Renamed In Hub"], ids["sf known"])):
        status = _status(engine, "Account", hub_id)
        assert (status["status"], status["external_ref"]) == ("Synchronized", salesforce_id)
    created = [record for record in hub.values() if record["fields"]["name"] == "Only Salesforce"]
    assert len(created) == 1 and _status(engine, "Account", created[0]["id"])["external_ref"] == ids["sf only"]
    assert _status(engine, "Account", ids["Only Hub"])["status"] == "Synchronized"
    # The ambiguous one: linked to nothing, created nowhere, in Error with the entry naming its candidates.
    status = _status(engine, "Account", ids["Dup Co"])
    assert (status["status"], status["external_ref"]) == ("Error", None)
    entry = log.get(flagged)
    assert entry is not None and entry.code == "AMBIGUOUS_MATCH" and entry.status.value == "open"
    assert ids["sf dup 1"] in entry.message and ids["sf dup 2"] in entry.message

    # A second first load finds everything linked: nothing to link or create, the ambiguity still flagged.
    again = service.first_load(EntityName.ACCOUNT, dry_run=True).as_dict()["counts"]
    assert (again["link"], again["create in Salesforce"], again["create in hub"], again["ambiguous"]) == (0, 0, 0, 1)
    assert again["leave"] + again["update"] == 4


def test_contacts_match_by_email_and_a_first_load_of_a_stopped_entity_is_refused(engine: Engine) -> None:
    _configure(engine, EntityName.CONTACT, status="Stopped")
    hub_id = engine.api("POST", "/records/Contact", body={"last_name": "Hub", "email": "Ada@Example.test"}).body["id"]
    engine.drain()  # written while the entity was stopped: nothing exported
    [salesforce_id] = engine.emulator.seed("Contact", [{"LastName": "Lovelace", "Email": "ada@example.test"}])
    service = build_first_load(get_settings())
    with pytest.raises(Exception, match="neither imports nor exports"):
        service.first_load(EntityName.CONTACT, dry_run=True)

    _configure(engine, EntityName.CONTACT)
    report = service.first_load(EntityName.CONTACT, dry_run=False).as_dict()
    engine.drain()

    assert report["counts"]["link"] == 1 and report["matched_by"] == ["external id", "email"]
    assert _status(engine, "Contact", hub_id)["external_ref"] == salesforce_id
    assert len(engine.emulator.records("Contact")) == 1 and len(_hub(engine, "Contact")) == 1


def test_a_salesforce_row_naming_an_unlinked_hub_record_links_it_even_when_the_hub_keeps_its_side(
    engine: Engine,
) -> None:
    """Regression: the import linked such a record only when it applied Salesforce's values; when the conflict
    policy kept the hub's side, the record stayed unlinked and its export created a second Salesforce record."""
    from sync_core.domain.sync.schedule import pulled_change

    _configure(engine, EntityName.ACCOUNT, status="Stopped")
    hub_id = engine.api("POST", "/records/Account", body={"name": "Hub side"}).body["id"]
    engine.drain()
    [salesforce_id] = engine.emulator.seed("Account", [{"Name": "Salesforce side", "Hub_Id__c": hub_id}])
    _configure(engine, EntityName.ACCOUNT, conflict_policy="hub wins")
    [row] = [row for row in engine.emulator.records("Account") if row["Id"] == salesforce_id]

    engine.put_inbound(pulled_change(row, EntityName.ACCOUNT))
    engine.imports.poll_batch()  # the import alone: the link is written with the hub's side kept

    linked = _status(engine, "Account", hub_id)
    assert (linked["status"], linked["external_ref"]) == ("Modified Locally", salesforce_id)
    engine.drain()
    status = _status(engine, "Account", hub_id)
    assert (status["status"], status["external_ref"]) == ("Synchronized", salesforce_id)
    [only] = engine.emulator.records("Account")
    assert (only["Id"], only["Name"]) == (salesforce_id, "Hub side")  # the hub's side, sent to that record
