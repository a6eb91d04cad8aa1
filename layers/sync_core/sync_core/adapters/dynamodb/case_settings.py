"""Every kind of case setting in the sync config table: one generic store (pk = kind, sk = id).

Keyed kinds (classes, workgroups, contracts) are one item each. The assignment map is an ordered list read
whole by Apply Assignment Rules: it is kept in chunks of ASSIGNMENT_CHUNK_SIZE rules (pk CASE_ASSIGNMENT_RULES,
sk 0000, 0001, ...), so one paged Query reads it and one TransactWriteItems replaces it all or nothing. Every
chunk carries the map's `generation` and chunk count: the replacement is conditional on the generation it read
(two concurrent replacements cannot mix), and a read that meets two generations reads again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from sync_core.adapters.dynamodb.codec import deserialize_item, serialize_item
from sync_core.adapters.dynamodb.records import condition_failed
from sync_core.domain.cases.settings import (
    CASE_CLASSES,
    CONTRACTS,
    MAX_ASSIGNMENT_RULES,
    WORKGROUPS,
    AssignmentRule,
    SettingKind,
)
from sync_core.errors import RetryableError, StaleVersionError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITIONS = {CASE_CLASSES.name: "CASE_CLASS", WORKGROUPS.name: "WORKGROUP", CONTRACTS.name: "CONTRACT"}
ASSIGNMENT_PARTITION = "CASE_ASSIGNMENT_RULES"
# 100 rules of at most ~1 KB each: a chunk stays far below 400 KB, and the largest map (MAX_ASSIGNMENT_RULES)
# is 20 chunks, so replacing it (puts plus deletes of a longer old map) fits one 100-action transaction.
ASSIGNMENT_CHUNK_SIZE = 100
_MAX_CHUNKS = -(-MAX_ASSIGNMENT_RULES // ASSIGNMENT_CHUNK_SIZE)
_READ_ATTEMPTS = 3


class DynamoCaseSettingsStore:
    """CaseSettingsStore on the sync config table, next to the per-entity sync configuration."""

    def __init__(self, client: DynamoDBClient, *, sync_config_table: str) -> None:
        self._client = client
        self._table = sync_config_table

    def get[M: BaseModel](self, kind: SettingKind[M], setting_id: str) -> M | None:
        answer = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": PARTITIONS[kind.name]}, "sk": {"S": setting_id}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return _from_item(kind.model, item) if item else None

    def list_all[M: BaseModel](self, kind: SettingKind[M]) -> list[M]:
        return [_from_item(kind.model, item) for item in self._partition(PARTITIONS[kind.name])]

    def put[M: BaseModel](self, kind: SettingKind[M], value: M) -> None:
        item = {**value.model_dump(mode="json"), "pk": PARTITIONS[kind.name], "sk": kind.id_of(value)}
        self._client.put_item(TableName=self._table, Item=serialize_item(item))

    def assignment_rules(self) -> list[AssignmentRule]:
        for _ in range(_READ_ATTEMPTS):
            chunks = [deserialize_item(item) for item in self._partition(ASSIGNMENT_PARTITION)]
            if _one_whole_map(chunks):
                return [AssignmentRule.model_validate(rule) for chunk in chunks for rule in chunk["rules"]]
        raise RetryableError("the assignment map was being replaced while it was read", code="AssignmentMapChanging")

    def replace_assignment_rules(self, rules: Sequence[AssignmentRule]) -> None:
        current = [deserialize_item(item) for item in self._partition(ASSIGNMENT_PARTITION, keys_only=True)]
        generation = max((int(chunk["generation"]) for chunk in current), default=0)
        read_generation = int(current[0]["generation"]) if current else None
        chunks = [rules[start : start + ASSIGNMENT_CHUNK_SIZE] for start in range(0, len(rules), ASSIGNMENT_CHUNK_SIZE)]
        if len(chunks) > _MAX_CHUNKS:  # the model bounds the map; this keeps the transaction inside its limits
            raise ValueError(f"at most {MAX_ASSIGNMENT_RULES} assignment rules")
        actions: list[Any] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": serialize_item(
                        {
                            "pk": ASSIGNMENT_PARTITION,
                            "sk": _chunk_key(index),
                            "generation": generation + 1,
                            "chunks": len(chunks),
                            "rules": [rule.model_dump(mode="json", exclude_none=True) for rule in chunk],
                        }
                    ),
                }
            }
            for index, chunk in enumerate(chunks)
        ]
        actions += [
            {"Delete": {"TableName": self._table, "Key": {"pk": {"S": ASSIGNMENT_PARTITION}, "sk": {"S": key}}}}
            for key in sorted({str(chunk["sk"]) for chunk in current} - {_chunk_key(i) for i in range(len(chunks))})
        ]
        if not actions:
            return
        # The first action writes or deletes chunk 0000: it carries the check that no one replaced the map since.
        first = next(iter(actions[0].values()))
        if read_generation is None:
            first["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            first["ConditionExpression"] = "#generation = :read"
            first["ExpressionAttributeNames"] = {"#generation": "generation"}
            first["ExpressionAttributeValues"] = {":read": {"N": str(read_generation)}}
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            raise StaleVersionError("the assignment map was replaced by another call meanwhile: read it again") from exc

    def _partition(self, partition: str, *, keys_only: bool = False) -> list[dict[str, Any]]:
        """Every item of the partition in sort-key order: one Query, followed page by page."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ConsistentRead": True,
        }
        if keys_only:
            request["ProjectionExpression"] = "pk, sk, #generation"
            request["ExpressionAttributeNames"] = {"#generation": "generation"}
        found: list[dict[str, Any]] = []
        while True:
            answer = self._client.query(**request)
            found += answer.get("Items", [])
            if "LastEvaluatedKey" not in answer:
                return found
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _chunk_key(index: int) -> str:
    return f"{index:04d}"


def _one_whole_map(chunks: list[dict[str, Any]]) -> bool:
    """All chunks of one generation, and all of them (a read that overlapped a replacement is not)."""
    if not chunks:
        return True
    generations = {int(chunk["generation"]) for chunk in chunks}
    counts = {int(chunk["chunks"]) for chunk in chunks}
    expected = [_chunk_key(i) for i in range(len(chunks))]
    return len(generations) == 1 and counts == {len(chunks)} and [str(c["sk"]) for c in chunks] == expected


def _from_item[M: BaseModel](model: type[M], item: dict[str, Any]) -> M:
    plain = deserialize_item(item)
    plain.pop("pk", None)
    plain.pop("sk", None)
    return model.model_validate(plain)
