"""Configuration fails fast: a function's missing settings are named at its first call, before any AWS call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sync_core.config import ConfigurationError, get_settings, require_settings
from tests.support.api import call, http_event
from tests.support.logs import captured_logs
from tools.template_info import function_specs

API_FUNCTIONS = {"RecordsApiFunction": "functions.records_api.app", "CasesApiFunction": "functions.cases_api.app"}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for variable in ("RECORDS_TABLE", "SYNC_STATE_TABLE", "SYNC_CONFIG_TABLE", "IDEMPOTENCY_TABLE"):
        monkeypatch.setenv(variable, f"test-{variable.lower()}")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_require_settings_names_every_missing_variable(environment: pytest.MonkeyPatch) -> None:
    environment.delenv("RECORDS_TABLE")
    environment.setenv("IDEMPOTENCY_TABLE", "  ")  # blank is as good as missing
    with pytest.raises(ConfigurationError, match="RECORDS_TABLE, IDEMPOTENCY_TABLE"):
        require_settings(["RECORDS_TABLE", "SYNC_STATE_TABLE", "IDEMPOTENCY_TABLE"])


def test_a_required_setting_has_no_empty_default(environment: pytest.MonkeyPatch) -> None:
    environment.delenv("SYNC_QUEUE_URL", raising=False)
    assert get_settings().sync_queue_url is None
    with pytest.raises(ConfigurationError, match="SYNC_QUEUE_URL is not set"):
        get_settings().require("SYNC_QUEUE_URL")


def test_a_malformed_setting_is_a_configuration_error(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("SALESFORCE_API_BUDGET_SHARE", "2")
    with pytest.raises(ConfigurationError, match="malformed settings"):
        get_settings()


def test_an_unknown_variable_name_is_refused(environment: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="not a setting the hub knows"):
        require_settings(["RECORDS_TABEL"])


@pytest.mark.parametrize("module_name", API_FUNCTIONS.values())
@pytest.mark.parametrize("missing", ["RECORDS_TABLE", "IDEMPOTENCY_TABLE"])
def test_an_api_function_without_a_setting_answers_500_naming_it_in_the_log_before_any_aws_call(
    environment: pytest.MonkeyPatch, module_name: str, missing: str
) -> None:
    import importlib

    from sync_core.adapters.aws import dynamodb_client

    module = importlib.import_module(module_name)
    environment.delenv(missing)
    calls: list[str] = []
    dynamodb_client().meta.events.register("before-call.dynamodb", lambda **kwargs: calls.append("called"))
    path = "/records/Account" if "records" in module_name else "/cases"
    route_key = "ANY /records/{entity}" if "records" in module_name else "ANY /cases"
    with captured_logs() as lines:
        answer = call(module.lambda_handler, http_event("GET", path, route_key=route_key))
    assert answer.status == 500
    assert answer.body["status"] == 500
    assert answer.body["correlation_id"] == answer.headers["X-Correlation-Id"]
    failure = next(line for line in lines if line["message"] == "function is misconfigured")
    assert missing in failure["exception"]
    assert calls == []


@pytest.mark.parametrize(("logical_id", "module_name"), API_FUNCTIONS.items())
def test_the_template_gives_each_function_every_setting_it_declares(logical_id: str, module_name: str) -> None:
    import importlib

    declared = set(importlib.import_module(module_name).REQUIRED_SETTINGS)
    spec = function_specs()[logical_id]
    assert declared <= set(spec.environment), declared - set(spec.environment)


def test_roles_come_from_the_jwt_groups_and_scopes() -> None:
    from sync_core.http.identity import Caller, caller_from_event
    from sync_core.http.roles import Role

    event: dict[str, Any] = {
        "requestContext": {
            "authorizer": {
                "jwt": {
                    "claims": {"sub": "u1", "cognito:groups": "[agent admins]", "scope": "sync-hub/administrator b"}
                }
            }
        }
    }
    # Groups and scopes that name no hub role ("admins", "b") grant nothing.
    assert caller_from_event(event) == Caller(id="u1", roles=frozenset({Role.AGENT, Role.ADMINISTRATOR}))
    iam = {"requestContext": {"authorizer": {"iam": {"userArn": "arn:aws:iam::1:user/x"}}}}
    assert caller_from_event(iam) == Caller(id="arn:aws:iam::1:user/x")
    assert caller_from_event({}).id == "anonymous"
