"""DynamoDB failures on demand for in-process tests: the hub's own boto3 client answers an operation with an
error (as DynamoDB would after botocore's retries) a given number of times, then goes back to moto."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError


@contextmanager
def dynamodb_fails(
    operation: str,
    code: str,
    *,
    times: int = 1,
    cancellation_reasons: list[str] | None = None,
) -> Iterator[list[str]]:
    """`operation` (e.g. TransactWriteItems) answers `code` its next `times` calls; yields the codes answered."""
    from sync_core.adapters.aws import dynamodb_client

    answered: list[str] = []
    status = 500 if code in {"InternalServerError", "ServiceUnavailable"} else 400

    def fail(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if len(answered) >= times:
            return None
        answered.append(code)
        parsed: dict[str, Any] = {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        if cancellation_reasons is not None:
            parsed["CancellationReasons"] = [{"Code": reason} for reason in cancellation_reasons]
        return AWSResponse(url="http://dynamodb.test", status_code=status, headers={}, raw=None), parsed

    events = dynamodb_client().meta.events
    event_name = f"before-call.dynamodb.{operation}"
    events.register_first(event_name, fail)
    try:
        yield answered
    finally:
        events.unregister(event_name, fail)


@contextmanager
def dynamodb_times_out(operation: str) -> Iterator[list[str]]:
    """Every attempt of `operation` times out on the wire (botocore retries it, then gives up)."""
    from sync_core.adapters.aws import dynamodb_client

    attempts: list[str] = []

    def time_out(request: Any, **_: Any) -> None:
        attempts.append(request.url)
        raise ReadTimeoutError(endpoint_url=request.url)

    events = dynamodb_client().meta.events
    event_name = f"before-send.dynamodb.{operation}"
    events.register_first(event_name, time_out)
    try:
        yield attempts
    finally:
        events.unregister(event_name, time_out)
