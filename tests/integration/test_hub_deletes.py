"""Hub deletes through the records API, the records stream, the export queue and export_worker, against moto and
the Salesforce emulator (tests/support/engine.py): each entity's hub delete policy (delete in Salesforce, or
only unlink), who deleted recorded with the delete (a stream REMOVE shows only the item before it), and the
sync's own delete of a record Salesforce deleted never sent back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeOperation, ChangeSource
from sync_core.domain.sync_config import EntitySyncConfig
from tests.support.engine import Engine, running_engine


@pytest.fixture
def engine() -> Iterator[Engine]:
    with running_engine() as running:
        yield running


def _configure(engine: Engine, **fields: Any) -> None:
    store = DynamoSyncConfigStore(dynamodb_client(), sync_config_table=engine.environment["SYNC_CONFIG_TABLE"])
    store.put(EntitySyncConfig.model_validate({"entity": "Account", **fields}))


def _status(engine: Engine, record_id: str) -> dict[str, Any]:
    return dict(engine.api("GET", f"/records/Account/{record_id}/sync-status").body)


def _exported_account(engine: Engine, name: str) -> tuple[str, str]:
    record_id = engine.api("POST", "/records/Account", body={"name": name}).body["id"]
    engine.drain()
    salesforce_id = _status(engine, record_id)["external_ref"]
    assert salesforce_id
    return record_id, salesforce_id


def _delete(engine: Engine, record_id: str) -> None:
    answer = engine.api("DELETE", f"/records/Account/{record_id}", headers={"If-Match": '"1"'})
    assert answer.status == 204, answer.body


def _live_ids(engine: Engine) -> set[str]:
    return {row["Id"] for row in engine.emulator.records("Account")}


def test_delete_in_salesforce_deletes_the_linked_record_there(engine: Engine) -> None:
    _configure(engine, hub_delete_policy="delete in Salesforce")
    record_id, salesforce_id = _exported_account(engine, "Deleted everywhere")

    _delete(engine, record_id)
    engine.drain()

    assert salesforce_id not in _live_ids(engine)
    [row] = [row for row in engine.emulator.records("Account", include_deleted=True) if row["Id"] == salesforce_id]
    assert row["IsDeleted"] is True
    status = _status(engine, record_id)
    assert (status["status"], status["operation"], status["external_ref"]) == ("Synchronized", "Delete", None)


def test_unlink_only_keeps_the_salesforce_record_and_drops_the_link(engine: Engine) -> None:
    record_id, salesforce_id = _exported_account(engine, "Kept in Salesforce")  # the default: unlink only

    _delete(engine, record_id)
    engine.emulator.reset_counters()
    engine.drain()

    assert salesforce_id in _live_ids(engine)
    assert engine.emulator.counters()["api_calls_total"] == 0  # nothing asked of Salesforce
    assert engine.api("GET", "/records/Account", query={"salesforce_id": salesforce_id}).body["items"] == []
    status = _status(engine, record_id)
    assert (status["status"], status["external_ref"]) == ("Synchronized", None)


def test_a_users_delete_of_a_record_the_sync_wrote_last_still_reaches_salesforce(engine: Engine) -> None:
    """The stream's REMOVE shows the item before the delete, written by the import: the deleter is the user's."""
    _configure(engine, hub_delete_policy="delete in Salesforce")
    [salesforce_id] = engine.emulator.seed("Account", [{"Name": "Born in Salesforce"}])
    engine.put_inbound(
        Change(
            direction=ChangeDirection.FROM_SALESFORCE,
            entity=EntityName.ACCOUNT,
            salesforce_id=salesforce_id,
            source=ChangeSource.CHANGE_EVENT,
            change_id="tx-born:1",
            stamp=datetime.now(UTC),
            values={"Name": "Born in Salesforce"},
        )
    )
    engine.drain()
    [record] = engine.api("GET", "/records/Account", query={"salesforce_id": salesforce_id}).body["items"]
    assert record["updated_by"] == "sync:salesforce"

    _delete(engine, record["id"])
    engine.drain()

    assert salesforce_id not in _live_ids(engine)


def test_the_syncs_own_delete_of_a_record_salesforce_deleted_is_not_sent_back(engine: Engine) -> None:
    _configure(engine, delete_policy="delete in hub", hub_delete_policy="delete in Salesforce")
    record_id, salesforce_id = _exported_account(engine, "Deleted in Salesforce")
    engine.emulator.user_change("delete", "Account", salesforce_id)

    engine.put_inbound(
        Change(
            direction=ChangeDirection.FROM_SALESFORCE,
            entity=EntityName.ACCOUNT,
            salesforce_id=salesforce_id,
            operation=ChangeOperation.DELETE,
            source=ChangeSource.CHANGE_EVENT,
            change_id="tx-gone:1",
            stamp=datetime.now(UTC) + timedelta(seconds=5),
        )
    )
    engine.emulator.reset_counters()
    report = engine.drain()

    assert engine.api("GET", f"/records/Account/{record_id}").status == 404
    assert report.messages.get("ExportWorkerFunction", 0) == 1  # the stream asked; the export found the sync's own
    assert engine.emulator.counters()["api_calls_total"] == 0
    from sync_core.adapters.dynamodb.records import state_from_item

    item = dynamodb_client().get_item(
        TableName=engine.environment["SYNC_STATE_TABLE"], Key={"pk": {"S": "Account"}, "sk": {"S": record_id}}
    )["Item"]
    assert state_from_item(item).deleted_by == "sync import"
