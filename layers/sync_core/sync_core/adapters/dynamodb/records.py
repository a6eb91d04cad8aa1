"""Records and sync state in DynamoDB: a record and its state are always written in one transaction."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sync_core.adapters.dynamodb.codec import (
    MAX_ITEM_BYTES,
    MAX_PARTITION_KEY_BYTES,
    decode_cursor,
    deserialize_item,
    encode_cursor,
    item_size,
    serialize_item,
)
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord, Page
from sync_core.domain.sync_state import SyncState
from sync_core.errors import (
    AlreadyExistsError,
    ContendedError,
    NotFoundError,
    StaleVersionError,
    ValidationFailedError,
)

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


def record_to_item(record: HubRecord, *, written_by: str | None = None) -> dict[str, Any]:
    """The record as an item; a record DynamoDB could not store (over 400 KB, a lookup value over its key size)
    is refused naming the field, before anything is written. `written_by` is the writer's actor
    (domain.sync.transitions.Actor): the records table's stream skips the sync's own writes by it."""
    lookups = {
        attribute: lookup_key(record.entity, value)
        for field, (_, attribute) in LOOKUP_INDEXES.items()
        if isinstance(value := record.fields.get(field), str) and value
    }
    for field, (_, attribute) in LOOKUP_INDEXES.items():
        if attribute in lookups and len(lookups[attribute].encode()) > MAX_PARTITION_KEY_BYTES:
            raise ValidationFailedError(
                f"{field} is too long to look records up by (DynamoDB keys hold {MAX_PARTITION_KEY_BYTES} bytes)",
                field=f"body.{field}",
            )
    item = serialize_item(
        {
            "pk": record.entity.value,
            "sk": record.id,
            "version": record.version,
            "fields": record.fields,
            "created_at": record.created_at.isoformat(),
            "updated_at": record.updated_at.isoformat(),
            "updated_by": record.updated_by,
            "written_by": written_by,
            **lookups,
        }
    )
    if (size := item_size(item)) > MAX_ITEM_BYTES:
        raise ValidationFailedError(
            f"the {record.entity.value} would take {size} bytes; DynamoDB stores at most {MAX_ITEM_BYTES} per item",
            field="body",
        )
    return item


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


def record_put_action(table: str, record: HubRecord, expected_version: int | None) -> dict[str, Any]:
    """A new record must not exist yet; a replaced one must still be at the version it was read at."""
    if expected_version is None:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        condition = {
            "ConditionExpression": "attribute_exists(pk) AND version = :expected",
            "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
        }
    return {"Put": {"TableName": table, "Item": record_to_item(record), **condition}}


def state_put_action(table: str, state: SyncState) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": state_to_item(state)}}


class DynamoRecordStore:
    """RecordStore on the records table and the sync state table."""

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        records_table: str,
        sync_state_table: str,
        sequences: DynamoSequenceStore | None = None,
    ) -> None:
        self._client = client
        self._records_table = records_table
        self._state_table = sync_state_table
        # The numbering sequences whose values this store's creates claim (see DynamoSequenceStore).
        self._sequences = sequences

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
        its invoice); a single create or replace is the one-record case.

        A new record numbered by DynamoSequenceStore claims its number in the same transaction, so a create
        that fails uses no number; one that lost its number to a concurrent create is a ContendedError
        (nothing written: the caller numbers it again)."""
        written: list[tuple[HubRecord, int | None]] = [(record, expected) for record, _, expected in replaces]
        written += [(record, None) for record, _ in creates]
        states = [state for _, state, _ in replaces] + [state for _, state in creates]
        actions: list[Any] = []
        for (record, expected), state in zip(written, states, strict=True):
            actions += [
                record_put_action(self._records_table, record, expected),
                state_put_action(self._state_table, state),
            ]
        claims = [claim for record, _ in creates if self._sequences and (claim := self._sequences.claim(record))]
        try:
            self._client.transact_write_items(TransactItems=actions + claims)
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            reasons = exc.response.get("CancellationReasons", [])
            if claims and any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons[-len(claims) :]):
                raise ContendedError("a concurrent create took the same number; retry", code="SequenceTaken") from exc
            # Record writes sit at even positions, each followed by its state: refuse for the one that failed.
            failed = [
                item
                for index, item in enumerate(written)
                if index * 2 < len(reasons) and reasons[index * 2].get("Code") == "ConditionalCheckFailed"
            ] or (written if len(written) == 1 else [])
            if not failed:
                raise
            record, expected = failed[0]
            raise self.refusal(record.entity, record.id, expected) from exc

    def delete(self, entity: EntityName, record_id: str, state: SyncState, *, expected_version: int) -> None:
        record_delete = {
            "Delete": {
                "TableName": self._records_table,
                "Key": _key(entity, record_id),
                "ConditionExpression": "attribute_exists(pk) AND version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        }
        actions: list[Any] = [record_delete, state_put_action(self._state_table, state)]
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            raise self.refusal(entity, record_id, expected_version) from exc

    def refusal(self, entity: EntityName, record_id: str, expected_version: int | None) -> Exception:
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
    """SequenceStore on the sync config table: a counter per sequence name (`record#<Entity>`).

    next_value reads the counter and offers the value after it without writing; the create of the record
    numbered with it advances the counter in its own transaction (DynamoRecordStore, `claim`). So a create
    that fails (throttled, refused, cancelled) uses no number, and two concurrent creates cannot both have
    the same one: the second's transaction fails and it is numbered again.
    """

    # Values offered per sequence and not yet claimed, kept for the records being built in this process.
    _OFFERS_KEPT = 1000

    def __init__(self, client: DynamoDBClient, *, sync_config_table: str) -> None:
        self._client = client
        self._table = sync_config_table
        self._offered: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def next_value(self, name: str) -> int:
        answer = self._client.get_item(TableName=self._table, Key=self._key(name), ConsistentRead=True)
        current = int(answer.get("Item", {}).get("current_value", {}).get("N", "0"))
        with self._lock:
            offered = self._offered.setdefault(name, [])
            offered.append(current + 1)
            del offered[: -self._OFFERS_KEPT]
        return current + 1

    def claim(self, record: HubRecord) -> dict[str, Any] | None:
        """The transaction item that advances the record's sequence to the number its id was given, when the
        id came from next_value here; None for an id numbered some other way."""
        name = f"record#{record.entity.value}"
        with self._lock:
            number = next((value for value in self._offered.get(name, []) if _numbered(record.id, value)), None)
        if number is None:
            return None
        return {
            "Update": {
                "TableName": self._table,
                "Key": self._key(name),
                "UpdateExpression": "SET current_value = :number",
                "ConditionExpression": "attribute_not_exists(current_value) OR current_value < :number",
                "ExpressionAttributeValues": {":number": {"N": str(number)}},
            }
        }

    @staticmethod
    def _key(name: str) -> dict[str, Any]:
        return {"pk": {"S": "SEQUENCE"}, "sk": {"S": name}}


def _numbered(record_id: str, number: int) -> bool:
    """Whether an id is a sequence number with its prefix (ACC-000042, CS000042 are 42)."""
    return re.fullmatch(rf"\D+0*{number}", record_id) is not None


def condition_failed(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    if error.get("Code") == "ConditionalCheckFailedException":
        return True
    reasons = exc.response.get("CancellationReasons", [])
    return error.get("Code") == "TransactionCanceledException" and any(
        reason.get("Code") == "ConditionalCheckFailed" for reason in reasons
    )
