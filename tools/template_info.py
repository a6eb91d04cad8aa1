"""Read template.yaml for developer tools, tests and the local stack: resources, API routes and functions.

Every reader takes an optional template document so tests can hand in a small template of their own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "template.yaml"

Template = dict[str, Any]


@cache
def template() -> Template:
    """template.yaml with short-form tags (!Ref, !GetAtt ...) turned into their long form."""
    return load_template(TEMPLATE)


def load_template(path: Path) -> Template:
    loaded: Template = json.loads(json.dumps(load_cfn_yaml(str(path))))
    return loaded


@dataclass(frozen=True)
class ApiRoute:
    method: str  # ANY, GET, ...
    path: str  # /records/{entity}/{proxy+}
    function: str  # logical id of the function behind it
    authorization: Any  # AuthorizationType as written (an Fn::If, or a string)


def api_routes(doc: Template | None = None) -> list[ApiRoute]:
    resources = (doc or template())["Resources"]
    routes = []
    for spec in resources.values():
        if spec["Type"] != "AWS::ApiGatewayV2::Route":
            continue
        props = spec["Properties"]
        # "$default" catches what no other route matches.
        method, path = ("ANY", "$default") if props["RouteKey"] == "$default" else props["RouteKey"].split(" ", 1)
        integration = props["Target"]["Fn::Sub"].split("${")[1].rstrip("}")
        function = resources[integration]["Properties"]["IntegrationUri"]["Fn::GetAtt"][0]
        routes.append(ApiRoute(method, path, function, props.get("AuthorizationType")))
    return routes


@dataclass(frozen=True)
class EventSource:
    """One entry of a function's SAM `Events` (SQS, DynamoDB, Schedule, ScheduleV2, EventBridgeRule ...)."""

    name: str
    kind: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    """A function as the template declares it, Globals applied; intrinsic functions left unresolved."""

    logical_id: str
    module: str  # functions.records_api.app
    handler: str  # lambda_handler
    timeout: int
    memory_size: int
    environment: dict[str, Any]
    events: tuple[EventSource, ...]
    layers: tuple[str, ...]  # logical ids of the template's layers the function uses


def function_module(logical_id: str, doc: Template | None = None) -> str:
    """The import path of a function's handler module, e.g. functions.records_api.app."""
    return function_specs(doc)[logical_id].module


def function_specs(doc: Template | None = None) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function, by logical id."""
    doc = doc or template()
    defaults = doc.get("Globals", {}).get("Function", {})
    specs = {}
    for logical_id, resource in doc["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = {**defaults, **resource["Properties"]}
        module_file, handler = str(props["Handler"]).rsplit(".", 1)
        package = str(props["CodeUri"]).strip("/").replace("/", ".")
        environment = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **resource["Properties"].get("Environment", {}).get("Variables", {}),
        }
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            module=f"{package}.{module_file}",
            handler=handler,
            timeout=int(props.get("Timeout", 3)),
            memory_size=int(props.get("MemorySize", 128)),
            environment=environment,
            events=tuple(
                EventSource(name, event["Type"], event.get("Properties", {}))
                for name, event in props.get("Events", {}).items()
            ),
            layers=tuple(
                layer["Ref"] for layer in props.get("Layers", []) if isinstance(layer, dict) and "Ref" in layer
            ),
        )
    return specs


def layer_paths(doc: Template | None = None) -> dict[str, Path]:
    """Each AWS::Serverless::LayerVersion's source folder (what SAM builds into /opt/python)."""
    doc = doc or template()
    return {
        logical_id: REPO / str(resource["Properties"]["ContentUri"]).strip("/")
        for logical_id, resource in doc["Resources"].items()
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    }


@dataclass(frozen=True)
class DynamoGrant:
    """One Allow statement's DynamoDB part: actions on a table or one of its indexes, perhaps only for some
    partition keys (the `dynamodb:LeadingKeys` condition)."""

    table: str  # logical id of the AWS::DynamoDB::Table
    index: str | None  # a secondary index's name; None for the table itself
    actions: frozenset[str]  # GetItem, Query, ... (without the "dynamodb:" prefix)
    leading_keys: frozenset[str] | None  # the partition keys it is limited to; None: any

    def allows(self, table: str, index: str | None, action: str, partition_key: str | None) -> bool:
        if (self.table, self.index) != (table, index) or action not in self.actions:
            return False
        return self.leading_keys is None or partition_key in self.leading_keys


_INDEX_ARN = re.compile(r"^\$\{(\w+)\.Arn\}/index/([\w.-]+)$")


def _grant_resource(resource: Any) -> tuple[str, str | None]:
    """(table, index) of `!GetAtt Table.Arn` or `!Sub "${Table.Arn}/index/name"`; anything wider is refused."""
    if isinstance(resource, dict) and list(resource) == ["Fn::GetAtt"] and resource["Fn::GetAtt"][1] == "Arn":
        return str(resource["Fn::GetAtt"][0]), None
    if isinstance(resource, dict) and list(resource) == ["Fn::Sub"] and isinstance(resource["Fn::Sub"], str):
        found = _INDEX_ARN.match(resource["Fn::Sub"])
        if found:
            return found.group(1), found.group(2)
    raise ValueError(f"a DynamoDB grant names one table or index by its ARN, not {resource!r}")


def _leading_keys(condition: Any) -> frozenset[str] | None:
    if condition is None:
        return None
    keys = condition.get("ForAllValues:StringEquals", {}).get("dynamodb:LeadingKeys") if condition else None
    if not isinstance(keys, list) or condition != {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": keys}}:
        raise ValueError(f"the only condition a DynamoDB grant may carry is dynamodb:LeadingKeys, not {condition!r}")
    return frozenset(str(key) for key in keys)


def dynamodb_grants(logical_id: str, doc: Template | None = None) -> list[DynamoGrant]:
    """What a function's Policies allow it in DynamoDB, statement by statement.

    Only explicit statements are understood: a SAM policy template (DynamoDBCrudPolicy ...) or a wildcard
    in a DynamoDB statement raises ValueError, so a grant is always spelled out action by action.
    """
    resource = (doc or template())["Resources"][logical_id]
    grants = []
    for policy in resource["Properties"].get("Policies", []):
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise ValueError(f"{logical_id}: policy {policy!r} is not an explicit statement list")
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            dynamodb = [str(action) for action in actions if str(action).startswith("dynamodb:")]
            if not dynamodb:
                continue
            if statement.get("Effect") != "Allow" or any("*" in action for action in dynamodb):
                raise ValueError(f"{logical_id}: {statement!r} is not an Allow of named actions")
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for table, index in (_grant_resource(item) for item in resources):
                grants.append(
                    DynamoGrant(
                        table=table,
                        index=index,
                        actions=frozenset(action.removeprefix("dynamodb:") for action in dynamodb),
                        leading_keys=_leading_keys(statement.get("Condition")),
                    )
                )
    return grants
