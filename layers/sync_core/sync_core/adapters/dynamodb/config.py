"""Sync configuration per entity in the sync config table (pk ENTITY, sk entity name)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sync_core.adapters.dynamodb.codec import deserialize_item, serialize_item
from sync_core.domain.entities import EntityName
from sync_core.domain.sync_config import EntitySyncConfig

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION = "ENTITY"


class DynamoSyncConfigStore:
    def __init__(self, client: DynamoDBClient, *, sync_config_table: str) -> None:
        self._client = client
        self._table = sync_config_table

    def get(self, entity: EntityName) -> EntitySyncConfig:
        answer = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": PARTITION}, "sk": {"S": entity.value}}, ConsistentRead=True
        )
        item = answer.get("Item")
        if not item:
            return EntitySyncConfig(entity=entity)
        return _config_from_item(item)

    def list(self) -> list[EntitySyncConfig]:
        stored: dict[EntityName, EntitySyncConfig] = {}
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": PARTITION}},
            "ConsistentRead": True,
        }
        while True:
            answer = self._client.query(**request)  # type: ignore[arg-type]
            for item in answer.get("Items", []):
                config = _config_from_item(item)
                stored[config.entity] = config
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        # EntityName lists entities in dependency order (parents first).
        return [stored.get(entity) or EntitySyncConfig(entity=entity) for entity in EntityName]

    def put(self, config: EntitySyncConfig) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=serialize_item({**config.model_dump(mode="json"), "pk": PARTITION, "sk": config.entity.value}),
        )


def _config_from_item(item: Mapping[str, Any]) -> EntitySyncConfig:
    plain = deserialize_item(dict(item))
    plain.pop("pk", None)
    plain.pop("sk", None)
    return EntitySyncConfig.model_validate(plain)
