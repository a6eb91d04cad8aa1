"""Pull requests in the sync state table: pk PULL_REQUEST, sk the entity (sync_core.ports.pulls).

One item per entity folds every request: `since` is the earliest moment asked for, `latest` the latest, both as
fixed-width UTC ISO text so DynamoDB compares them as strings. `clear` deletes the item only if no request came
after the pull began (a condition on `latest`), so a request made during a pull is never lost.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sync_core.domain.entities import EntityName
from sync_core.ports.pulls import PullRequest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION = "PULL_REQUEST"


def stamp_text(moment: datetime) -> str:
    """A UTC moment as fixed-width text (microseconds, +00:00): text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("a pull request's time must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _failed_condition(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoPullRequests:
    """PullRequests on DynamoDB."""

    def __init__(self, client: DynamoDBClient, *, sync_state_table: str) -> None:
        self._client = client
        self._table = sync_state_table

    def _key(self, entity: EntityName) -> dict[str, Any]:
        return {"pk": {"S": PARTITION}, "sk": {"S": entity.value}}

    def request(self, entity: EntityName, *, reason: str, at: datetime) -> None:
        values = {":at": {"S": stamp_text(at)}, ":reason": {"S": reason[:1000]}, ":one": {"N": "1"}}
        try:
            # The usual case: a first request, or one no earlier than the earliest held.
            self._client.update_item(
                TableName=self._table,
                Key=self._key(entity),
                UpdateExpression=(
                    "SET reason = :reason, since = if_not_exists(since, :at), latest = :at ADD requests :one"
                ),
                ConditionExpression="attribute_not_exists(since) OR since <= :at",
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if not _failed_condition(error):
                raise
            # An earlier moment than any held (delivered late): the pull must start there; `latest` stays.
            self._client.update_item(
                TableName=self._table,
                Key=self._key(entity),
                UpdateExpression="SET reason = :reason, since = :at ADD requests :one",
                ExpressionAttributeValues=values,
            )

    def pending(self) -> list[PullRequest]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": PARTITION}},
            "ConsistentRead": True,
        }
        found: dict[EntityName, PullRequest] = {}
        while True:
            answer = self._client.query(**request)
            for item in answer.get("Items", []):
                try:
                    entity = EntityName(item["sk"]["S"])
                except ValueError:
                    continue  # an entity the hub no longer has: nothing to pull
                found[entity] = PullRequest(
                    entity=entity,
                    reason=item.get("reason", {}).get("S", ""),
                    since=datetime.fromisoformat(item["since"]["S"]),
                    latest=datetime.fromisoformat(item["latest"]["S"]),
                    requests=int(item.get("requests", {}).get("N", "1")),
                )
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return [found[entity] for entity in EntityName if entity in found]

    def clear(self, entity: EntityName, *, up_to: datetime) -> bool:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._key(entity),
                ConditionExpression="attribute_not_exists(latest) OR latest <= :up_to",
                ExpressionAttributeValues={":up_to": {"S": stamp_text(up_to)}},
            )
        except ClientError as error:
            if _failed_condition(error):
                return False
            raise
        return True
