"""One table from the hub's errors to HTTP answers, registered on every API function's resolver."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from sync_core.errors import (
    AlreadyExistsError,
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
from sync_core.observability import logger


def error_response(status: HTTPStatus, message: str, /, **details: Any) -> Response[Any]:
    body = {"message": message, "status": status.value, **{k: v for k, v in details.items() if v is not None}}
    headers: dict[str, str] = {}
    if status is HTTPStatus.SERVICE_UNAVAILABLE and details.get("retry_after_seconds"):
        headers["Retry-After"] = str(max(1, round(details["retry_after_seconds"])))
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, default=str),
        headers=headers,
    )


def _status_for(error: SyncHubError, *, has_if_match: bool) -> HTTPStatus:
    match error:
        case NotFoundError():
            return HTTPStatus.NOT_FOUND
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


def _request_validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    return [
        {
            # loc is ("body", "name") or ("query", "limit"): say where and which field.
            "field": ".".join(str(part) for part in error.get("loc", ())),
            "reason": str(error.get("msg") or error.get("type")),
        }
        for error in exc.errors()
    ]


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    """Map every hub error (and request validation) to a JSON answer with a useful status and message."""

    @app.exception_handler(SyncHubError)  # type: ignore[untyped-decorator]
    def _hub_error(exc: SyncHubError) -> Response[Any]:
        has_if_match = bool(app.current_event.headers.get("if-match"))
        status = _status_for(exc, has_if_match=has_if_match)
        if status is HTTPStatus.INTERNAL_SERVER_ERROR:
            logger.exception("unmapped hub error")
        details = dict(exc.details)
        # A workflow error names the case's status; "status" in the body stays the HTTP one.
        if "status" in details:
            details["workflow_status"] = details.pop("status")
        return error_response(status, exc.message, **details)

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def _invalid_request(exc: RequestValidationError) -> Response[Any]:
        errors = _request_validation_errors(exc)
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            return error_response(HTTPStatus.BAD_REQUEST, "request body is not valid JSON", errors=errors)
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "request is invalid", errors=errors)
