"""Handlers of the small template the local stack's event-source tests run (they record what they get)."""

from __future__ import annotations

import json
import threading
from typing import Any

CALLS: dict[str, list[Any]] = {"sqs": [], "stream": [], "schedule": [], "rule": [], "api": []}
_LOCK = threading.Lock()
FAILING_RULE_ATTEMPTS: list[str] = []


def _record(kind: str, event: Any) -> None:
    with _LOCK:
        CALLS[kind].append(event)


def on_sqs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fails the messages whose body says {"fail": true}, as a partial batch failure."""
    _record("sqs", event)
    failures = [
        {"itemIdentifier": record["messageId"]} for record in event["Records"] if json.loads(record["body"]).get("fail")
    ]
    return {"batchItemFailures": failures}


def on_stream(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fails (once) the first record whose NewImage has poison=1, to prove the retry from that record."""
    _record("stream", event)
    for record in event["Records"]:
        image = record["dynamodb"].get("NewImage", {})
        if image.get("poison", {}).get("N") == "1" and not any(
            call.get("retried") for call in CALLS["stream"] if isinstance(call, dict)
        ):
            CALLS["stream"].append({"retried": record["dynamodb"]["SequenceNumber"]})
            return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
    return {"batchItemFailures": []}


def on_schedule(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record("schedule", event)
    return {"remaining_ms": context.get_remaining_time_in_millis()}


def on_rule(event: dict[str, Any], context: Any) -> None:
    _record("rule", event)
    if event.get("detail", {}).get("explode"):
        FAILING_RULE_ATTEMPTS.append(event["id"])
        raise RuntimeError("asked to fail")


def on_api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record("api", event)
    if event["rawPath"].endswith("/binary"):
        return {
            "statusCode": 200,
            "headers": {"content-type": "image/png"},
            "body": "iVBORw0K",
            "isBase64Encoded": True,
        }
    if event["rawPath"].endswith("/bare"):
        return {"ok": True}  # type: ignore[return-value]
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-route": event["routeKey"]},
        "cookies": ["session=abc; Path=/"],
        "body": json.dumps({"path": event.get("pathParameters"), "user": event["requestContext"].get("authorizer")}),
    }
