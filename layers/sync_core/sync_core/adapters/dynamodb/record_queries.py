"""Finding records by field values, and writing several records in one transaction (records table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sync_core.adapters.dynamodb.codec import decode_cursor, encode_cursor, serialize_item
from sync_core.adapters.dynamodb.records import record_from_item, record_to_item, state_to_item
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord, Page
from sync_core.domain.sync_state import SyncState
from sync_core.errors import AlreadyExistsError, NotFoundError, StaleVersionError, ValidationFailedError
from sync_core.ports.stores import FieldValue

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEY_NAMES = {"pk", "sk"}
# Filtered queries read this many items a call: more per call means fewer round trips for rare matches.
_READ_BATCH = 200


class DynamoRecordFinder:
    """RecordFinder: a query of the entity's partition with a filter on `fields.<name>`.

    It reads the whole partition in the worst case; fine for the hub's case volumes, and a GSI away
    from being an index lookup if they grow.
    """

    def __init__(self, client: DynamoDBClient, *, records_table: str) -> None:
        self._client = client
        self._table = records_table

    def find(
        self, entity: EntityName, where: dict[str, FieldValue], *, limit: int, cursor: str | None
    ) -> Page[HubRecord]:
        names: dict[str, str] = {"#fields": "fields"}
        values: dict[str, Any] = {":entity": {"S": entity.value}}
        conditions = []
        for index, (name, value) in enumerate(sorted(where.items())):
            names[f"#f{index}"] = name
            values.update(serialize_item({f":v{index}": value}))
            conditions.append(f"#fields.#f{index} = :v{index}")
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :entity",
            "ExpressionAttributeValues": values,
            "Limit": max(limit, _READ_BATCH),
            "ConsistentRead": True,
        }
        if conditions:  # DynamoDB refuses attribute names that no expression uses
            request["FilterExpression"] = " AND ".join(conditions)
            request["ExpressionAttributeNames"] = names
        start = decode_cursor(cursor, expected_keys=_KEY_NAMES)
        if start is not None:
            if start["pk"] != {"S": entity.value}:
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
                    next_key = {"pk": item["pk"], "sk": item["sk"]} if left else None
                    return _page(found, next_key)
            if not more:
                return _page(found, None)
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _page(items: list[dict[str, Any]], next_key: dict[str, Any] | None) -> Page[HubRecord]:
    return Page[HubRecord](items=[record_from_item(item) for item in items], next_cursor=encode_cursor(next_key))


class DynamoRecordBatchWriter:
    """RecordBatchWriter: one TransactWriteItems with a record and its state per written record."""

    def __init__(self, client: DynamoDBClient, *, records_table: str, sync_state_table: str) -> None:
        self._client = client
        self._records_table = records_table
        self._state_table = sync_state_table

    def write_together(
        self,
        *,
        creates: Sequence[tuple[HubRecord, SyncState]] = (),
        replaces: Sequence[tuple[HubRecord, SyncState, int]] = (),
    ) -> None:
        conditional: list[tuple[HubRecord, int | None]] = []
        actions: list[Any] = []
        for record, state, expected in replaces:
            conditional.append((record, expected))
            actions.append(
                {
                    "Put": {
                        "TableName": self._records_table,
                        "Item": record_to_item(record),
                        "ConditionExpression": "attribute_exists(pk) AND version = :expected",
                        "ExpressionAttributeValues": {":expected": {"N": str(expected)}},
                    }
                }
            )
            actions.append(self._state_put(state))
        for record, state in creates:
            conditional.append((record, None))
            actions.append(
                {
                    "Put": {
                        "TableName": self._records_table,
                        "Item": record_to_item(record),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
            actions.append(self._state_put(state))
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons", [])
            # Record writes sit at even positions (each followed by its state): find the one that failed.
            for index, (written, expected_version) in enumerate(conditional):
                if index * 2 < len(reasons) and reasons[index * 2].get("Code") == "ConditionalCheckFailed":
                    raise self._refusal(written, expected_version) from exc
            raise

    def _state_put(self, state: SyncState) -> dict[str, Any]:
        return {"Put": {"TableName": self._state_table, "Item": state_to_item(state)}}

    def _refusal(self, record: HubRecord, expected: int | None) -> Exception:
        if expected is None:
            return AlreadyExistsError(f"{record.entity.value} {record.id} already exists")
        answer = self._client.get_item(
            TableName=self._records_table,
            Key={"pk": {"S": record.entity.value}, "sk": {"S": record.id}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if not item:
            return NotFoundError(f"{record.entity.value} {record.id} does not exist")
        current = record_from_item(item).version
        return StaleVersionError(
            f"{record.entity.value} {record.id} is at version {current}, not {expected}",
            expected=expected,
            current=current,
        )
