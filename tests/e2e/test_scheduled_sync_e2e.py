"""The scheduled sync on the local stack, as `make run` starts it: the one-minute tick (fired at once through
/__local/schedules) pulls what no real-time path delivered: a record created in Salesforce without a message
(seeded) and a deletion, which the entity's delete policy applies in the hub."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import requests

from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
from sync_core.domain.entities import EntityName
from sync_core.domain.sync_config import EntitySyncConfig
from tests.e2e.conftest import RunningLocalStack
from tests.e2e.test_sync_e2e import _api, _emulator, _wait


def _table(stack: RunningLocalStack, logical_id: str) -> str:
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint, region_name="us-east-1")
    [name] = [name for name in dynamodb.list_tables()["TableNames"] if logical_id in name]
    return name


def _fire_tick(stack: RunningLocalStack) -> dict[str, Any]:
    [name] = [name for name in _api(stack, "GET", "/__local/schedules").json() if "ScheduledSync" in name]
    answer = _api(stack, "POST", f"/__local/schedules/{name}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _hub_lead(stack: RunningLocalStack, salesforce_id: str) -> dict[str, Any] | None:
    found = requests.get(f"{stack.api_url}/records/Lead", params={"salesforce_id": salesforce_id}, timeout=10).json()
    return found["items"][0] if found["items"] else None


def _time_passes(stack: RunningLocalStack) -> None:
    """As if the Lead schedule fired again since its last run."""
    boto3.client("dynamodb", endpoint_url=stack.aws_endpoint, region_name="us-east-1").update_item(
        TableName=_table(stack, "SyncStateTable"),
        Key={"pk": {"S": "SCHEDULE"}, "sk": {"S": "Lead"}},
        UpdateExpression="SET last_run = :long_ago",
        ExpressionAttributeValues={":long_ago": {"S": "2025-01-01T00:00:00.000000+00:00"}},
    )


def test_a_scheduled_run_pulls_a_change_and_a_deletion_made_in_salesforce(local_stack: RunningLocalStack) -> None:
    dynamodb = boto3.client("dynamodb", endpoint_url=local_stack.aws_endpoint, region_name="us-east-1")
    configs = DynamoSyncConfigStore(dynamodb, sync_config_table=_table(local_stack, "SyncConfigTable"))
    configs.put(
        EntitySyncConfig.model_validate(
            {"entity": "Lead", "schedule": {"kind": "rate", "every_minutes": 60}, "delete_policy": "delete in hub"}
        )
    )
    tag = uuid.uuid4().hex[:8]
    [doomed] = _emulator(
        local_stack, "/seed", "POST", {"sobject": "Lead", "records": [{"LastName": f"Doomed {tag}", "Company": "X"}]}
    )["ids"]
    _fire_tick(local_stack)
    hub_doomed = _wait(local_stack, lambda: _hub_lead(local_stack, doomed), "the seeded lead pulled into the hub")

    [created] = _emulator(
        local_stack, "/seed", "POST", {"sobject": "Lead", "records": [{"LastName": f"New {tag}", "Company": "Y"}]}
    )["ids"]
    _emulator(local_stack, "/clock", "POST", {"advance_seconds": 2})  # the delete a later SystemModstamp second
    _emulator(local_stack, "/changes", "POST", {"op": "delete", "sobject": "Lead", "id": doomed})
    _time_passes(local_stack)
    _fire_tick(local_stack)

    hub_created = _wait(local_stack, lambda: _hub_lead(local_stack, created), "the new lead pulled into the hub")
    assert hub_created["fields"]["last_name"] == f"New {tag}"
    _wait(
        local_stack,
        lambda: _api(local_stack, "GET", f"/records/Lead/{hub_doomed['id']}").status_code == 404,
        "the lead deleted in Salesforce deleted in the hub (the Lead delete policy)",
    )
    assert EntityName.LEAD  # the entity the configuration above schedules
