"""The error log table: attempts counted atomically, entries listed by status through GSI by_status."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sync_core.adapters.dynamodb.codec import (
    decode_cursor,
    deserialize_item,
    encode_cursor,
    serialize_item,
)
from sync_core.domain.entities import EntityName
from sync_core.domain.error_log import ErrorDirection, ErrorEntry, ErrorStatus, error_id
from sync_core.domain.records import Page
from sync_core.domain.sync_state import SyncOperation

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_INDEX_KEYS = {"pk", "status", "last_seen"}


class DynamoErrorLog:
    def __init__(self, client: DynamoDBClient, *, error_log_table: str) -> None:
        self._client = client
        self._table = error_log_table

    def record_failure(
        self,
        *,
        entity: EntityName,
        record_id: str,
        direction: ErrorDirection,
        operation: SyncOperation,
        code: str,
        message: str,
        payload: dict[str, Any] | None,
        status: ErrorStatus,
        now: datetime,
    ) -> ErrorEntry:
        entry_id = error_id(entity, record_id, direction, operation)
        values = serialize_item(
            {
                ":entity": entity.value,
                ":record": record_id,
                ":direction": direction.value,
                ":operation": operation.value,
                ":code": code,
                ":message": message,
                ":status": status.value,
                ":now": now.isoformat(),
                ":one": 1,
            }
        )
        names = {"#status": "status"}
        set_clauses = [
            "entity = :entity",
            "record_id = :record",
            "direction = :direction",
            "operation = :operation",
            "code = :code",
            "message = :message",
            "#status = :status",
            "last_seen = :now",
            "first_seen = if_not_exists(first_seen, :now)",
        ]
        if payload is not None:
            values[":payload"] = serialize_item({"p": payload})["p"]
            set_clauses.append("payload = :payload")
        # A new failure reopens a resolved entry: it must not expire while it is failing again.
        answer = self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": entry_id}},
            UpdateExpression=f"SET {', '.join(set_clauses)} ADD attempts :one REMOVE expires_at",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return _entry_from_item(answer["Attributes"])

    def get(self, error_id: str) -> ErrorEntry | None:
        answer = self._client.get_item(TableName=self._table, Key={"pk": {"S": error_id}}, ConsistentRead=True)
        item = answer.get("Item")
        return _entry_from_item(item) if item else None

    def list(self, status: ErrorStatus, *, limit: int, cursor: str | None) -> Page[ErrorEntry]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by_status",
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": {"S": status.value}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_cursor(cursor, expected_keys=_INDEX_KEYS)
        if start is not None:
            request["ExclusiveStartKey"] = start
        answer = self._client.query(**request)
        return Page[ErrorEntry](
            items=[_entry_from_item(item) for item in answer.get("Items", [])],
            next_cursor=encode_cursor(answer.get("LastEvaluatedKey")),
        )

    def save(self, entry: ErrorEntry) -> None:
        item = entry.model_dump(mode="json")
        item["pk"] = item.pop("id")
        self._client.put_item(TableName=self._table, Item=serialize_item(item))


def _entry_from_item(item: dict[str, Any]) -> ErrorEntry:
    plain = deserialize_item(item)
    plain["id"] = plain.pop("pk")
    return ErrorEntry.model_validate(plain)
