"""The hub's Salesforce API calls per UTC day in the sync config table (pk BUDGET, sk YYYY-MM-DD), atomic.

A DynamoDB store (the Salesforce client is its one user): it lives with the DynamoDB adapters so that
importing it never loads simple-salesforce, requests or jwt.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sync_core.domain.salesforce import ApiUsage, HubBudgetDay

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION = "BUDGET"


class DynamoApiBudgetStore:
    """ApiBudgetStore on DynamoDB: every container and function shares one count per day."""

    def __init__(self, client: DynamoDBClient, *, sync_config_table: str) -> None:
        self._client = client
        self._table = sync_config_table

    def day(self, day: str) -> HubBudgetDay:
        answer = self._client.get_item(TableName=self._table, Key=_key(day), ConsistentRead=True)
        item = answer.get("Item", {})
        org = None
        if "org_used" in item and "org_max" in item:
            seen_at = datetime.fromisoformat(item["org_seen_at"]["S"]) if "org_seen_at" in item else None
            org = ApiUsage(used=int(item["org_used"]["N"]), max=int(item["org_max"]["N"]), seen_at=seen_at)
        calls = int(item["calls"]["N"]) if "calls" in item else 0
        return HubBudgetDay(calls=max(0, calls), org=org)

    def reserve(self, day: str, calls: int, *, allowance: int, org: ApiUsage | None) -> bool:
        ceiling = allowance - calls
        if ceiling < 0:
            return False
        update, values = _update(calls, org)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(day),
                UpdateExpression=update,
                # The condition and the ADD are one atomic step: concurrent workers can't both take the last calls.
                ConditionExpression="attribute_not_exists(calls) OR calls <= :ceiling",
                ExpressionAttributeValues={**values, ":ceiling": {"N": str(ceiling)}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def add(self, day: str, calls: int, *, org: ApiUsage | None) -> None:
        if calls == 0 and org is None:
            return
        update, values = _update(calls, org)
        self._client.update_item(
            TableName=self._table, Key=_key(day), UpdateExpression=update, ExpressionAttributeValues=values
        )


def _key(day: str) -> dict[str, Any]:
    return {"pk": {"S": PARTITION}, "sk": {"S": day}}


def _update(calls: int, org: ApiUsage | None) -> tuple[str, dict[str, Any]]:
    expression = "ADD calls :calls"
    values: dict[str, Any] = {":calls": {"N": str(calls)}}
    if org is not None:
        expression += " SET org_used = :org_used, org_max = :org_max"
        values |= {":org_used": {"N": str(org.used)}, ":org_max": {"N": str(org.max)}}
        if org.seen_at is not None:  # when Salesforce reported it: others trust it only while it is recent
            expression += ", org_seen_at = :org_seen_at"
            values[":org_seen_at"] = {"S": org.seen_at.isoformat()}
    return expression, values
