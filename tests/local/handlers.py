"""Handlers of the small template the local stack's event-source tests run (they record what they get)."""

from __future__ import annotations

import json
import threading
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

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


# A Powertools resolver keeps the event it is answering in `app.current_event`, one per process, as the
# hub's API functions do: it proves the local stack runs one event at a time per function.
whoami_app = APIGatewayHttpResolver()
_ENVIRONMENT = threading.Condition()
_RUNNING: list[int] = [0]
MOST_AT_ONCE: list[int] = [0]


@whoami_app.get("/whoami")
def _whoami() -> dict[str, Any]:
    with _ENVIRONMENT:
        _RUNNING[0] += 1
        MOST_AT_ONCE[0] = max(MOST_AT_ONCE[0], _RUNNING[0])
        _ENVIRONMENT.notify_all()
        # Give a second event the chance to start meanwhile (it can only if the stack allows two at once).
        _ENVIRONMENT.wait_for(lambda: _RUNNING[0] > 1, timeout=0.2)
        _RUNNING[0] -= 1
    return {"caller": whoami_app.current_event.headers.get("x-caller")}


def on_whoami(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return whoami_app.resolve(event, context)
