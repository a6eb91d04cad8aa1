"""What the OpenAPI document says a route answers: its success, and the hub's error shape on every refusal."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader
from pydantic import BaseModel

from sync_core.http.errors import ErrorBody

REFUSALS: dict[HTTPStatus, str] = {
    HTTPStatus.BAD_REQUEST: "The body is not JSON, not UTF-8, or nested too deeply to read",
    HTTPStatus.FORBIDDEN: "The caller lacks the role this change needs (required_roles names them)",
    HTTPStatus.NOT_FOUND: "The resource the path names does not exist",
    HTTPStatus.METHOD_NOT_ALLOWED: "The path does not take this method (the Allow header lists those it takes)",
    HTTPStatus.CONFLICT: "A write that lost a race without If-Match (expected, current), an id already taken, "
    "or a call with this Idempotency-Key still running",
    HTTPStatus.PRECONDITION_FAILED: "If-Match names a version that is no longer current (expected, current)",
    HTTPStatus.REQUEST_URI_TOO_LONG: "The request line (path and query) is longer than the gateway reads "
    "(API Gateway takes 10,240 bytes of request line and headers)",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "The body is not application/json",
    HTTPStatus.UNPROCESSABLE_ENTITY: "A malformed or refused request: errors names each field (a body that is not "
    "an object, a number or nesting DynamoDB cannot store, a rule of the resource, a bad If-Match or cursor)",
    HTTPStatus.INTERNAL_SERVER_ERROR: "An unexpected failure, logged with its stack trace under correlation_id",
    HTTPStatus.SERVICE_UNAVAILABLE: "DynamoDB was throttled, busy or unreachable; nothing was written and no "
    "Idempotency-Key was used up: retry after Retry-After seconds",
}
# Any request can be too long to read (414), fail validation (422), an unexpected failure (500) or a throttled
# table (503).
ALWAYS = (
    HTTPStatus.REQUEST_URI_TOO_LONG,
    HTTPStatus.UNPROCESSABLE_ENTITY,
    HTTPStatus.INTERNAL_SERVER_ERROR,
    HTTPStatus.SERVICE_UNAVAILABLE,
)
# A route that reads a body can also find it unreadable (400) or of another media type (415).
WITH_BODY = (HTTPStatus.BAD_REQUEST, HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
# A route with an id in its path can name one that does not exist, or one no route accepts (404).
WITH_PATH_ID = (HTTPStatus.NOT_FOUND,)
# A route that reads If-Match can find it stale (412).
WITH_IF_MATCH = (HTTPStatus.PRECONDITION_FAILED,)

ETAG_HEADER: dict[str, OpenAPIResponseHeader] = {
    "ETag": {"description": 'The version, e.g. "3" (send it back in If-Match)', "schema": {"type": "string"}}
}
RETRY_AFTER_HEADER: dict[str, OpenAPIResponseHeader] = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
}
ALLOW_HEADER: dict[str, OpenAPIResponseHeader] = {
    "Allow": {"description": "The methods the path takes", "schema": {"type": "string"}}
}


def answers(
    success: HTTPStatus, description: str, *refusals: HTTPStatus, etag_header: bool = False
) -> dict[int, OpenAPIResponse]:
    """A route's documented answers: its success (schema from the return type) and the refusals it has of its
    own; HubResolver adds the ones every route, body or If-Match brings (`complete_refusals`)."""
    ok: OpenAPIResponse = {"description": description}
    if success is HTTPStatus.NO_CONTENT:
        ok["content"] = {}
    if etag_header:
        ok["headers"] = ETAG_HEADER
    documented: dict[int, OpenAPIResponse] = {success.value: ok}
    for status in refusals:
        documented[status.value] = refusal(status)
    return documented


def refusal(status: HTTPStatus, error_model: type[BaseModel] = ErrorBody) -> OpenAPIResponse:
    documented: OpenAPIResponse = {
        "description": REFUSALS[status],
        "content": {content_types.APPLICATION_JSON: {"model": error_model}},
    }
    if status is HTTPStatus.SERVICE_UNAVAILABLE:
        documented["headers"] = RETRY_AFTER_HEADER
    if status is HTTPStatus.METHOD_NOT_ALLOWED:
        documented["headers"] = ALLOW_HEADER
    return documented


def complete_refusals(
    responses: dict[int, OpenAPIResponse] | None,
    *,
    has_body: bool,
    reads_if_match: bool,
    has_path_id: bool = False,
    error_model: type[BaseModel] = ErrorBody,
) -> dict[int, OpenAPIResponse]:
    """The route's answers with every refusal it can give, each in the API's error shape."""
    completed = dict(responses or {})
    statuses = {*ALWAYS, *(WITH_BODY if has_body else ()), *(WITH_IF_MATCH if reads_if_match else ())}
    statuses |= set(WITH_PATH_ID if has_path_id else ())
    statuses |= {HTTPStatus(code) for code in completed if code >= 400}
    for status in sorted(statuses):
        completed[status.value] = refusal(status, error_model)
    return completed
