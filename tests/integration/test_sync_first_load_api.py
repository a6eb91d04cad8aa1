"""A first load (Process All) and its dry run through sync administration's HTTP interface
(POST /sync/entities/{entity}/process-all, function sync_first_load_api), with moto and the Salesforce emulator:
the dry run reports the plan and writes nothing, the real run does what it reported; administrators only; the
function calls DynamoDB only as its role allows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.runtime import LocalFunction
from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
from sync_core.domain.entities import EntityName
from sync_core.domain.sync_config import EntitySyncConfig
from tests.integration.test_least_privilege import DynamoCallRecorder, _physical_tables
from tests.support.engine import Engine, running_engine
from tools.template_info import dynamodb_grants


@pytest.fixture
def engine() -> Iterator[Engine]:
    with running_engine() as running:
        yield running


def _populated(engine: Engine) -> None:
    """Accounts on both sides, written while the entity was stopped, then the entity started (nothing synced)."""
    store = DynamoSyncConfigStore(dynamodb_client(), sync_config_table=engine.environment["SYNC_CONFIG_TABLE"])
    store.put(EntitySyncConfig(entity=EntityName.ACCOUNT, status="Stopped"))
    for name, city in (("Both Ltd", "Leeds"), ("Only Hub", "Rome")):
        engine.api("POST", "/records/Account", body={"name": name, "billing_address": {"city": city}})
    engine.drain()
    engine.emulator.seed("Account", [{"Name": "Both Ltd", "BillingCity": "Leeds"}, {"Name": "Only SF"}])
    store.put(EntitySyncConfig(entity=EntityName.ACCOUNT))


def _names(engine: Engine) -> list[str]:
    return sorted(row["Name"] for row in engine.emulator.records("Account"))


def test_a_dry_run_reports_the_plan_and_the_first_load_then_does_it(engine: Engine) -> None:
    _populated(engine)

    dry = engine.admin("POST", "/sync/entities/Account/process-all", body={"dry_run": True})
    assert dry.status == 200, dry.body
    assert (dry.body["hub_records"], dry.body["salesforce_records"], dry.body["queued"]) == (2, 2, 0)
    planned = {action: count for action, count in dry.body["counts"].items() if count}
    assert planned == {"link": 1, "create in Salesforce": 1, "create in hub": 1}, dry.body["counts"]
    engine.drain()
    assert _names(engine) == ["Both Ltd", "Only SF"]  # the dry run wrote nothing

    done = engine.admin("POST", "/sync/entities/Account/process-all", body={"dry_run": False})
    assert done.status == 200, done.body
    assert done.body["counts"] == dry.body["counts"] and done.body["queued"] == 3
    engine.drain()

    assert _names(engine) == ["Both Ltd", "Only Hub", "Only SF"]  # no duplicate of "Both Ltd"
    hub = engine.api("GET", "/records/Account", query={"limit": "10"}).body["items"]
    assert sorted(record["fields"]["name"] for record in hub) == ["Both Ltd", "Only Hub", "Only SF"]


def test_a_first_load_needs_the_administrator_role(engine: Engine) -> None:
    answer = engine.admin(
        "POST", "/sync/entities/Account/process-all", body={"dry_run": True}, user="mallory", roles=("integration",)
    )
    assert answer.status == 403, answer.body
    assert answer.body["required_roles"] == ["administrator"]


def test_the_first_load_calls_dynamodb_only_as_its_role_allows(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = DynamoCallRecorder(_physical_tables(engine.environment))
    invoke = LocalFunction.invoke
    recording = {"on": False}

    def attributed(function: LocalFunction, event: Any) -> Any:
        recording["on"] = function.name == "SyncFirstLoadApiFunction"
        try:
            return invoke(function, event)
        finally:
            recording["on"] = False

    _populated(engine)
    engine.emulator.seed("Account", [{"Name": "Dup", "BillingCity": "Oslo"}, {"Name": "Dup", "BillingCity": "OSLO"}])
    engine.api("POST", "/records/Account", body={"name": "Dup", "billing_address": {"city": "Oslo"}})
    dynamodb_client().meta.events.register(
        "provide-client-params.dynamodb.*", lambda **kwargs: recorder(**kwargs) if recording["on"] else None
    )
    monkeypatch.setattr(LocalFunction, "invoke", attributed)
    handler = engine.functions["SyncFirstLoadApiFunction"]
    from tests.support.api import http_event

    for dry_run in (True, False):
        event = http_event(
            "POST",
            "/sync/entities/Account/process-all",
            route_key="POST /sync/entities/{entity}/process-all",
            body={"dry_run": dry_run},
            user="admin",
            roles=("administrator",),
        )
        answer = handler.invoke(event)
        assert answer["statusCode"] == 200, answer

    grants = dynamodb_grants("SyncFirstLoadApiFunction")
    outside = [access for access in recorder.accesses if not any(grant.allows(*access) for grant in grants)]
    assert outside == [], "the first load calls DynamoDB beyond its role in template.yaml"
    used = {(table, index, action) for table, index, action, _ in recorder.accesses}
    granted = {(grant.table, grant.index, action) for grant in grants for action in grant.actions}
    assert granted - used == set(), "its role grants what its code never calls"
