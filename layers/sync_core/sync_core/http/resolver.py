"""HubResolver: the Powertools resolver of every API function, and api_handler, their Lambda entry point.

Whatever happens, the answer is in the hub's error shape (sync_core.http.errors): hub errors by their table,
request validation 422 (400 for an unreadable body), a wrong media type 415, an unknown path 404, a known
path with another method 405 with Allow, and anything unexpected 500 with a correlation id, logged with its
stack trace. Every 4xx leaves one structured log line (status, route, caller; never the body).
"""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any, Protocol

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.constants import (
    DEFAULT_OPENAPI_RESPONSE_DESCRIPTION,
    DEFAULT_STATUS_CODE,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.shared.types import AnyCallableT
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from sync_core.config import ConfigurationError, require_settings
from sync_core.errors import ForbiddenError, SyncHubError, ValidationFailedError
from sync_core.http.body import MalformedRequestError, body_text, is_json_media_type, parse_json_object
from sync_core.http.errors import ErrorBody, error_details, error_response, status_for
from sync_core.http.identity import Caller, caller_from_event
from sync_core.http.openapi import complete_refusals
from sync_core.http.preconditions import expected_version
from sync_core.http.roles import Role
from sync_core.observability import logger, metrics, tracer

# The attribute `requires` leaves on a route function: the roles it needs, read when the route is documented.
REQUIRED_ROLES = "__hub_required_roles__"
# DynamoDB keys: a sort key holds at most 1,024 bytes (a partition key 2,048), so no id in a path can be longer.
MAX_KEY_BYTES = 1024


class LambdaHandler(Protocol):
    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]: ...


class _JsonBodyValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, with the body read the hub's way: JSON only (415 otherwise), an object,
    within DynamoDB's limits (sync_core.http.body); and path ids no longer than a DynamoDB key."""

    def handler(self, app: Any, next_middleware: Any) -> Response[Any]:
        for name, value in (app.context.get("_route_args") or {}).items():
            if len(str(value).encode()) > MAX_KEY_BYTES:
                raise ValidationFailedError(
                    f"{name} is longer than {MAX_KEY_BYTES} bytes: no such id exists", field=name
                )
        return super().handler(app, next_middleware)

    def _get_body(self, app: Any) -> Any:
        event = app.current_event
        content_type = event.headers.get("content-type", "")
        text = body_text(event.body, base64_encoded=bool(event.is_base64_encoded))
        if text is not None and content_type and not is_json_media_type(content_type):
            raise RequestUnsupportedContentType(
                f"request body must be application/json, not {content_type}",
                errors=[{"loc": ("header", "content-type"), "type": "unsupported_content_type"}],
            )
        body = parse_json_object(text)
        if body is not None:
            _check_json_types(app.context["_route"].dependant.body_params, text)
        return body


def _check_json_types(body_params: Iterable[Any], text: str | None) -> None:
    """Refuse a body whose values are not the JSON types the OpenAPI document names.

    Powertools validates bodies in pydantic's lax Python mode, which turns `false` into 0, 0 into a date and
    "1.5" into a float; a client must not see its wrong type silently accepted. Pydantic's strict JSON mode
    accepts exactly what the schema documents (ISO strings for dates, strings for enums, numbers or
    strings for decimals), so a body model is checked in that mode before the usual validation.
    """
    for param in body_params:
        model = param.type_
        if text is None or not (inspect.isclass(model) and issubclass(model, BaseModel)):
            continue
        try:
            model.model_validate_json(text, strict=True)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
            ) from exc


def _reads(func: Callable[..., Any], kind: type[Body] | type[Header], alias: str | None = None) -> bool:
    """Whether a route function takes a body (or the header `alias`), from its annotations."""
    hints = typing.get_type_hints(func, include_extras=True)
    hints.pop("return", None)
    for hint in hints.values():
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, kind) and (alias is None or getattr(meta, "alias", None) == alias):
                return True
        if kind is Body and inspect.isclass(hint) and issubclass(hint, BaseModel):
            return True
    return False


class HubResolver(APIGatewayHttpResolver):
    """An API function's resolver: its routes document and answer every refusal in the hub's error shape.

    `error_model` is the API's error body (ErrorBody, or a subclass naming details of its own);
    `unknown_path_hint` and `not_allowed_hint` may add a sentence to a 404 or 405 for a path the API knows of.
    """

    def __init__(
        self,
        *,
        error_model: type[ErrorBody] = ErrorBody,
        unknown_path_hint: Callable[[str], str | None] | None = None,
        not_allowed_hint: Callable[[str, str], str | None] | None = None,
    ) -> None:
        super().__init__(enable_validation=True)
        # Powertools builds its validation middleware only when none is set: this one reads bodies our way.
        self._request_validation_middleware = _JsonBodyValidation()  # type: ignore[no-untyped-call]
        self.error_model = error_model
        self._unknown_path_hint = unknown_path_hint
        self._not_allowed_hint = not_allowed_hint
        self.exception_handler(SyncHubError)(self._hub_error)
        self.exception_handler(RequestValidationError)(self._invalid_request)
        self.exception_handler(RequestUnsupportedContentType)(self._unsupported_media_type)
        self.exception_handler(Exception)(self._unexpected)
        self.not_found(self._no_route)

    # ------------------------------------------------------------ registration

    def route(
        self,
        rule: str,
        method: str | list[str] | tuple[str],
        cors: bool | None = None,
        compress: bool = False,
        cache_control: str | None = None,
        summary: str | None = None,
        description: str | None = None,
        responses: dict[int, OpenAPIResponse] | None = None,
        response_description: str = DEFAULT_OPENAPI_RESPONSE_DESCRIPTION,
        tags: list[str] | None = None,
        operation_id: str | None = None,
        include_in_schema: bool = True,
        security: list[dict[str, list[str]]] | None = None,
        openapi_extensions: dict[str, Any] | None = None,
        deprecated: bool = False,
        enable_validation: bool | None = None,
        custom_response_validation_http_code: int | HTTPStatus | None = None,
        status_code: int = DEFAULT_STATUS_CODE,
        middlewares: list[Callable[..., Any]] | None = None,
    ) -> Callable[[AnyCallableT], AnyCallableT]:
        """Powertools' route (get, post ... call it), with every refusal the route can give documented in the
        API's error shape."""

        def register(func: AnyCallableT) -> AnyCallableT:
            documented = responses or {status_code: {"description": response_description}}
            needed: frozenset[Role] | None = getattr(func, REQUIRED_ROLES, None)
            if needed:
                names = " or ".join(sorted(role.value for role in needed))
                documented = {**documented, HTTPStatus.FORBIDDEN.value: {"description": f"Needs the role {names}"}}
            completed = complete_refusals(
                documented,
                has_body=_reads(func, Body),
                reads_if_match=_reads(func, Header, "if-match"),
                has_path_id="<" in rule,
                error_model=self.error_model,
            )
            return super(HubResolver, self).route(
                rule,
                method,
                cors,
                compress,
                cache_control,
                summary,
                description,
                completed,
                response_description,
                tags,
                operation_id,
                include_in_schema,
                security,
                openapi_extensions,
                deprecated,
                enable_validation,
                custom_response_validation_http_code,
                status_code,
                middlewares,
            )(func)

        return register

    # ------------------------------------------------------------ the request's caller and precondition

    def requires(self, *roles: Role) -> Callable[[AnyCallableT], AnyCallableT]:
        """A route only callers with one of `roles` may call (403 otherwise, documented in the OpenAPI).

        Put it under the route decorator. The check runs after the request is validated, so a malformed
        request is told what is wrong with it whoever sends it.
        """
        needed = frozenset(roles)

        def decorate(func: AnyCallableT) -> AnyCallableT:
            @functools.wraps(func)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                self.check_roles(needed)
                return func(*args, **kwargs)

            setattr(guarded, REQUIRED_ROLES, needed)
            return typing.cast(AnyCallableT, guarded)

        return decorate

    def check_roles(self, needed: frozenset[Role]) -> None:
        caller = self.caller
        if not caller.has_any(needed):
            names = " or ".join(sorted(role.value for role in needed))
            held = ", ".join(sorted(role.value for role in caller.roles)) or "no hub role"
            raise ForbiddenError(
                f"this change needs the role {names}; {caller.id} has {held}",
                required_roles=sorted(role.value for role in needed),
            )

    @property
    def caller(self) -> Caller:
        return caller_from_event(self.current_event.raw_event)

    def expected_version(self) -> int | None:
        """The version If-Match names, or None; 422 for an If-Match that is no version."""
        return expected_version(self.current_event.headers)

    # ------------------------------------------------------------ answers

    def refuse(
        self, status: HTTPStatus, message: str, /, *, headers: Mapping[str, str] | None = None, **details: Any
    ) -> Response[Any]:
        """A 4xx in the hub's shape, and the one log line every refusal leaves (never the body)."""
        route = self.context.get("_route")
        logger.info(
            "request refused",
            extra={
                "status": status.value,
                "route": f"{self.current_event.http_method} {route.path if route else self.current_event.path}",
                "caller": self.caller.id,
                "reason": message,
            },
        )
        return error_response(status, message, headers=headers, **details)

    def _hub_error(self, exc: SyncHubError) -> Response[Any]:
        if isinstance(exc, MalformedRequestError):
            return self.refuse(HTTPStatus.BAD_REQUEST, exc.message, **error_details(exc))
        status = status_for(exc, has_if_match=bool(self.current_event.headers.get("if-match")))
        if status is HTTPStatus.METHOD_NOT_ALLOWED:
            return self._not_allowed(exc.message)
        if status.value < HTTPStatus.INTERNAL_SERVER_ERROR:
            return self.refuse(status, exc.message, **error_details(exc))
        if status is HTTPStatus.INTERNAL_SERVER_ERROR:
            return self._unexpected(exc)
        # 502/503: the hub is fine, a dependency is not; worth a warning, not a stack trace.
        logger.warning("dependency unavailable", extra={"status": status.value, "error": exc.message})
        return error_response(status, exc.message, **error_details(exc))

    def _invalid_request(self, exc: RequestValidationError) -> Response[Any]:
        errors = [
            {"field": _field_name(error.get("loc", ())), "reason": str(error.get("msg") or error.get("type"))}
            for error in exc.errors()
        ]
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            return self.refuse(HTTPStatus.BAD_REQUEST, "request body is not valid JSON", errors=errors)
        return self.refuse(HTTPStatus.UNPROCESSABLE_ENTITY, "request is invalid", errors=errors)

    def _unsupported_media_type(self, exc: RequestUnsupportedContentType) -> Response[Any]:
        return self.refuse(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(exc), field="Content-Type")

    def _no_route(self, _: RouteNotFoundError) -> Response[Any]:
        path = self.current_event.path
        if self._allowed_methods(path):
            return self._not_allowed(f"{self.current_event.http_method} is not allowed on {path}")
        hint = self._unknown_path_hint(path) if self._unknown_path_hint else None
        return self.refuse(HTTPStatus.NOT_FOUND, hint or f"no route {self.current_event.http_method} {path}")

    def _not_allowed(self, message: str) -> Response[Any]:
        path, method = self.current_event.path, self.current_event.http_method
        allowed = self._allowed_methods(path)
        hint = self._not_allowed_hint(method, path) if self._not_allowed_hint else None
        return self.refuse(
            HTTPStatus.METHOD_NOT_ALLOWED,
            f"{message}; {hint}" if hint else message,
            headers={"Allow": ", ".join(allowed)},
            allowed_methods=allowed,
        )

    def _allowed_methods(self, path: str) -> list[str]:
        routes = self._static_routes + self._dynamic_routes
        return sorted({route.method for route in routes if route.rule.match(path)})

    def _unexpected(self, exc: Exception) -> Response[Any]:
        correlation_id = self.correlation_id()
        logger.exception("unexpected failure", extra={"correlation_id": correlation_id})
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            f"unexpected failure; quote correlation id {correlation_id} when reporting it",
            headers={"X-Correlation-Id": correlation_id},
            correlation_id=correlation_id,
        )

    def correlation_id(self) -> str:
        """The API Gateway request id Powertools logs under, else the Lambda request id."""
        found = logger.get_correlation_id()
        if found:
            return str(found)
        context = getattr(self, "lambda_context", None)
        return str(getattr(context, "aws_request_id", "unknown"))


def _field_name(loc: Iterable[Any]) -> str:
    """A validation error's location: "body.name", "query.limit", or a header by its own name ("If-Match")."""
    parts = [str(part) for part in loc]
    if len(parts) == 2 and parts[0] == "header":
        return "-".join(word.capitalize() for word in parts[1].split("-"))
    return ".".join(parts)


def api_handler(app: HubResolver, *, required_settings: Iterable[str]) -> LambdaHandler:
    """The Lambda entry point of an API function: Powertools logging (with the API Gateway request id as
    correlation id), tracing and metrics; the function's settings checked before the first request is routed."""
    required = tuple(required_settings)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            require_settings(required)
        except ConfigurationError:
            # Not the caller's fault, and nothing AWS can say clearer: log it, answer 500 in the hub's shape.
            correlation_id = str(logger.get_correlation_id() or context.aws_request_id)
            logger.exception("function is misconfigured", extra={"correlation_id": correlation_id})
            return {
                "statusCode": HTTPStatus.INTERNAL_SERVER_ERROR.value,
                "headers": {"Content-Type": "application/json", "X-Correlation-Id": correlation_id},
                "body": json.dumps(
                    {
                        "message": f"the function is misconfigured; quote correlation id {correlation_id}",
                        "status": HTTPStatus.INTERNAL_SERVER_ERROR.value,
                        "correlation_id": correlation_id,
                    }
                ),
            }
        return app.resolve(event, context)

    handler: LambdaHandler = lambda_handler
    return handler
