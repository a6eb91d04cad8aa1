"""Routes a data-API call to its resource and names its endpoint kind (counters and fault rules)."""

from __future__ import annotations

from . import bulk, composite, rest, sobject_collections
from .errors import SalesforceError, not_found
from .org import Call, Org, Reply, error_reply

KINDS = (
    "oauth",
    "versions",
    "resources",
    "describe",
    "sobject",
    "query",
    "collections",
    "composite",
    "bulk_ingest",
    "bulk_query",
    "limits",
    "other",
)


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def kind_of(path: str, method: str = "GET") -> str:
    parts = _parts(path)
    if not parts:
        return "resources"
    head = parts[0]
    if head == "sobjects":
        if len(parts) == 1 or (len(parts) == 3 and parts[2] == "describe"):
            return "describe"
        return "sobject" if len(parts) > 2 or method != "GET" else "describe"
    if head in ("query", "queryAll"):
        return "query"
    if head == "composite":
        return "collections" if len(parts) > 1 and parts[1] == "sobjects" else "composite"
    if head == "jobs" and len(parts) > 1:
        return "bulk_query" if parts[1] == "query" else "bulk_ingest"
    if head == "limits":
        return "limits"
    return "other"


def dispatch(org: Org, call: Call) -> Reply:
    try:
        return _route(org, call)
    except SalesforceError as exc:
        return error_reply(exc)


def _route(org: Org, call: Call) -> Reply:
    parts = _parts(call.path)
    if not parts:
        return rest.resources(org, call)
    head, rest_parts = parts[0], parts[1:]
    if head == "sobjects":
        return rest.sobjects(org, call, rest_parts)
    if head in ("query", "queryAll"):
        return rest.query(org, call, head == "queryAll", rest_parts)
    if head == "limits" and not rest_parts:
        return rest.limits(org, call)
    if head == "composite":
        if rest_parts and rest_parts[0] == "sobjects":
            return sobject_collections.handle(org, call, rest_parts[1:])
        if not rest_parts:
            if call.in_composite:
                raise not_found()
            return composite.handle(org, call)
    if head == "jobs" and rest_parts and rest_parts[0] in ("ingest", "query") and not call.in_composite:
        return bulk.handle(org, call, rest_parts[0], rest_parts[1:])
    raise not_found()
