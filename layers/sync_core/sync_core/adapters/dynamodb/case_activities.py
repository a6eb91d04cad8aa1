"""A case's activities in the records table, one item each, next to the case they belong to.

Key design: pk = "Case#<caseId>#Activity" (never an entity name, so record listings, the lookup GSIs and
RecordStore.list never see them), sk = the activity number zero-padded to 10 digits, so a Query returns them in
the order they were logged. The item holds the activity (`activity`) and `billable` at the top level, for the
billable-only reads of release and rebasing. Appending one is a single TransactWriteItems with the case's next
version (its running totals, conditional on the version read) and the case's sync state.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sync_core.adapters.dynamodb.codec import decode_cursor, deserialize_item, encode_cursor, serialize_item
from sync_core.adapters.dynamodb.sync import DynamoSyncStore
from sync_core.domain.cases.activities import Activity
from sync_core.domain.entities import EntityName
from sync_core.domain.records import Page
from sync_core.errors import ValidationFailedError
from sync_core.ports.sync import StoredWrite

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEY_NAMES = {"pk", "sk"}
_BILLABLE_PAGE = 500


def activity_partition(case_id: str) -> str:
    return f"{EntityName.CASE.value}#{case_id}#Activity"


def activity_sort_key(number: int) -> str:
    return f"{number:010d}"


class DynamoCaseActivityStore:
    """CaseActivityStore on the records table (and the sync state table, for the case written with it)."""

    def __init__(self, client: DynamoDBClient, *, records_table: str, sync_state_table: str) -> None:
        self._client = client
        self._records_table = records_table
        self._state_table = sync_state_table
        self._sync = DynamoSyncStore(client, records_table=records_table, sync_state_table=sync_state_table)

    def page(self, case_id: str, *, limit: int, cursor: str | None) -> Page[Activity]:
        partition = activity_partition(case_id)
        request = self._query(partition, limit=limit)
        start = decode_cursor(cursor, expected_keys=_KEY_NAMES)
        if start is not None:
            if start["pk"] != {"S": partition}:
                raise ValidationFailedError("cursor belongs to another case's activities", field="cursor")
            request["ExclusiveStartKey"] = start
        answer = self._client.query(**request)
        return Page[Activity](
            items=[_activity(item) for item in answer.get("Items", [])],
            next_cursor=encode_cursor(answer.get("LastEvaluatedKey")),
        )

    def billable(self, case_id: str) -> Iterator[Activity]:
        request = self._query(activity_partition(case_id), limit=_BILLABLE_PAGE)
        request["FilterExpression"] = "billable = :yes"
        request["ExpressionAttributeValues"][":yes"] = {"BOOL": True}
        while True:
            answer = self._client.query(**request)
            yield from (_activity(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def append(self, writes: Sequence[StoredWrite], *, activity: Activity) -> None:
        # The case's next version and state come from the one write path (SyncWriter); the activity joins
        # their transaction. Its number is taken only if the case moved on too: reported as the case's refusal.
        case = writes[0].key
        activity_put = {
            "Put": {
                "TableName": self._records_table,
                "Item": activity_item(case.record_id, activity),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        self._sync.commit_with(writes, [activity_put])

    def _query(self, partition: str, *, limit: int) -> dict[str, Any]:
        return {
            "TableName": self._records_table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "Limit": limit,
            "ConsistentRead": True,
        }


def activity_item(case_id: str, activity: Activity) -> dict[str, Any]:
    return serialize_item(
        {
            "pk": activity_partition(case_id),
            "sk": activity_sort_key(activity.number),
            "billable": activity.billable,
            "activity": activity.model_dump(mode="json", exclude_none=True),
        }
    )


def _activity(item: dict[str, Any]) -> Activity:
    return Activity.model_validate(deserialize_item(item)["activity"])
