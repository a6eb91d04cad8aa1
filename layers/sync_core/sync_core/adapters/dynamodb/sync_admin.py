"""Sync administration's DynamoDB adapters: the sync-status index and changes held while stopped.

Keys are listed in sync_core.ports.sync_admin.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sync_core.adapters.dynamodb.codec import decode_cursor, deserialize_item, encode_cursor, serialize_item
from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change
from sync_core.domain.sync_state import SyncStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_WRITE_LIMIT = 25


def _held_partition(entity: EntityName) -> str:
    return f"HELD#{entity.value}"


def _held_key(change: Change) -> dict[str, Any]:
    # Sorted by when Salesforce made the change, then one item per change (a redelivery is held once).
    sk = f"{change.stamp.astimezone(UTC).isoformat()}#{change.deduplication_id}"
    return {"pk": {"S": _held_partition(change.entity)}, "sk": {"S": sk}}


def _batch_write(client: DynamoDBClient, table: str, requests: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending: list[Any] = list(requests[start : start + BATCH_WRITE_LIMIT])
        while pending:
            answer = client.batch_write_item(RequestItems={table: pending})
            pending = list(answer.get("UnprocessedItems", {}).get(table, []))


class DynamoSyncStatusIndex:
    """The sync state table's index by_status (keys only; `<entity>#<status>`, newest update last)."""

    def __init__(self, client: DynamoDBClient, *, sync_state_table: str) -> None:
        self._client = client
        self._table = sync_state_table

    def _request(self, entity: EntityName, status: SyncStatus, limit: int) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "IndexName": "by_status",
            "KeyConditionExpression": "status_key = :key",
            "ExpressionAttributeValues": {":key": {"S": f"{entity.value}#{status.value}"}},
            "Limit": limit,
        }

    def count(self, entity: EntityName, status: SyncStatus, *, limit: int) -> int:
        """One query of at most `limit` index keys (a page of keys is at most 1 MB, and `limit` keys far less)."""
        answer = self._client.query(**self._request(entity, status, limit), Select="COUNT")
        return int(answer.get("Count", 0))

    def record_ids(
        self, entity: EntityName, status: SyncStatus, *, limit: int, cursor: str | None
    ) -> tuple[list[str], str | None]:
        request = self._request(entity, status, limit)
        start = decode_cursor(cursor, expected_keys={"pk", "sk", "status_key", "updated_at"})
        if start is not None:
            request["ExclusiveStartKey"] = start
        answer = self._client.query(**request)
        ids = [str(item["sk"]["S"]) for item in answer.get("Items", [])]
        return ids, encode_cursor(answer.get("LastEvaluatedKey"))


class DynamoHeldChanges:
    """Changes from Salesforce held in the sync state table while their entity is stopped."""

    def __init__(self, client: DynamoDBClient, *, sync_state_table: str) -> None:
        self._client = client
        self._table = sync_state_table

    def hold(self, changes: Sequence[Change], *, reason: str, now: datetime) -> None:
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        **_held_key(change),
                        **serialize_item(
                            {"change": change.model_dump_json(), "reason": reason, "held_at": now.isoformat()}
                        ),
                    }
                }
            }
            for change in {_held_key(change)["sk"]["S"]: change for change in changes}.values()
        ]
        _batch_write(self._client, self._table, requests)

    def _query(self, entity: EntityName, limit: int, **extra: Any) -> dict[str, Any]:
        return dict(
            self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": _held_partition(entity)}},
                Limit=limit,
                ConsistentRead=True,
                **extra,
            )
        )

    def held(self, entity: EntityName, *, limit: int) -> list[Change]:
        answer = self._query(entity, limit)
        return [Change.model_validate_json(str(deserialize_item(item)["change"])) for item in answer.get("Items", [])]

    def count_held(self, entity: EntityName, *, limit: int) -> int:
        return int(self._query(entity, limit, Select="COUNT").get("Count", 0))

    def release(self, changes: Sequence[Change]) -> None:
        keys = {_held_key(change)["sk"]["S"]: _held_key(change) for change in changes}
        _batch_write(self._client, self._table, [{"DeleteRequest": {"Key": key}} for key in keys.values()])
