"""The hub's OpenAPI document, generated from the API functions' resolvers (python -m tools.openapi --write)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

from tools.template_info import REPO, api_routes, function_module

OPENAPI_PATH = REPO / "docs" / "openapi.json"
TITLE = "Salesforce sync hub API"
VERSION = "0.1.0"


def generate() -> dict[str, Any]:
    """Merge the OpenAPI schemas of every function the template routes API calls to."""
    document: dict[str, Any] = {}
    for module_name in sorted({function_module(route.function) for route in api_routes()}):
        app = getattr(importlib.import_module(module_name), "app", None)
        if app is None:  # not a resolver: the outbound-message webhook speaks Salesforce's SOAP (its WSDL)
            continue
        schema = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION))
        if not document:
            document = schema
            continue
        document["paths"].update(schema.get("paths", {}))
        document.setdefault("components", {}).setdefault("schemas", {}).update(
            schema.get("components", {}).get("schemas", {})
        )
    document["info"]["description"] = (
        "Records, cases and sync administration of the Salesforce sync hub. In the cloud every route is "
        "authorised by IAM (SigV4) or a JWT authoriser (template parameter ApiAuthMode); on the local stack "
        "the X-Hub-User and X-Hub-Roles headers name the caller and its roles. Roles (agent, integration, "
        "administrator) come from the JWT's groups or scopes, or for IAM callers from HUB_IAM_ROLE_MAP; a route "
        "that needs one documents its 403. Salesforce's outbound messages (SOAP, POST "
        "/salesforce/outbound/{token}) are not part of this document: they follow Salesforce's Outbound "
        "Messaging WSDL (README)."
    )
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {OPENAPI_PATH.relative_to(REPO)}")
    args = parser.parse_args()
    text = render(generate())
    if args.write:
        OPENAPI_PATH.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
