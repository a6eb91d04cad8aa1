"""Sync configuration per entity in the sync config table (pk ENTITY, sk entity name), and its saved versions
(pk CONFIG_VERSION, sk `<entity>#<version>`: sync_core.ports.sync_admin)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sync_core.adapters.dynamodb.codec import decode_cursor, deserialize_item, encode_cursor, serialize_item
from sync_core.domain.entities import EntityName
from sync_core.domain.records import Page
from sync_core.domain.sync_admin import ConfigVersion
from sync_core.domain.sync_config import EntitySyncConfig
from sync_core.errors import StaleVersionError, ValidationFailedError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION = "ENTITY"
VERSIONS = "CONFIG_VERSION"
_VERSION_DIGITS = 12


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

    def save(
        self, config: EntitySyncConfig, *, expected_version: int, change: str, actor: str, now: datetime
    ) -> EntitySyncConfig:
        saved = config.model_copy(update={"version": expected_version + 1, "updated_at": now, "updated_by": actor})
        plain = saved.model_dump(mode="json")
        # A configuration stored before versions were counted has none: it is version 0.
        condition = "version = :expected"
        if not expected_version:
            condition = f"attribute_not_exists(version) OR {condition}"
        version = ConfigVersion(
            entity=saved.entity, version=saved.version, saved_at=now, saved_by=actor, change=change, config=saved
        )
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": serialize_item({**plain, "pk": PARTITION, "sk": saved.entity.value}),
                            "ConditionExpression": condition,
                            "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": serialize_item(
                                {
                                    **version.model_dump(mode="json"),
                                    "pk": VERSIONS,
                                    "sk": _version_key(saved.entity, saved.version),
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            current = self.get(config.entity).version
            raise StaleVersionError(
                f"the {config.entity.value} sync configuration is at version {current}, not {expected_version}",
                expected=expected_version,
                current=current,
            ) from exc
        return saved

    def versions(self, entity: EntityName, *, limit: int, cursor: str | None) -> Page[ConfigVersion]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :entity)",
            "ExpressionAttributeValues": {":pk": {"S": VERSIONS}, ":entity": {"S": f"{entity.value}#"}},
            "ScanIndexForward": False,
            "Limit": limit,
            "ConsistentRead": True,
        }
        start = decode_cursor(cursor, expected_keys={"pk", "sk"})
        if start is not None:
            if not start["sk"]["S"].startswith(f"{entity.value}#"):
                raise ValidationFailedError("cursor is not one this API returned for this entity", field="cursor")
            request["ExclusiveStartKey"] = start
        answer = self._client.query(**request)
        items = []
        for item in answer.get("Items", []):
            plain = deserialize_item(item)
            plain.pop("pk", None)
            plain.pop("sk", None)
            items.append(ConfigVersion.model_validate(plain))
        return Page[ConfigVersion](items=items, next_cursor=encode_cursor(answer.get("LastEvaluatedKey")))


def _version_key(entity: EntityName, version: int) -> str:
    return f"{entity.value}#{version:0{_VERSION_DIGITS}d}"


def _config_from_item(item: Mapping[str, Any]) -> EntitySyncConfig:
    plain = deserialize_item(dict(item))
    plain.pop("pk", None)
    plain.pop("sk", None)
    return EntitySyncConfig.model_validate(plain)
