"""The sync engine's functions call DynamoDB only as their roles in template.yaml allow, and the roles allow
no more: as for the API functions (test_least_privilege.py), every call each function's code makes is
recorded as the IAM actions it needs, while the functions run through their event sources (records stream,
export queue, sync queue) over paths that take every branch of their grants: exports, a refused parent
and its parked child, a dead export, imports that create, update, fail, recover, unlink and delete."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.runtime import LocalFunction
from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeOperation, ChangeSource, export_change
from sync_core.domain.sync.policy import DeletePolicy
from sync_core.domain.sync_config import EntitySyncConfig
from tests.integration.test_least_privilege import Access, DynamoCallRecorder, _physical_tables
from tests.support.engine import Engine, running_engine
from tools.template_info import dynamodb_grants

WORKERS = ("RecordStreamFunction", "ExportWorkerFunction", "SyncWorkerFunction")
NOT_EXERCISED: dict[str, set[tuple[str, str | None, str]]] = {
    "RecordStreamFunction": set(),
    "ExportWorkerFunction": set(),
    # A case released from Salesforce (a one-to-one status map) and billed Per Activity reads its billable
    # activities (tests/integration/test_case_sync.py runs releases; this path runs none).
    "SyncWorkerFunction": {("RecordsTable", None, "Query")},
}


class _ByFunction:
    """One recorder per function: calls are filed under the function whose invocation makes them."""

    def __init__(self, tables: dict[str, tuple[str, str]]) -> None:
        self.recorders = {name: DynamoCallRecorder(tables) for name in (*WORKERS, "other")}
        self.current = "other"

    def __call__(self, **kwargs: Any) -> None:
        self.recorders[self.current](**kwargs)

    def accesses(self, function: str) -> set[Access]:
        return self.recorders[function].accesses


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, _ByFunction]]:
    with running_engine() as engine:
        from sync_core.adapters.aws import dynamodb_client

        calls = _ByFunction(_physical_tables(engine.environment))
        dynamodb_client().meta.events.register("provide-client-params.dynamodb.*", calls)
        invoke = LocalFunction.invoke

        def attributed(function: LocalFunction, event: Any) -> Any:
            previous, calls.current = calls.current, function.name
            try:
                return invoke(function, event)
            finally:
                calls.current = previous

        monkeypatch.setattr(LocalFunction, "invoke", attributed)
        yield engine, calls


def _check(function: str, accesses: set[Access]) -> None:
    grants = dynamodb_grants(function)
    outside = sorted((access for access in accesses if not any(grant.allows(*access) for grant in grants)), key=str)
    assert outside == [], f"{function} calls DynamoDB beyond its role in template.yaml"
    used = {(table, index, action) for table, index, action, _ in accesses}
    granted = {(grant.table, grant.index, action) for grant in grants for action in grant.actions}
    assert granted - used == NOT_EXERCISED[function], f"{function}'s role grants what its code never calls"


def _status(engine: Engine, entity: str, record_id: str) -> dict[str, Any]:
    return dict(engine.api("GET", f"/records/{entity}/{record_id}/sync-status").body)


def _resync(engine: Engine, record_id: str) -> None:
    """An administrator's resync: an export request for the record, straight onto the export queue."""
    request = export_change(EntityName.ACCOUNT, record_id, 1, source=ChangeSource.ADMIN, stamp=datetime.now(UTC))
    engine.sqs.send_message(QueueUrl=engine.queue_url("ExportQueue"), MessageBody=request.model_dump_json())
    engine.drain()


def _inbound(salesforce_id: str, change_id: str, stamp: datetime, **changes: Any) -> Change:
    return Change(
        direction=ChangeDirection.FROM_SALESFORCE,
        entity=EntityName.ACCOUNT,
        salesforce_id=salesforce_id,
        source=ChangeSource.CHANGE_EVENT,
        change_id=change_id,
        stamp=stamp,
        **changes,
    )


def test_the_export_path_calls_dynamodb_only_as_its_roles_allow(recorded: tuple[Engine, _ByFunction]) -> None:
    engine, calls = recorded
    # A parent refused for good (Error, an open error-log entry), its child parked; the parent sent again by an
    # administrator's resync: it links (its entry resolved) and the parked child is taken and re-queued.
    engine.emulator.add_fault(
        scope="record", kind="collections", status=400, error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION", count=1
    )
    account = engine.api("POST", "/records/Account", body={"name": "Parent"}).body["id"]
    engine.drain()
    contact = engine.api("POST", "/records/Contact", body={"last_name": "Child", "account_id": account}).body["id"]
    engine.drain()
    _resync(engine, account)
    assert _status(engine, "Contact", contact)["status"] == "Synchronized"
    # An export failing every attempt: marked dead on its last receive.
    engine.emulator.add_fault(scope="record", kind="collections", status=400, error_code="UNABLE_TO_LOCK_ROW")
    dead = engine.api("POST", "/records/Account", body={"name": "Dead"}).body["id"]
    engine.drain()
    assert _status(engine, "Account", dead)["status"] == "Error"

    # A hub delete of a linked record: the export releases its link (the entity's hub delete policy: unlink only).
    answer = engine.api("DELETE", f"/records/Contact/{contact}", headers={"If-Match": '"1"'})
    assert answer.status == 204, answer.body
    engine.drain()
    assert _status(engine, "Contact", contact)["external_ref"] is None

    _check("RecordStreamFunction", calls.accesses("RecordStreamFunction"))
    _check("ExportWorkerFunction", calls.accesses("ExportWorkerFunction"))


def test_the_import_path_calls_dynamodb_only_as_its_role_allows(recorded: tuple[Engine, _ByFunction]) -> None:
    engine, calls = recorded
    now = datetime.now(UTC)
    [salesforce_id] = engine.emulator.seed("Account", [{"Name": "From Salesforce"}])
    # Created, refused (an empty required name: Error and the error log), then fixed (the entry resolved).
    engine.put_inbound(_inbound(salesforce_id, "t:1", now, values={"Name": "From Salesforce"}))
    engine.put_inbound(_inbound(salesforce_id, "t:2", now + timedelta(seconds=1), cleared_fields=["Name"]))
    engine.put_inbound(_inbound(salesforce_id, "t:3", now + timedelta(seconds=2), values={"Name": "Fixed"}))
    engine.drain()
    [record] = engine.api("GET", "/records/Account", query={"salesforce_id": salesforce_id}).body["items"]
    assert record["fields"]["name"] == "Fixed"
    # Deleted in Salesforce: unlinked by the default policy; another one deleted in the hub by policy.
    engine.put_inbound(_inbound(salesforce_id, "t:4", now + timedelta(seconds=3), operation=ChangeOperation.DELETE))
    from sync_core.adapters.aws import dynamodb_client
    from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore

    configs = DynamoSyncConfigStore(dynamodb_client(), sync_config_table=engine.environment["SYNC_CONFIG_TABLE"])
    [other] = engine.emulator.seed("Lead", [{"LastName": "Gone", "Company": "Gone Ltd"}])
    configs.put(EntitySyncConfig(entity=EntityName.LEAD, delete_policy=DeletePolicy.DELETE_IN_HUB))
    lead = {"entity": EntityName.LEAD}
    engine.put_inbound(
        _inbound(other, "l:1", now, values={"LastName": "Gone", "Company": "Gone Ltd"}).model_copy(update=lead),
        _inbound(other, "l:2", now + timedelta(seconds=1), operation=ChangeOperation.DELETE).model_copy(update=lead),
    )
    engine.drain()
    assert _status(engine, "Account", record["id"])["external_ref"] is None
    assert engine.api("GET", "/records/Lead", query={"salesforce_id": other}).body["items"] == []
    # A contact whose account the hub lacks is parked, and queued again when the account links.
    [parent] = engine.emulator.seed("Account", [{"Name": "Parent later"}])
    [child] = engine.emulator.seed("Contact", [{"LastName": "Early", "AccountId": parent}])
    contact = {"entity": EntityName.CONTACT}
    engine.put_inbound(
        _inbound(child, "c:1", now, values={"LastName": "Early", "AccountId": parent}).model_copy(update=contact)
    )
    engine.drain()
    engine.put_inbound(_inbound(parent, "p:1", now, values={"Name": "Parent later"}))
    engine.drain()
    [linked] = engine.api("GET", "/records/Contact", query={"salesforce_id": child}).body["items"]
    assert linked["fields"]["last_name"] == "Early"

    _check("SyncWorkerFunction", calls.accesses("SyncWorkerFunction"))
