"""Calling an API function in-process with API Gateway HTTP API (payload 2.0) events built from events/."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

from tests.conftest import FakeLambdaContext, load_event


class Handler(Protocol):
    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]: ...


@dataclass
class ApiAnswer:
    status: int
    headers: dict[str, str]
    body: Any


def http_event(
    method: str,
    path: str,
    *,
    route_key: str,
    body: Any = None,
    raw_body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    user: str | None = None,
    roles: Sequence[str] = (),
) -> dict[str, Any]:
    """The sample event events/apigw_http_request.json, changed to this request."""
    event = load_event("apigw_http_request")
    event["routeKey"] = route_key
    event["rawPath"] = path
    event["rawQueryString"] = urlencode(query or {})
    event["queryStringParameters"] = dict(query) if query else None
    event["headers"] = {**event["headers"], **{key.lower(): value for key, value in (headers or {}).items()}}
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["routeKey"] = route_key
    event["body"] = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    if user is not None:
        claims = {"sub": user, **({"cognito:groups": "[" + " ".join(roles) + "]"} if roles else {})}
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event


def call(handler: Handler, event: dict[str, Any]) -> ApiAnswer:
    answer = handler(event, FakeLambdaContext())
    raw = answer.get("body")
    body = json.loads(raw) if raw else None
    return ApiAnswer(status=answer["statusCode"], headers=answer.get("headers") or {}, body=body)
