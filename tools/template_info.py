"""Read template.yaml for developer tools, tests and the local stack: resources, API routes and functions.

Every reader takes an optional template document so tests can hand in a small template of their own.
"""

from __future__ import annotations

import json
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
