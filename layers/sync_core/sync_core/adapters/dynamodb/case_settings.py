"""Case classes, workgroups, contracts and the assignment map in the sync config table (pk = kind, sk = id)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from sync_core.adapters.dynamodb.codec import deserialize_item, serialize_item
from sync_core.domain.cases import AssignmentRules, CaseClass, Contract, Workgroup

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CLASS_PARTITION = "CASE_CLASS"
WORKGROUP_PARTITION = "WORKGROUP"
CONTRACT_PARTITION = "CONTRACT"
ASSIGNMENT_KEY = ("CASE_ASSIGNMENT", "default")


class DynamoCaseSettingsStore:
    """CaseSettingsStore on the sync config table, next to the per-entity sync configuration."""

    def __init__(self, client: DynamoDBClient, *, sync_config_table: str) -> None:
        self._client = client
        self._table = sync_config_table

    def get_class(self, class_id: str) -> CaseClass | None:
        return self._get(CaseClass, CLASS_PARTITION, class_id)

    def list_classes(self) -> list[CaseClass]:
        return self._list(CaseClass, CLASS_PARTITION)

    def put_class(self, case_class: CaseClass) -> None:
        self._put(case_class, CLASS_PARTITION, case_class.class_id)

    def get_workgroup(self, workgroup_id: str) -> Workgroup | None:
        return self._get(Workgroup, WORKGROUP_PARTITION, workgroup_id)

    def list_workgroups(self) -> list[Workgroup]:
        return self._list(Workgroup, WORKGROUP_PARTITION)

    def put_workgroup(self, workgroup: Workgroup) -> None:
        self._put(workgroup, WORKGROUP_PARTITION, workgroup.workgroup_id)

    def get_contract(self, contract_id: str) -> Contract | None:
        return self._get(Contract, CONTRACT_PARTITION, contract_id)

    def list_contracts(self) -> list[Contract]:
        return self._list(Contract, CONTRACT_PARTITION)

    def put_contract(self, contract: Contract) -> None:
        self._put(contract, CONTRACT_PARTITION, contract.contract_id)

    def get_assignment_rules(self) -> AssignmentRules:
        return self._get(AssignmentRules, *ASSIGNMENT_KEY) or AssignmentRules()

    def put_assignment_rules(self, rules: AssignmentRules) -> None:
        self._put(rules, *ASSIGNMENT_KEY)

    def _get[M: BaseModel](self, model: type[M], partition: str, key: str) -> M | None:
        answer = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": partition}, "sk": {"S": key}}, ConsistentRead=True
        )
        item = answer.get("Item")
        return _from_item(model, item) if item else None

    def _list[M: BaseModel](self, model: type[M], partition: str) -> list[M]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ConsistentRead": True,
        }
        found: list[M] = []
        while True:
            answer = self._client.query(**request)
            found += [_from_item(model, item) for item in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                return found
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _put(self, value: BaseModel, partition: str, key: str) -> None:
        self._client.put_item(
            TableName=self._table, Item=serialize_item({**value.model_dump(mode="json"), "pk": partition, "sk": key})
        )


def _from_item[M: BaseModel](model: type[M], item: dict[str, Any]) -> M:
    plain = deserialize_item(item)
    plain.pop("pk", None)
    plain.pop("sk", None)
    return model.model_validate(plain)
