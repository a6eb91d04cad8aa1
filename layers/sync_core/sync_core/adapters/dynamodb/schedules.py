"""The scheduler's memory and the pushes it finds, in the sync state table (sync_core.ports.schedules).

SCHEDULE / <entity> holds the watermark, the last run, `catching_up` and the lease. The lease is taken by one
conditional UpdateItem (no lease, or an expired one) and given back by the write that records the run, on
condition that this run still holds it: two ticks (or a tick and an administrator's "sync now") never pull one
entity at once, and a run that outlived its lease records nothing.

Pushes are found through the table's `by_status` index (status_key `<entity>#<status>`, sorted by updated_at)
and their states read in batches.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sync_core.adapters.dynamodb.records import state_from_item
from sync_core.adapters.dynamodb.sync import _batch_get
from sync_core.domain.entities import EntityName
from sync_core.domain.sync.schedule import EntityRun
from sync_core.domain.sync_state import SyncState, SyncStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION = "SCHEDULE"
STATUS_INDEX = "by_status"


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _moment(item: dict[str, Any], name: str) -> datetime | None:
    value = item.get(name, {}).get("S")
    return datetime.fromisoformat(value) if value else None


def _run_from_item(item: dict[str, Any]) -> EntityRun:
    return EntityRun(
        entity=EntityName(item["sk"]["S"]),
        watermark=_moment(item, "watermark"),
        last_run=_moment(item, "last_run"),
        catching_up=bool(item.get("catching_up", {}).get("BOOL", False)),
    )


def _failed_condition(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoScheduleLedger:
    def __init__(self, client: DynamoDBClient, *, sync_state_table: str) -> None:
        self._client = client
        self._table = sync_state_table

    def _key(self, entity: EntityName) -> dict[str, Any]:
        return {"pk": {"S": PARTITION}, "sk": {"S": entity.value}}

    def runs(self) -> dict[EntityName, EntityRun]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": PARTITION}},
            "ConsistentRead": True,
        }
        found: dict[EntityName, EntityRun] = {}
        while True:
            answer = self._client.query(**request)
            for item in answer.get("Items", []):
                if item["sk"]["S"] in EntityName:
                    run = _run_from_item(item)
                    found[run.entity] = run
            if "LastEvaluatedKey" not in answer:
                return found
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def acquire(self, entity: EntityName, *, owner: str, now: datetime, until: datetime) -> EntityRun | None:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=self._key(entity),
                UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":until": {"S": _text(until)},
                    ":now": {"S": _text(now)},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _failed_condition(error):
                return None
            raise
        return _run_from_item(answer["Attributes"])

    def finish(
        self,
        entity: EntityName,
        *,
        owner: str,
        watermark: datetime | None,
        last_run: datetime | None,
        catching_up: bool,
    ) -> bool:
        sets = ["catching_up = :catching_up"]
        values: dict[str, Any] = {":owner": {"S": owner}, ":catching_up": {"BOOL": catching_up}}
        if watermark is not None:
            sets.append("watermark = :watermark")
            values[":watermark"] = {"S": _text(watermark)}
        if last_run is not None:
            sets.append("last_run = :last_run")
            values[":last_run"] = {"S": _text(last_run)}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(entity),
                UpdateExpression=f"SET {', '.join(sets)} REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _failed_condition(error):
                return False
            raise
        return True


class DynamoPendingExports:
    def __init__(self, client: DynamoDBClient, *, sync_state_table: str) -> None:
        self._client = client
        self._table = sync_state_table

    def candidates(
        self, entity: EntityName, *, modified_before: datetime, error_before: datetime, limit: int
    ) -> list[SyncState]:
        keys: list[dict[str, Any]] = []
        for status, before in ((SyncStatus.MODIFIED_LOCALLY, modified_before), (SyncStatus.ERROR, error_before)):
            keys += self._keys(f"{entity.value}#{status.value}", before, limit - len(keys))
        if not keys:
            return []
        found = _batch_get(self._client, {self._table: keys})[self._table]
        states = [state_from_item(item) for item in found]
        return sorted(states, key=lambda state: state.updated_at)

    def _keys(self, status_key: str, before: datetime, limit: int) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "status_key = :status AND updated_at < :before",
            "ExpressionAttributeValues": {
                ":status": {"S": status_key},
                # The states' updated_at is pydantic's JSON text (UTC, "Z"); the index sorts it as text.
                ":before": {"S": before.astimezone(UTC).isoformat().replace("+00:00", "Z")},
            },
            "Limit": min(limit, 1000),
        }
        keys: list[dict[str, Any]] = []
        while len(keys) < limit:
            answer = self._client.query(**request)
            keys += [{"pk": item["pk"], "sk": item["sk"]} for item in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return keys[:limit]
