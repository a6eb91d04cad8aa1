"""Finding records by field values (records table and its lookup indexes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sync_core.adapters.dynamodb.codec import decode_cursor, encode_cursor, serialize_item
from sync_core.adapters.dynamodb.records import LOOKUP_INDEXES, lookup_key, record_from_item
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord, Page
from sync_core.errors import ValidationFailedError
from sync_core.ports.stores import FieldValue

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEY_NAMES = {"pk", "sk"}
# Filtered queries read this many items a call: more per call means fewer round trips for rare matches.
_READ_BATCH = 200


class DynamoRecordFinder:
    """RecordFinder: an index query when the filter names a looked-up field (account_id, owner, status), the
    other conditions filtering what it reads; else a query of the entity's partition with a filter.

    Index queries are eventually consistent (DynamoDB offers no consistent reads on a GSI): a record
    written a moment ago may be missing for a fraction of a second.
    """

    def __init__(self, client: DynamoDBClient, *, records_table: str) -> None:
        self._client = client
        self._table = records_table

    def find(
        self, entity: EntityName, where: dict[str, FieldValue], *, limit: int, cursor: str | None
    ) -> Page[HubRecord]:
        lookup = next((field for field in LOOKUP_INDEXES if isinstance(where.get(field), str) and where[field]), None)
        names: dict[str, str] = {"#fields": "fields"}
        values: dict[str, Any] = {}
        conditions = []
        for index, (name, value) in enumerate(sorted(where.items())):
            if name == lookup:
                continue
            names[f"#f{index}"] = name
            values.update(serialize_item({f":v{index}": value}))
            conditions.append(f"#fields.#f{index} = :v{index}")
        request: dict[str, Any] = {"TableName": self._table, "Limit": max(limit, _READ_BATCH)}
        if lookup is None:
            key_names = _KEY_NAMES
            expected_start = {"pk": {"S": entity.value}}
            request |= {"KeyConditionExpression": "pk = :entity", "ConsistentRead": True}
            values[":entity"] = {"S": entity.value}
        else:
            index_name, attribute = LOOKUP_INDEXES[lookup]
            key_names = _KEY_NAMES | {attribute}
            key_value = {"S": lookup_key(entity, str(where[lookup]))}
            expected_start = {"pk": {"S": entity.value}, attribute: key_value}
            request |= {"IndexName": index_name, "KeyConditionExpression": "#lookup = :lookup"}
            names["#lookup"] = attribute
            values[":lookup"] = key_value
        request["ExpressionAttributeValues"] = values
        if conditions:
            request["FilterExpression"] = " AND ".join(conditions)
        used_names = {name: value for name, value in names.items() if name == "#lookup" or conditions}
        if used_names:  # DynamoDB refuses attribute names that no expression uses
            request["ExpressionAttributeNames"] = used_names
        start = decode_cursor(cursor, expected_keys=key_names)
        if start is not None:
            if any(start[name] != value for name, value in expected_start.items()):
                raise ValidationFailedError("cursor belongs to another listing", field="cursor")
            request["ExclusiveStartKey"] = start
        found: list[dict[str, Any]] = []
        while True:
            answer = self._client.query(**request)
            items = answer.get("Items", [])
            more = "LastEvaluatedKey" in answer
            for position, item in enumerate(items):
                found.append(item)
                if len(found) == limit:
                    left = position < len(items) - 1 or more
                    next_key = {name: item[name] for name in key_names} if left else None
                    return _page(found, next_key)
            if not more:
                return _page(found, None)
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _page(items: list[dict[str, Any]], next_key: dict[str, Any] | None) -> Page[HubRecord]:
    return Page[HubRecord](items=[record_from_item(item) for item in items], next_cursor=encode_cursor(next_key))
