"""Records and sync state in DynamoDB: a record and its state are always written in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sync_core.adapters.dynamodb.codec import decode_cursor, deserialize_item, encode_cursor, serialize_item
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord, Page
from sync_core.domain.sync_state import SyncState
from sync_core.errors import AlreadyExistsError, NotFoundError, StaleVersionError, ValidationFailedError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEY_NAMES = {"pk", "sk"}

# Sparse lookup keys, each the hash key of a GSI of the records table (sort key `sk`, so matches come in id
# order): a record carries `account_key` = "Contact#ACC-000001" only while its fields have an account_id.
# They turn "contacts of an account" and "cases by status, owner or account" into index queries.
LOOKUP_INDEXES: dict[str, tuple[str, str]] = {  # field -> (index name, key attribute)
    "account_id": ("by_account", "account_key"),
    "owner": ("by_owner", "owner_key"),
    "status": ("by_status", "status_key"),
}


def lookup_key(entity: EntityName, value: str) -> str:
    return f"{entity.value}#{value}"


def _key(entity: EntityName, record_id: str) -> dict[str, Any]:
    return {"pk": {"S": entity.value}, "sk": {"S": record_id}}


def record_to_item(record: HubRecord) -> dict[str, Any]:
    lookups = {
        attribute: lookup_key(record.entity, value)
        for field, (_, attribute) in LOOKUP_INDEXES.items()
        if isinstance(value := record.fields.get(field), str) and value
    }
    return serialize_item(
        {
            "pk": record.entity.value,
            "sk": record.id,
            "version": record.version,
            "fields": record.fields,
            "created_at": record.created_at.isoformat(),
            "updated_at": record.updated_at.isoformat(),
            "updated_by": record.updated_by,
            **lookups,
        }
    )


def record_from_item(item: dict[str, Any]) -> HubRecord:
    plain = deserialize_item(item)
    return HubRecord.model_validate({**plain, "entity": plain["pk"], "id": plain["sk"]})


def state_to_item(state: SyncState) -> dict[str, Any]:
    plain = state.model_dump(mode="json")
    return serialize_item(
        {
            **plain,
            "pk": state.entity.value,
            "sk": state.record_id,
            # Sparse GSI keys: only linked records appear in by_salesforce_id.
            "sf_id": state.external_ref,
            "status_key": f"{state.entity.value}#{state.status.value}",
        }
    )


def state_from_item(item: dict[str, Any]) -> SyncState:
    return SyncState.model_validate(deserialize_item(item))


class DynamoRecordStore:
    """RecordStore on the records table and the sync state table."""

    def __init__(self, client: DynamoDBClient, *, records_table: str, sync_state_table: str) -> None:
        self._client = client
        self._records_table = records_table
        self._state_table = sync_state_table

    def get(self, entity: EntityName, record_id: str) -> HubRecord | None:
        answer = self._client.get_item(TableName=self._records_table, Key=_key(entity, record_id), ConsistentRead=True)
        item = answer.get("Item")
        return record_from_item(item) if item else None

    def list(self, entity: EntityName, *, limit: int, cursor: str | None) -> Page[HubRecord]:
        request: dict[str, Any] = {
            "TableName": self._records_table,
            "KeyConditionExpression": "pk = :entity",
            "ExpressionAttributeValues": {":entity": {"S": entity.value}},
            "Limit": limit,
        }
        start = decode_cursor(cursor, expected_keys=_KEY_NAMES)
        if start is not None:
            if start["pk"] != {"S": entity.value}:
                raise ValidationFailedError("cursor belongs to another listing", field="cursor")
            request["ExclusiveStartKey"] = start
        answer = self._client.query(**request)
        return Page[HubRecord](
            items=[record_from_item(item) for item in answer.get("Items", [])],
            next_cursor=encode_cursor(answer.get("LastEvaluatedKey")),
        )

    def create(self, record: HubRecord, state: SyncState) -> None:
        self.write_together(creates=[(record, state)])

    def replace(self, record: HubRecord, state: SyncState, *, expected_version: int) -> None:
        self.write_together(replaces=[(record, state, expected_version)])

    def write_together(
        self,
        *,
        creates: Sequence[tuple[HubRecord, SyncState]] = (),
        replaces: Sequence[tuple[HubRecord, SyncState, int]] = (),
    ) -> None:
        """RecordBatchWriter: every record with its state in one TransactWriteItems (a released case and
        its invoice); a single create or replace is the one-record case."""
        written: list[tuple[HubRecord, int | None]] = [(record, expected) for record, _, expected in replaces]
        written += [(record, None) for record, _ in creates]
        states = [state for _, state, _ in replaces] + [state for _, state in creates]
        actions: list[Any] = []
        for (record, expected), state in zip(written, states, strict=True):
            actions += [self._record_put(record, expected), self._state_put(state)]
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            reasons = exc.response.get("CancellationReasons", [])
            # Record writes sit at even positions, each followed by its state: refuse for the one that failed.
            failed = [
                item
                for index, item in enumerate(written)
                if index * 2 < len(reasons) and reasons[index * 2].get("Code") == "ConditionalCheckFailed"
            ] or (written if len(written) == 1 else [])
            if not failed:
                raise
            record, expected = failed[0]
            raise self._refusal(record.entity, record.id, expected) from exc

    def delete(self, entity: EntityName, record_id: str, state: SyncState, *, expected_version: int) -> None:
        record_delete = {
            "Delete": {
                "TableName": self._records_table,
                "Key": _key(entity, record_id),
                "ConditionExpression": "attribute_exists(pk) AND version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        }
        actions: list[Any] = [record_delete, self._state_put(state)]
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            raise self._refusal(entity, record_id, expected_version) from exc

    def _record_put(self, record: HubRecord, expected_version: int | None) -> dict[str, Any]:
        """A new record must not exist yet; a replaced one must still be at the version it was read at."""
        if expected_version is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "attribute_exists(pk) AND version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        return {"Put": {"TableName": self._records_table, "Item": record_to_item(record), **condition}}

    def _state_put(self, state: SyncState) -> dict[str, Any]:
        return {"Put": {"TableName": self._state_table, "Item": state_to_item(state)}}

    def _refusal(self, entity: EntityName, record_id: str, expected_version: int | None) -> Exception:
        """Why a conditional write failed: the id is taken, the record is gone, or it moved on."""
        if expected_version is None:
            return AlreadyExistsError(f"{entity.value} {record_id} already exists")
        current = self.get(entity, record_id)
        if current is None:
            return NotFoundError(f"{entity.value} {record_id} does not exist")
        return StaleVersionError(
            f"{entity.value} {record_id} is at version {current.version}, not {expected_version}",
            expected=expected_version,
            current=current.version,
        )


class DynamoSyncStateStore:
    """SyncStateStore on the sync state table (GSI by_salesforce_id)."""

    def __init__(self, client: DynamoDBClient, *, sync_state_table: str) -> None:
        self._client = client
        self._table = sync_state_table

    def get(self, entity: EntityName, record_id: str) -> SyncState | None:
        answer = self._client.get_item(TableName=self._table, Key=_key(entity, record_id), ConsistentRead=True)
        item = answer.get("Item")
        return state_from_item(item) if item else None

    def find_by_salesforce_id(self, entity: EntityName, salesforce_id: str) -> SyncState | None:
        answer = self._client.query(
            TableName=self._table,
            IndexName="by_salesforce_id",
            KeyConditionExpression="sf_id = :sf_id",
            ExpressionAttributeValues={":sf_id": {"S": salesforce_id}},
        )
        for item in answer.get("Items", []):
            state = state_from_item(item)
            if state.entity is entity:
                return state
        return None


class DynamoSequenceStore:
    """SequenceStore on the sync config table: an atomic counter per sequence name."""

    def __init__(self, client: DynamoDBClient, *, sync_config_table: str) -> None:
        self._client = client
        self._table = sync_config_table

    def next_value(self, name: str) -> int:
        answer = self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": "SEQUENCE"}, "sk": {"S": name}},
            UpdateExpression="ADD current_value :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["current_value"]["N"])


def _condition_failed(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    if error.get("Code") == "ConditionalCheckFailedException":
        return True
    reasons = exc.response.get("CancellationReasons", [])
    return error.get("Code") == "TransactionCanceledException" and any(
        reason.get("Code") == "ConditionalCheckFailed" for reason in reasons
    )
