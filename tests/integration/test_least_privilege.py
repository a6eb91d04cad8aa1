"""Each API function calls DynamoDB only as its role in template.yaml allows, and its role allows no more.

Every documented route of the function runs in-process against moto, with each DynamoDB call the
function's client makes recorded as the IAM actions it needs (a TransactWriteItems needs PutItem,
UpdateItem, DeleteItem or ConditionCheckItem per item), on which table or index, for which partition
key. The calls must be within the grant (tools.template_info.dynamodb_grants), and the grant must be
used: so the role can drift neither narrower nor wider than the code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.api import ApiAnswer, call, http_event
from tests.support.aws_stack import hub_aws_environment
from tools.openapi import OPENAPI_PATH
from tools.template_info import api_routes, dynamodb_grants, template

# (table logical id, index or None, IAM action, partition key value or None)
Access = tuple[str, str | None, str, str | None]

_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# Granted and needed, though no request here makes the code take that path.
# Powertools idempotency reads a key with GetItem only when a refused conditional put does not return the
# item it found (DynamoDB and moto return it).
_IDEMPOTENCY_READ = ("IdempotencyTable", None, "GetItem")
NOT_EXERCISED: dict[str, set[tuple[str, str | None, str]]] = {
    # Powertools deletes the key of a write that raised; every refusal of a records write comes before the
    # write starts (validation), except a create that loses its number to concurrent creates three times.
    "RecordsApiFunction": {_IDEMPOTENCY_READ, ("IdempotencyTable", None, "DeleteItem")},
    "CasesApiFunction": {_IDEMPOTENCY_READ},
    "SyncAdminApiFunction": set(),
}


@dataclass
class DynamoCallRecorder:
    """A botocore hook: the IAM actions behind each DynamoDB call, by table logical id."""

    tables: dict[str, tuple[str, str]]  # physical name -> (logical id, partition key attribute)
    accesses: set[Access] = field(default_factory=set)

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        if operation == "TransactWriteItems":
            for item in params["TransactItems"]:
                kind, body = next(iter(item.items()))
                self._add(body["TableName"], None, _TRANSACT_ACTIONS[kind], body.get("Key") or body.get("Item"))
        elif operation == "TransactGetItems":
            for item in params["TransactItems"]:
                self._add(item["Get"]["TableName"], None, "GetItem", item["Get"]["Key"])
        elif operation == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                for key in request["Keys"]:
                    self._add(table, None, operation, key)
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    kind, body = next(iter(request.items()))
                    self._add(table, None, operation, body.get("Key") or body.get("Item"))
        elif operation in ("Query", "Scan"):
            self._add(params["TableName"], params.get("IndexName"), operation, self._queried_key(params))
        else:
            self._add(params["TableName"], None, operation, params.get("Key") or params.get("Item"))

    def _add(self, physical: str, index: str | None, action: str, key: Any) -> None:
        table, hash_key = self.tables[physical]
        value = key if isinstance(key, str) or key is None else next(iter(key.get(hash_key, {}).values()), None)
        self.accesses.add((table, index, action, value))

    def _queried_key(self, params: dict[str, Any]) -> str | None:
        """The partition key a table query is for ("pk = :pk"); None for an index or a scan."""
        if params.get("IndexName") or "KeyConditionExpression" not in params:
            return None
        _, hash_key = self.tables[params["TableName"]]
        names = params.get("ExpressionAttributeNames", {})
        for name, value in re.findall(r"([#\w]+)\s*=\s*(:\w+)", params["KeyConditionExpression"]):
            if names.get(name, name) == hash_key:
                return str(next(iter(params["ExpressionAttributeValues"][value].values())))
        return None


def _physical_tables(environment: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Each table's physical name (as the functions' environment names it) -> (logical id, hash key)."""
    doc = template()
    variables = doc["Globals"]["Function"]["Environment"]["Variables"]
    tables = {}
    for name, value in variables.items():
        if isinstance(value, dict) and "Ref" in value and name in environment:
            resource = doc["Resources"][value["Ref"]]
            if resource["Type"] == "AWS::DynamoDB::Table":
                schema = resource["Properties"]["KeySchema"]
                hash_key = next(key["AttributeName"] for key in schema if key["KeyType"] == "HASH")
                tables[environment[name]] = (value["Ref"], hash_key)
    return tables


@dataclass
class Api:
    """One API function called in-process; remembers which documented operations were called."""

    function: str
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    called: set[tuple[str, str]] = field(default_factory=set)

    def __call__(self, method: str, path: str, expected: int, **kwargs: Any) -> Any:
        route = next(
            route
            for route in api_routes()
            if route.function == self.function and _pattern(route.path).fullmatch(path.split("?")[0])
        )
        kwargs.setdefault("user", "alice")
        kwargs.setdefault("roles", ("administrator",))  # every route, settings writes included, is exercised
        answer: ApiAnswer = call(self.handler, http_event(method, path, route_key=f"ANY {route.path}", **kwargs))
        assert answer.status == expected, f"{method} {path}: {answer.status} {answer.body}"
        self.called.add((method, _documented(path)))
        return answer.body


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.sub(r"\\\{\w+\\\+\\\}", ".+", re.escape(path))))


def _documented(path: str) -> str:
    """The OpenAPI path a request path matches, an entity's records paths as /records/{entity}/..."""
    path = re.sub(r"^/records/\w+", "/records/{entity}", path)
    if any(documented[1] == path for documented in _documented_operations()):
        return path  # a literal path before one with a variable, as routes match
    for documented in _documented_operations():
        if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", documented[1]), path):
            return documented[1]
    raise AssertionError(f"{path} is not documented")


def _documented_operations(function: str | None = None) -> set[tuple[str, str]]:
    routes = api_routes()
    operations = set()
    for path, methods in json.loads(OPENAPI_PATH.read_text())["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        # As API Gateway matches: a route without a greedy variable before one with it.
        matching = [route for route in routes if _pattern(route.path).fullmatch(concrete)]
        owner = min(matching, key=lambda route: ("+}" in route.path, route.path.count("{"))).function
        if function is None or owner == function:
            generic = re.sub(r"^/records/\w+", "/records/{entity}", path)
            operations |= {(method.upper(), generic) for method in methods}
    return operations


@pytest.fixture
def recorder() -> Iterator[DynamoCallRecorder]:
    with hub_aws_environment() as environment:
        from functions.cases_api import app as cases_app
        from functions.records_api import app as records_app
        from functions.sync_admin_api import app as admin_app
        from sync_core.adapters.aws import dynamodb_client

        services = (
            cases_app._services,
            records_app._service,
            admin_app._service,
        )  # built once per container: rebuild here
        for built in services:
            built.cache_clear()
        calls = DynamoCallRecorder(_physical_tables(environment))
        dynamodb_client().meta.events.register("provide-client-params.dynamodb.*", calls)
        yield calls
        for built in services:
            built.cache_clear()


def _check(function: str, api: Api, accesses: set[Access]) -> None:
    assert api.called == _documented_operations(function), "every documented operation is called once at least"
    grants = dynamodb_grants(function)
    outside = sorted((access for access in accesses if not any(grant.allows(*access) for grant in grants)), key=str)
    assert outside == [], f"{function} calls DynamoDB beyond its role in template.yaml"
    used = {(table, index, action) for table, index, action, _ in accesses}
    granted = {(grant.table, grant.index, action) for grant in grants for action in grant.actions}
    assert granted - used == NOT_EXERCISED[function], f"{function}'s role grants what its code never calls"


def test_the_records_api_calls_dynamodb_only_as_its_role_allows(recorder: DynamoCallRecorder) -> None:
    from functions.records_api import app

    records = Api("RecordsApiFunction", app.lambda_handler)
    key = {"Idempotency-Key": "create-1"}
    account = records("POST", "/records/Account", 201, body={"name": "Acme"}, headers=key)["id"]
    assert records("POST", "/records/Account", 201, body={"name": "Acme"}, headers=key)["id"] == account
    records("GET", "/records/Account", 200)
    records("GET", "/records/Account", 200, query={"salesforce_id": "001000000000001AAA"})
    records("GET", f"/records/Account/{account}", 200)
    records("GET", f"/records/Account/{account}/sync-status", 200)
    records("PATCH", f"/records/Account/{account}", 200, body={"phone": "1"}, headers={"If-Match": '"1"'})
    records("PATCH", f"/records/Account/{account}", 412, body={"phone": "2"}, headers={"If-Match": '"1"'})
    records("PUT", f"/records/Account/{account}", 200, body={"name": "Acme Ltd"}, headers={"If-Match": '"2"'})
    records("DELETE", f"/records/Account/{account}", 204, headers={"If-Match": '"3"'})
    _check("RecordsApiFunction", records, recorder.accesses)


def test_the_cases_api_calls_dynamodb_only_as_its_role_allows(recorder: DynamoCallRecorder) -> None:
    from functions.cases_api import app
    from functions.records_api import app as records_app

    account = Api("RecordsApiFunction", records_app.lambda_handler)("POST", "/records/Account", 201, body={"name": "A"})
    recorder.accesses.clear()  # from here on, only the cases API
    cases = Api("CasesApiFunction", app.lambda_handler)
    support = {"class_id": "SUPPORT", "billable": True, "labor_rate": 80, "round_time_minutes": 15}
    cases("PUT", "/cases/settings/classes/SUPPORT", 200, body=support)
    cases("GET", "/cases/settings/classes", 200)
    cases("GET", "/cases/settings/classes/SUPPORT", 200)
    cases("PUT", "/cases/settings/workgroups/L1", 200, body={"workgroup_id": "L1", "members": ["alice"]})
    cases("GET", "/cases/settings/workgroups", 200)
    cases("GET", "/cases/settings/workgroups/L1", 200)
    contract = {"contract_id": "C-1", "account_id": account["id"]}
    cases("PUT", "/cases/settings/contracts/C-1", 200, body=contract)
    cases("GET", "/cases/settings/contracts", 200)
    cases("GET", "/cases/settings/contracts/C-1", 200)
    rule = {"workgroup_id": "L1", "owner": "alice"}
    cases("PUT", "/cases/settings/assignment-rules", 200, body={"rules": [rule] * 150})  # stored in two chunks
    cases("PUT", "/cases/settings/assignment-rules", 200, body={"rules": [rule]})  # the second chunk is deleted
    cases("GET", "/cases/settings/assignment-rules", 200)

    draft = {"subject": "Jam", "class_id": "SUPPORT", "account_id": account["id"], "contract_id": "C-1"}
    case_id = cases("POST", "/cases", 201, body=draft, headers={"Idempotency-Key": "case-1"})["id"]
    standalone = {key: value for key, value in draft.items() if key != "contract_id"}
    other = cases("POST", "/cases", 201, body={**standalone, "subject": "Other"})["id"]
    for query in ({}, {"status": "New"}, {"owner": "alice"}, {"account_id": account["id"]}):
        cases("GET", "/cases", 200, query=query)
    cases("GET", f"/cases/{case_id}", 200)
    cases("PATCH", f"/cases/{case_id}", 200, body={"priority": "High"})
    cases("GET", f"/cases/{case_id}/transitions", 200)
    release = {"Idempotency-Key": "release-too-early"}  # refused inside the write: its key is deleted
    cases("POST", f"/cases/{case_id}/transitions", 409, body={"action": "release"}, headers=release)
    cases("POST", f"/cases/{case_id}/transitions", 200, body={"action": "apply-assignment-rules"})
    cases("POST", f"/cases/{case_id}/transitions", 200, body={"action": "open", "reason": "In Process"})
    work = {"type": "Work Item", "summary": "Fixed", "time_spent_minutes": 30}
    cases("POST", f"/cases/{case_id}/activities", 201, body=work)
    cases("GET", f"/cases/{case_id}/activities", 200)
    cases("POST", f"/cases/{case_id}/related-cases", 200, body={"case_id": other, "relation": "Related"})
    cases("GET", f"/cases/{case_id}/related-cases", 200)
    cases("DELETE", f"/cases/{case_id}/related-cases/{other}", 204)
    for released in (case_id, other):  # one under a contract (contract usage), one standalone (an invoice)
        if released == other:
            cases("POST", f"/cases/{other}/transitions", 200, body={"action": "take"})
            cases("POST", f"/cases/{other}/transitions", 200, body={"action": "open", "reason": "In Process"})
            cases("POST", f"/cases/{other}/activities", 201, body=work)
        cases("POST", f"/cases/{released}/transitions", 200, body={"action": "close", "reason": "Resolved"})
        cases("POST", f"/cases/{released}/transitions", 200, body={"action": "release"})
    cases("GET", f"/cases/{case_id}/contract-usage", 200)
    cases("GET", f"/cases/{other}/invoice", 200)
    _check("CasesApiFunction", cases, recorder.accesses)


def test_the_sync_admin_api_calls_dynamodb_only_as_its_role_allows(recorder: DynamoCallRecorder) -> None:
    from datetime import UTC, datetime

    from functions.records_api import app as records_app
    from functions.sync_admin_api import app
    from sync_core.adapters.aws import dynamodb_client
    from sync_core.adapters.dynamodb.sync_admin import DynamoHeldChanges
    from sync_core.config import get_settings
    from sync_core.domain.entities import EntityName
    from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeSource

    Api("RecordsApiFunction", records_app.lambda_handler)("POST", "/records/Account", 201, body={"name": "A"})
    held = Change(
        direction=ChangeDirection.FROM_SALESFORCE,
        entity=EntityName.ACCOUNT,
        salesforce_id="001000000000001AAA",
        source=ChangeSource.CHANGE_EVENT,
        change_id="held-1",
        stamp=datetime.now(UTC),
    )
    DynamoHeldChanges(dynamodb_client(), sync_state_table=str(get_settings().sync_state_table)).hold(
        [held], reason="stopped", now=datetime.now(UTC)
    )
    from sync_core.adapters.dynamodb.error_log import DynamoErrorLog
    from sync_core.domain.error_log import ErrorDirection, ErrorStatus, error_id, error_ref
    from sync_core.domain.sync_state import SyncOperation

    log = DynamoErrorLog(dynamodb_client(), error_log_table=str(get_settings().error_log_table))
    for record_id in ("ACC-1", "ACC-2"):
        log.record_failure(
            entity=EntityName.ACCOUNT,
            record_id=record_id,
            direction=ErrorDirection.TO_SALESFORCE,
            operation=SyncOperation.INSERT,
            code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
            message="Accounts need a region",
            payload={"Name": "A"},
            status=ErrorStatus.OPEN,
            now=datetime.now(UTC),
        )
    log.record_failure(
        entity=EntityName.ACCOUNT,
        record_id="ACC-3",
        direction=ErrorDirection.FROM_SALESFORCE,
        operation=SyncOperation.UPDATE,
        code="CONFLICT",
        message="changed on both sides",
        payload={"hub": {"phone": "1"}, "salesforce": {"Phone": "2"}, "change": held.model_dump(mode="json")},
        status=ErrorStatus.OPEN,
        now=datetime.now(UTC),
    )
    conflict = error_ref(error_id(EntityName.ACCOUNT, "ACC-3", ErrorDirection.FROM_SALESFORCE, SyncOperation.UPDATE))
    first, second = (
        error_ref(error_id(EntityName.ACCOUNT, record_id, ErrorDirection.TO_SALESFORCE, SyncOperation.INSERT))
        for record_id in ("ACC-1", "ACC-2")
    )
    recorder.accesses.clear()  # from here on, only the sync administration API
    admin = Api("SyncAdminApiFunction", app.lambda_handler)
    admin("GET", "/sync/entities", 200)
    admin("POST", "/sync/entities/Account/sync-now", 202)
    admin("POST", "/sync/entities/stop", 200, body={"entities": ["Account"]})
    admin("POST", "/sync/entities/stop-all", 200)
    admin("POST", "/sync/entities/process", 200, body={"entities": ["Account"]})  # releases the held change
    admin("POST", "/sync/entities/process-all", 200)
    config = admin("GET", "/sync/entities/Account/config", 200)
    admin(
        "PUT", "/sync/entities/Account/config", 200, body={**config, "create_only": True}, headers={"If-Match": '"2"'}
    )
    admin("PUT", "/sync/entities/Account/config", 412, body=config, headers={"If-Match": '"2"'})
    admin("GET", "/sync/entities/Account/config/versions", 200)
    admin("GET", "/sync/errors", 200, query={"entity": "Account", "since": "2000-01-01T00:00:00Z"})
    admin("GET", f"/sync/errors/{first}", 200)
    admin("POST", f"/sync/errors/{first}/retry", 200, body={})
    admin("POST", f"/sync/errors/{first}/resolve", 200, body={"note": "done"})
    admin("POST", "/sync/errors/retry", 200, body={"refs": [second]})
    admin("POST", "/sync/errors/resolve", 200, body={"refs": [second]})
    admin("POST", "/sync/dlq/replay", 200, body={"queue": "export"})
    admin("POST", f"/sync/errors/{conflict}/resolve-conflict", 200, body={"choose": "hub"})
    _check("SyncAdminApiFunction", admin, recorder.accesses)
