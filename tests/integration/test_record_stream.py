"""record_stream, the outbox: hub writes on the records table's stream become export requests on the export
queue, through the template's stream event source (batch size, partial batch failures, retries, on-failure
destination); the sync's own writes and entities that do not export are passed over."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.transitions import Actor
from sync_core.domain.sync_config import EntitySyncConfig
from tests.support.engine import Engine, running_engine
from tests.support.logs import captured_logs


@pytest.fixture
def engine() -> Iterator[Engine]:
    with running_engine() as running:
        yield running


def _exports(engine: Engine) -> list[dict[str, object]]:
    return engine.take_messages(engine.queue_url("ExportQueue"))


def test_a_users_writes_queue_one_export_request_per_record_and_batch(engine: Engine) -> None:
    account = engine.api("POST", "/records/Account", body={"name": "Acme"}).body["id"]
    engine.api("PATCH", f"/records/Account/{account}", body={"phone": "1"})
    engine.api("PATCH", f"/records/Account/{account}", body={"phone": "2"})
    other = engine.api("POST", "/records/Account", body={"name": "Beta"}).body["id"]

    assert engine.run_stream() == 1  # one batch held the four writes
    requests = sorted(_exports(engine), key=lambda body: str(body["hub_id"]))

    assert [(body["entity"], body["hub_id"], body["record_version"]) for body in requests] == [
        ("Account", account, 3),
        ("Account", other, 1),
    ]
    assert {body["direction"] for body in requests} == {"to Salesforce"}
    assert {body["source"] for body in requests} == {"stream"}
    assert {body["operation"] for body in requests} == {"upsert"}


def test_the_syncs_own_writes_queue_nothing(engine: Engine) -> None:
    dynamodb = boto3.client("dynamodb")
    for index, actor in enumerate((Actor.SYNC_IMPORT, Actor.EXPORT_RESULT)):
        dynamodb.put_item(
            TableName=engine.environment["RECORDS_TABLE"],
            Item={
                "pk": {"S": "Account"},
                "sk": {"S": f"ACC-90000{index}"},
                "version": {"N": "1"},
                "fields": {"M": {"name": {"S": "From Salesforce"}}},
                "updated_by": {"S": "sync:import"},
                "written_by": {"S": actor.value},
            },
        )
    user_write = engine.api("POST", "/records/Account", body={"name": "Mine"}).body["id"]

    engine.run_stream()

    assert [body["hub_id"] for body in _exports(engine)] == [user_write]


def test_entities_whose_sync_configuration_does_not_export_queue_nothing(engine: Engine) -> None:
    from sync_core.adapters.aws import dynamodb_client
    from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore

    configs = DynamoSyncConfigStore(dynamodb_client(), sync_config_table=engine.environment["SYNC_CONFIG_TABLE"])
    configs.put(EntitySyncConfig(entity=EntityName.ACCOUNT, export_enabled=False))
    engine.api("POST", "/records/Account", body={"name": "Stays here"})
    lead = engine.api("POST", "/records/Lead", body={"last_name": "Goes", "company": "Out"}).body["id"]

    engine.run_stream()

    assert [(body["entity"], body["hub_id"]) for body in _exports(engine)] == [("Lead", lead)]


def test_a_users_delete_queues_a_delete_export(engine: Engine) -> None:
    account = engine.api("POST", "/records/Account", body={"name": "Short-lived"}).body["id"]
    engine.run_stream()
    _exports(engine)
    engine.api("DELETE", f"/records/Account/{account}", headers={"If-Match": '"1"'})

    engine.run_stream()

    [request] = _exports(engine)
    assert (request["hub_id"], request["operation"], request["record_version"]) == (account, "delete", 1)


def test_writes_whose_export_cannot_be_queued_are_retried_then_reported_to_the_failure_queue(engine: Engine) -> None:
    from sync_core.config import get_settings
    from tests.support.engine import _reset_handler_caches

    engine.api("POST", "/records/Account", body={"name": "Stuck"})
    os.environ["EXPORT_QUEUE_URL"] = engine.queue_url("ExportQueue") + "-missing"
    get_settings.cache_clear()
    _reset_handler_caches(engine.functions)

    with captured_logs("WARNING") as lines:
        engine.run_stream()

    calls = engine.functions["RecordStreamFunction"].calls  # type: ignore[attr-defined]
    first = calls[0]["Records"][0]["dynamodb"]["SequenceNumber"]
    assert len(calls) == 1 + 5  # the first delivery and MaximumRetryAttempts retries
    assert any(line["message"] == "exports not queued; the stream delivers them again" for line in lines)
    [failure] = engine.take_messages(engine.queue_url("RecordStreamFailureQueue"))
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == first
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert _exports(engine) == []


def test_items_that_are_no_records_are_passed_over_and_a_malformed_record_is_logged(engine: Engine) -> None:
    dynamodb = boto3.client("dynamodb")
    table = engine.environment["RECORDS_TABLE"]
    # A case's activity is an item of its own in the records table: it is not exported by itself.
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "Case#CS000001#Activity"}, "sk": {"S": "0001"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "Account"}, "sk": {"S": "ACC-BROKEN"}})  # no version
    account = engine.api("POST", "/records/Account", body={"name": "Fine"}).body["id"]

    with captured_logs("ERROR") as lines:
        engine.run_stream()

    assert [line["message"] for line in lines] == ["stream record is not a hub record write; skipped"]
    assert "version" in lines[0]["error"]
    assert [body["hub_id"] for body in _exports(engine)] == [account]
