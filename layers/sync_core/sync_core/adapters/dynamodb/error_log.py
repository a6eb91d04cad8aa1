"""The error log table: attempts counted atomically, entries listed by status through GSI by_status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sync_core.adapters.dynamodb.codec import (
    decode_cursor,
    deserialize_item,
    encode_cursor,
    serialize_item,
)
from sync_core.domain.entities import EntityName
from sync_core.domain.error_log import ErrorDirection, ErrorEntry, ErrorFilter, ErrorStatus, error_id
from sync_core.domain.records import Page
from sync_core.domain.sync_state import SyncOperation

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_INDEX_KEYS = {"pk", "status", "last_seen"}
# Index pages one search reads at most (each up to `limit` entries before the filter).
SEARCH_PAGES = 10


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

    def search(self, where: ErrorFilter, *, limit: int, cursor: str | None) -> Page[ErrorEntry]:
        """Entries of one status, newest first, narrowed by entity, direction, code and a last_seen range: the
        index query reads the range, a filter drops the rest; pages are read until `limit` entries matched (at
        most SEARCH_PAGES of them per call: a sparse match answers a short page with a cursor to go on)."""
        names = {"#status": "status"}
        values: dict[str, Any] = {":status": {"S": where.status.value}}
        condition = "#status = :status"
        since, until = (_stamp(where.since), _stamp(where.until))
        if since and until:
            condition += " AND last_seen BETWEEN :since AND :until"
            values |= {":since": {"S": since}, ":until": {"S": until}}
        elif since:
            condition += " AND last_seen >= :since"
            values[":since"] = {"S": since}
        elif until:
            condition += " AND last_seen <= :until"
            values[":until"] = {"S": until}
        filters = []
        for name, value in (("entity", where.entity), ("direction", where.direction), ("code", where.code)):
            if value is not None:
                names[f"#{name}"] = name
                values[f":{name}"] = {"S": str(getattr(value, "value", value))}
                filters.append(f"#{name} = :{name}")
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by_status",
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        start = decode_cursor(cursor, expected_keys=_INDEX_KEYS)
        if start is not None:
            request["ExclusiveStartKey"] = start
        found: list[dict[str, Any]] = []
        last_key: dict[str, Any] | None = None
        for _ in range(SEARCH_PAGES):
            answer = self._client.query(**request)
            items = answer.get("Items", [])
            room = limit - len(found)
            found += items[:room]
            last_key = answer.get("LastEvaluatedKey")
            if len(items) > room:  # more matched than fit: go on after the last one returned
                last_key = {key: found[-1][key] for key in _INDEX_KEYS}
            if last_key is None or len(found) >= limit:
                break
            request["ExclusiveStartKey"] = last_key
        if len(found) >= limit and found:
            last_key = {key: found[-1][key] for key in _INDEX_KEYS}
        return Page[ErrorEntry](items=[_entry_from_item(item) for item in found], next_cursor=encode_cursor(last_key))

    def save(self, entry: ErrorEntry) -> None:
        item = entry.model_dump(mode="json")
        item["pk"] = item.pop("id")
        self._client.put_item(TableName=self._table, Item=serialize_item(item))


def _stamp(moment: datetime | None) -> str | None:
    # last_seen is stored as an aware UTC ISO string: compare like with like.
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _entry_from_item(item: dict[str, Any]) -> ErrorEntry:
    plain = deserialize_item(item)
    plain["id"] = plain.pop("pk")
    return ErrorEntry.model_validate(plain)
