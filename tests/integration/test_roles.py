"""Roles through cases_api's lambda_handler over in-process moto: only an administrator changes settings;
everyone authenticated reads them; IAM callers get roles from HUB_IAM_ROLE_MAP; the OpenAPI document says which
routes need a role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from sync_core.config import get_settings
from sync_core.http.roles import iam_role_map
from tests.support.api import ApiAnswer, call, http_event
from tests.support.aws_stack import hub_aws_environment
from tests.support.logs import captured_logs

WORKGROUP = {"workgroup_id": "L1", "name": "First line", "members": ["alice", "bob"]}
ADMIN_ROUTES = {
    "PUT /cases/settings/classes/{class_id}",
    "PUT /cases/settings/workgroups/{workgroup_id}",
    "PUT /cases/settings/contracts/{contract_id}",
    "PUT /cases/settings/assignment-rules",
    # Sync administration: every write (tests/integration/test_sync_admin_api.py checks each one's 403).
    "POST /sync/entities/process",
    "POST /sync/entities/process-all",
    "POST /sync/entities/stop",
    "POST /sync/entities/stop-all",
    "PUT /sync/entities/{entity}/config",
    "POST /sync/entities/{entity}/sync-now",
    "POST /sync/entities/{entity}/process-all",
    "POST /sync/errors/{ref}/retry",
    "POST /sync/errors/{ref}/resolve",
    "POST /sync/errors/{ref}/resolve-conflict",
    "POST /sync/errors/retry",
    "POST /sync/errors/resolve",
    "POST /sync/dlq/replay",
}


@pytest.fixture
def api() -> Iterator[Any]:
    with hub_aws_environment("sync-hub-roles"):
        from functions.cases_api import app

        app._services.cache_clear()
        yield app
        app._services.cache_clear()


def put_workgroup(api: Any, **caller: Any) -> ApiAnswer:
    event = http_event(
        "PUT", "/cases/settings/workgroups/L1", route_key="ANY /cases/{proxy+}", body=WORKGROUP, **caller
    )
    return call(api.lambda_handler, event)


def iam_event(arn: str) -> dict[str, Any]:
    event = http_event("PUT", "/cases/settings/workgroups/L1", route_key="ANY /cases/{proxy+}", body=WORKGROUP)
    event["requestContext"]["authorizer"] = {"iam": {"userArn": arn}}
    return event


@pytest.mark.parametrize("roles", [(), ("agent",), ("integration",), ("agent", "integration"), ("admins",)], ids=str)
def test_a_settings_write_without_the_administrator_role_is_403_and_writes_nothing(api: Any, roles: Any) -> None:
    with captured_logs() as lines:
        answer = put_workgroup(api, user="mallory", roles=roles)
    assert answer.status == 403, answer.body
    assert answer.body["status"] == 403
    assert answer.body["required_roles"] == ["administrator"]
    assert "mallory" in answer.body["message"]
    refusals = [line for line in lines if line.get("message") == "request refused"]
    assert len(refusals) == 1 and refusals[0]["status"] == 403
    read = call(
        api.lambda_handler,
        http_event("GET", "/cases/settings/workgroups/L1", route_key="ANY /cases/{proxy+}", user="mallory"),
    )
    assert read.status == 404, "a refused write must write nothing"


@pytest.mark.parametrize("roles", [("administrator",), ("agent", "administrator"), ("sync-hub/administrator",)])
def test_an_administrator_writes_settings_and_anyone_authenticated_reads_them(api: Any, roles: Any) -> None:
    assert put_workgroup(api, user="root", roles=roles).status == 200
    read = call(
        api.lambda_handler,
        http_event(
            "GET", "/cases/settings/workgroups/L1", route_key="ANY /cases/{proxy+}", user="an-agent", roles=("agent",)
        ),
    )
    assert read.status == 200 and read.body["members"] == ["alice", "bob"]


def test_a_malformed_settings_write_is_told_what_is_wrong_before_its_role_is_checked(api: Any) -> None:
    event = http_event(
        "PUT", "/cases/settings/workgroups/L1", route_key="ANY /cases/{proxy+}", raw_body="[]", user="mallory"
    )
    assert call(api.lambda_handler, event).status == 422


@pytest.fixture
def iam_roles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    mapping = {
        "arn:aws:sts::123456789012:assumed-role/hub-admins/*": ["administrator"],
        "arn:aws:sts::123456789012:assumed-role/erp-sync/*": ["integration"],
    }
    monkeypatch.setenv("HUB_IAM_ROLE_MAP", json.dumps(mapping))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    iam_role_map.cache_clear()


def test_an_iam_callers_roles_come_from_the_documented_principal_map(api: Any, iam_roles: None) -> None:
    admin = call(api.lambda_handler, iam_event("arn:aws:sts::123456789012:assumed-role/hub-admins/ann"))
    assert admin.status == 200, admin.body
    erp = call(api.lambda_handler, iam_event("arn:aws:sts::123456789012:assumed-role/erp-sync/nightly"))
    assert erp.status == 403
    stranger = call(api.lambda_handler, iam_event("arn:aws:iam::999999999999:user/hub-admins"))
    assert stranger.status == 403


@pytest.mark.parametrize(
    ("text", "reason"),
    [("{not json", "not JSON"), ('{"arn:*": "administrator"}', "role lists"), ('{"arn:*": ["root"]}', "unknown")],
)
def test_a_malformed_principal_map_is_a_clear_configuration_error(text: str, reason: str) -> None:
    from sync_core.config import ConfigurationError

    with pytest.raises(ConfigurationError, match=reason):
        iam_role_map(text)


def test_the_openapi_document_says_which_routes_need_a_role() -> None:
    from tools.openapi import generate

    document = generate()
    needing = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "403" in operation.get("responses", {})
    }
    assert needing == ADMIN_ROUTES
