"""The template's stateful resources created in moto, and the template's intrinsic functions resolved.

moto's CloudFormation makes the tables (GSIs, streams) and the FIFO queues with their redrive policy
from template.yaml itself, so there is no second list of resources to keep in step. It ignores TTL,
which is applied here through the API.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tools.template_info import Template

STATEFUL_TYPES = frozenset({"AWS::DynamoDB::Table", "AWS::SQS::Queue"})
ACCOUNT_ID = "123456789012"  # moto's default account
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def create_stateful_resources(session: Any, stack_name: str, doc: Template) -> dict[str, str]:
    """Create the template's tables and queues as one moto CloudFormation stack; logical id -> physical id."""
    resources = doc["Resources"]
    stateful = {name: spec for name, spec in resources.items() if spec["Type"] in STATEFUL_TYPES}
    cloudformation = session.client("cloudformation")
    cloudformation.create_stack(StackName=stack_name, TemplateBody=json.dumps({"Resources": stateful}))
    physical = {
        item["LogicalResourceId"]: item["PhysicalResourceId"]
        for item in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    }
    dynamodb = session.client("dynamodb")
    for name, spec in stateful.items():
        ttl = spec["Properties"].get("TimeToLiveSpecification")
        if spec["Type"] == "AWS::DynamoDB::Table" and ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=physical[name],
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
    return physical


@dataclass
class StackContext:
    """What intrinsic functions need: parameter values, physical ids and resource attributes."""

    doc: Template
    session: Any
    stack_name: str
    physical: dict[str, str]
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"

    def parameter(self, name: str) -> Any:
        if name in self.parameter_overrides:
            return self.parameter_overrides[name]
        spec = self.doc.get("Parameters", {}).get(name)
        if spec is None:
            raise KeyError(f"template has no parameter {name}")
        return spec.get("Default", "")

    def attribute(self, logical_id: str, name: str) -> str:
        resource_type = self.doc["Resources"][logical_id]["Type"]
        if resource_type == "AWS::Serverless::Function" and name == "Arn":
            return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.stack_name}-{logical_id}"
        physical = self.physical[logical_id]
        if resource_type == "AWS::SQS::Queue":
            if name == "QueueUrl":
                return physical
            arn = self.session.client("sqs").get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])
            if name == "Arn":
                return str(arn["Attributes"]["QueueArn"])
            if name == "QueueName":
                return physical.rsplit("/", 1)[-1]
        if resource_type == "AWS::DynamoDB::Table":
            table = self.session.client("dynamodb").describe_table(TableName=physical)["Table"]
            if name == "Arn":
                return str(table["TableArn"])
            if name == "StreamArn":
                return str(table["LatestStreamArn"])
        raise KeyError(f"the local stack cannot resolve {logical_id}.{name} ({resource_type})")

    def pseudo(self, name: str) -> str:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.doc.get("Parameters", {}):
            return self.parameter(name)
        if name in self.physical:
            return self.physical[name]
        if name in self.doc["Resources"]:
            return f"{self.stack_name}-{name}"  # functions and other resources moto did not create
        raise KeyError(f"!Ref {name}: no such parameter or resource")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.doc.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:
        """A template value with Ref, GetAtt, Sub, If, Equals, Not, And, Or and Join evaluated."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(item) for key, item in value.items()}
        ((key, argument),) = value.items()
        match key:
            case "Ref":
                return self.ref(argument)
            case "Fn::GetAtt":
                logical_id, name = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.attribute(logical_id, name)
            case "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                values = {name: self.resolve(item) for name, item in variables.items()}
                return _SUB_VARIABLE.sub(lambda match: str(self._sub_variable(match.group(1), values)), text)
            case "Fn::If":
                condition, when_true, when_false = argument
                return self.resolve(when_true if self.condition(condition) else when_false)
            case "Fn::Equals":
                left, right = self.resolve(argument)
                return left == right
            case "Fn::Not":
                return not self.resolve(argument[0])
            case "Fn::And":
                return all(self.resolve(item) for item in argument)
            case "Fn::Or":
                return any(self.resolve(item) for item in argument)
            case "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            case "Condition":
                return self.condition(argument)
        return {key: self.resolve(argument)}

    def _sub_variable(self, name: str, values: dict[str, Any]) -> Any:
        if name in values:
            return values[name]
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self.attribute(logical_id, attribute)
        return self.ref(name)

    def environment(self, variables: dict[str, Any]) -> dict[str, str]:
        """A function's environment variables as Lambda would set them."""
        return {name: str(self.resolve(value)) for name, value in variables.items()}
