"""The hub's one error shape, and the table from the hub's errors to HTTP statuses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from pydantic import BaseModel, ConfigDict, Field

from sync_core.errors import (
    AlreadyExistsError,
    ForbiddenError,
    InvalidReasonError,
    InvalidTransitionError,
    NotFoundError,
    OperationNotAllowedError,
    PermanentError,
    RetryableError,
    StaleVersionError,
    SyncHubError,
    ValidationFailedError,
)

# A client told to come back later waits at least this long (seconds) unless the error knows better.
DEFAULT_RETRY_AFTER_SECONDS = 1


class FieldError(BaseModel):
    field: str = Field(description='Where: "body.name", "body.custom_fields.Region", "If-Match", "cursor" ...')
    reason: str


class ErrorBody(BaseModel):
    """The body of every answer that is not a success, from every API of the hub."""

    model_config = ConfigDict(extra="allow")

    message: str = Field(description="What went wrong, for a person")
    status: int = Field(description="The HTTP status, repeated")
    field: str | None = Field(default=None, description="The one field a rule refused")
    errors: list[FieldError] | None = Field(default=None, description="One entry per refused field")
    expected: int | None = Field(default=None, description="412/409 stale version: the version sent")
    current: int | None = Field(default=None, description="412/409 stale version: the version now")
    allowed_methods: list[str] | None = Field(default=None, description="405: the methods the path takes")
    code: str | None = Field(default=None, description="503: the throttling or conflict code behind it")
    retry_after_seconds: float | None = Field(default=None, description="503: when to try again")
    correlation_id: str | None = Field(
        default=None, description="500: the request id to quote (also in the X-Correlation-Id header)"
    )


def error_response(
    status: HTTPStatus, message: str, /, *, headers: Mapping[str, str] | None = None, **details: Any
) -> Response[Any]:
    """An answer in the hub's error shape; 503s always say when to retry (Retry-After)."""
    body = {"message": message, "status": status.value, **{k: v for k, v in details.items() if v is not None}}
    all_headers = dict(headers or {})
    if status is HTTPStatus.SERVICE_UNAVAILABLE:
        wait = details.get("retry_after_seconds") or DEFAULT_RETRY_AFTER_SECONDS
        all_headers["Retry-After"] = str(max(1, round(wait)))
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, default=str),
        headers=all_headers,
    )


def status_for(error: SyncHubError, *, has_if_match: bool) -> HTTPStatus:
    match error:
        case NotFoundError():
            return HTTPStatus.NOT_FOUND
        case ForbiddenError():
            return HTTPStatus.FORBIDDEN
        case StaleVersionError():
            # If-Match is an HTTP precondition (412); a stale version otherwise is a conflict (409).
            return HTTPStatus.PRECONDITION_FAILED if has_if_match else HTTPStatus.CONFLICT
        case AlreadyExistsError() | InvalidTransitionError():
            return HTTPStatus.CONFLICT
        case ValidationFailedError() | InvalidReasonError():
            return HTTPStatus.UNPROCESSABLE_ENTITY
        case OperationNotAllowedError():
            return HTTPStatus.METHOD_NOT_ALLOWED
        case RetryableError():
            return HTTPStatus.SERVICE_UNAVAILABLE
        case PermanentError():
            return HTTPStatus.BAD_GATEWAY
    return HTTPStatus.INTERNAL_SERVER_ERROR


def error_details(error: SyncHubError) -> dict[str, Any]:
    """The error's details for the body; a workflow error's "status" (the case's) becomes workflow_status, since
    "status" in the body is the HTTP one."""
    details = dict(error.details)
    if "status" in details:
        details["workflow_status"] = details.pop("status")
    return details
