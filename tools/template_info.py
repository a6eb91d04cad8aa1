"""Read template.yaml for developer tools and tests: resources, API routes and the functions behind them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "template.yaml"


@cache
def template() -> dict[str, Any]:
    """template.yaml with short-form tags (!Ref, !GetAtt ...) turned into their long form."""
    loaded: dict[str, Any] = json.loads(json.dumps(load_cfn_yaml(str(TEMPLATE))))
    return loaded


@dataclass(frozen=True)
class ApiRoute:
    method: str  # ANY, GET, ...
    path: str  # /records/{entity}/{proxy+}
    function: str  # logical id of the function behind it
    authorization: Any  # AuthorizationType as written (an Fn::If, or a string)


def api_routes() -> list[ApiRoute]:
    resources = template()["Resources"]
    routes = []
    for spec in resources.values():
        if spec["Type"] != "AWS::ApiGatewayV2::Route":
            continue
        props = spec["Properties"]
        method, path = props["RouteKey"].split(" ", 1)
        integration = props["Target"]["Fn::Sub"].split("${")[1].rstrip("}")
        function = resources[integration]["Properties"]["IntegrationUri"]["Fn::GetAtt"][0]
        routes.append(ApiRoute(method, path, function, props.get("AuthorizationType")))
    return routes


def function_module(logical_id: str) -> str:
    """The import path of a function's handler module, e.g. functions.records_api.app."""
    code_uri = str(template()["Resources"][logical_id]["Properties"]["CodeUri"]).strip("/")
    return code_uri.replace("/", ".") + ".app"
