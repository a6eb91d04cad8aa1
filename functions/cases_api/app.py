"""cases_api: cases through the Cases form's workflow, their activities and related cases, and case settings."""

# No `from __future__ import annotations`: Powertools reads the annotations to validate and document routes.
import inspect
from collections.abc import Callable
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from sync_core.adapters.factories import CASES_SERVICE_SETTINGS, build_case_services
from sync_core.config import get_settings
from sync_core.domain.cases.activities import Activity, ActivityInput
from sync_core.domain.cases.models import (
    CaseCreate,
    CaseRecord,
    CaseUpdate,
    ContractUsageRecord,
    InvoiceRecord,
    RelatedCase,
    RelatedCaseView,
)
from sync_core.domain.cases.settings import SETTING_KINDS, AssignmentRules, SettingKind
from sync_core.domain.cases.transitions import AvailableTransitions, TransitionRequest
from sync_core.domain.cases.vocabulary import CaseAction, CaseReason, CaseStatus
from sync_core.domain.records import Page
from sync_core.errors import ValidationFailedError
from sync_core.http.errors import ErrorBody
from sync_core.http.identity import Caller
from sync_core.http.openapi import answers
from sync_core.http.params import Cursor, IdempotencyKey, IfMatch, Limit
from sync_core.http.preconditions import etag
from sync_core.http.resolver import HubResolver, api_handler
from sync_core.http.roles import Role
from sync_core.http.writes import run_write
from sync_core.observability import metrics
from sync_core.services.cases import CaseServices

REQUIRED_SETTINGS = (*CASES_SERVICE_SETTINGS, "IDEMPOTENCY_TABLE")
CASES = ["Cases"]
SETTINGS = ["Case settings"]


class CaseErrorBody(ErrorBody):
    """The hub's error body, with what the case workflow adds to its refusals."""

    workflow_status: CaseStatus | None = Field(
        default=None, description="409: the case's status; 422 for a reason: the status the action leads to"
    )
    allowed_actions: list[CaseAction] | None = Field(default=None, description="409: the actions allowed now")
    reason: CaseReason | None = Field(default=None, description="422: the reason refused")
    allowed_reasons: list[CaseReason] | None = Field(default=None, description="422: the reasons allowed")


app = HubResolver(error_model=CaseErrorBody)


WRITE_ERRORS = (
    HTTPStatus.NOT_FOUND,
    HTTPStatus.CONFLICT,
    HTTPStatus.PRECONDITION_FAILED,
    HTTPStatus.UNPROCESSABLE_ENTITY,
)


@cache
def _services() -> CaseServices:
    return build_case_services(get_settings())


def _version() -> int | None:
    return app.expected_version()


def _with_etag[M: BaseModel](body: M, version: int, status: HTTPStatus = HTTPStatus.OK) -> Response[M]:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={"ETag": etag(version)},
    )


def _case_response(record: CaseRecord, status: HTTPStatus = HTTPStatus.OK) -> Response[CaseRecord]:
    return _with_etag(record, record.version, status)


def _once(scope: str, payload: Any, write: Callable[[str], CaseRecord], key: str | None) -> CaseRecord:
    """Run a case write once per Idempotency-Key; a replay answers with the first call's case."""
    stored = _once_json(scope, payload, lambda caller: write(caller).model_dump(mode="json"), key)
    return CaseRecord.model_validate(stored)


def _once_json(scope: str, payload: Any, write: Callable[[str], dict[str, Any]], key: str | None) -> dict[str, Any]:
    """Run a write once per Idempotency-Key; a replay answers with the first call's (JSON) result."""

    def run(caller: Caller) -> dict[str, Any]:
        result = write(caller.id)
        metrics.add_metric(name="CaseWritten", unit=MetricUnit.Count, value=1)
        return result

    payload = {"body": payload, "if_match": app.current_event.headers.get("if-match")}
    return run_write(app, run, scope=scope, idempotency_key=key, payload=payload)


# ---------------------------------------------------------------- cases


@app.post(
    "/cases",
    summary="Create a case (status New; Case ID from the numbering sequence)",
    tags=CASES,
    responses=answers(
        HTTPStatus.CREATED, "The new case", HTTPStatus.CONFLICT, HTTPStatus.UNPROCESSABLE_ENTITY, etag_header=True
    ),
)
def create_case(body: Annotated[CaseCreate, Body()], idempotency_key: IdempotencyKey = None) -> Response[CaseRecord]:
    payload = body.model_dump(mode="json")
    record = _once(
        "cases.create", payload, lambda caller: _services().cases.create_case(body, actor=caller), idempotency_key
    )
    return _case_response(record, HTTPStatus.CREATED)


@app.get(
    "/cases",
    summary="List cases, filtered by status, owner or business account",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "A page of cases", HTTPStatus.UNPROCESSABLE_ENTITY),
)
def list_cases(
    status: Annotated[CaseStatus | None, Query()] = None,
    owner: Annotated[str | None, Query(max_length=512)] = None,
    account_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[CaseRecord]:
    return _services().cases.list_cases(status=status, owner=owner, account_id=account_id, limit=limit, cursor=cursor)


@app.get(
    "/cases/<case_id>",
    summary="Read a case",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "The case", HTTPStatus.NOT_FOUND, etag_header=True),
)
def get_case(case_id: str) -> Response[CaseRecord]:
    return _case_response(_services().cases.get_case(case_id))


@app.patch(
    "/cases/<case_id>",
    summary="Change some fields of a case (status changes go through transitions)",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "The changed case", *WRITE_ERRORS, etag_header=True),
)
def update_case(
    case_id: str,
    body: Annotated[CaseUpdate, Body()],
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[CaseRecord]:
    version = _version()
    record = _once(
        f"cases.update.{case_id}",
        body.model_dump(mode="json", exclude_unset=True),
        lambda caller: _services().cases.update_case(case_id, body, actor=caller, expected_version=version),
        idempotency_key,
    )
    return _case_response(record)


@app.get(
    "/cases/<case_id>/transitions",
    summary="The actions available now and the reasons each takes",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "The case's status and reason, and the actions available", HTTPStatus.NOT_FOUND),
)
def list_transitions(case_id: str) -> AvailableTransitions:
    return _services().workflow.transitions(case_id)


@app.post(
    "/cases/<case_id>/transitions",
    summary="Run an action: open, close, pending-customer, release, take or apply-assignment-rules",
    description="409 when the status does not allow the action (naming the actions it allows); "
    "422 when the target status does not allow the reason (listing the reasons it allows).",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "The case after the action", *WRITE_ERRORS, etag_header=True),
)
def transition_case(
    case_id: str,
    body: Annotated[TransitionRequest, Body()],
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[CaseRecord]:
    version = _version()
    record = _once(
        f"cases.transition.{case_id}",
        body.model_dump(mode="json"),
        lambda caller: _services().workflow.transition(case_id, body, actor=caller, expected_version=version),
        idempotency_key,
    )
    return _case_response(record)


@app.get(
    "/cases/<case_id>/invoice",
    summary="The invoice the case's release created",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "The invoice", HTTPStatus.NOT_FOUND),
)
def get_invoice(case_id: str) -> InvoiceRecord:
    return _services().workflow.invoice(case_id)


@app.get(
    "/cases/<case_id>/contract-usage",
    summary="The contract usage the case's release recorded",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "The contract usage", HTTPStatus.NOT_FOUND),
)
def get_contract_usage(case_id: str) -> ContractUsageRecord:
    return _services().workflow.contract_usage(case_id)


# ---------------------------------------------------------------- activities and related cases


@app.get(
    "/cases/<case_id>/activities",
    summary="The case's activities, a page at a time",
    description="Oldest first (the order they were logged in, which is their number). Follow next_cursor "
    "until it is null to walk them all, each exactly once.",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "A page of activities, oldest first", HTTPStatus.NOT_FOUND),
)
def list_activities(case_id: str, limit: Limit = 25, cursor: Cursor = None) -> Page[Activity]:
    return _services().activities.activities(case_id, limit=limit, cursor=cursor)


@app.post(
    "/cases/<case_id>/activities",
    summary="Log an activity on the case (the caller is its author)",
    description="Without If-Match a write that loses a race with another write of the case is tried again, so "
    "concurrent activities are all kept; with If-Match it is refused (412) once the case has moved on.",
    tags=CASES,
    responses=answers(HTTPStatus.CREATED, "The logged activity", *WRITE_ERRORS, etag_header=True),
)
def add_activity(
    case_id: str,
    body: Annotated[ActivityInput, Body()],
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[Activity]:
    version = _version()

    def write(caller: str) -> dict[str, Any]:
        record, logged = _services().activities.add_activity(case_id, body, actor=caller, expected_version=version)
        return {"activity": logged.model_dump(mode="json"), "case_version": record.version}

    stored = _once_json(f"cases.activity.{case_id}", body.model_dump(mode="json"), write, idempotency_key)
    return _with_etag(Activity.model_validate(stored["activity"]), int(stored["case_version"]), HTTPStatus.CREATED)


@app.get(
    "/cases/<case_id>/related-cases",
    summary="The Related Cases tab",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "The related cases", HTTPStatus.NOT_FOUND),
)
def list_related_cases(case_id: str) -> list[RelatedCaseView]:
    return _services().related.related_cases(case_id)


@app.post(
    "/cases/<case_id>/related-cases",
    summary="Relate another case (Blocks, Depends On, ...)",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "The related cases now", *WRITE_ERRORS, etag_header=True),
)
def relate_case(
    case_id: str,
    body: Annotated[RelatedCase, Body()],
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[list[RelatedCaseView]]:
    version = _version()
    record = _once(
        f"cases.relate.{case_id}",
        body.model_dump(mode="json"),
        lambda caller: _services().related.relate_case(case_id, body, actor=caller, expected_version=version),
        idempotency_key,
    )
    return Response(
        status_code=HTTPStatus.OK.value,
        content_type=content_types.APPLICATION_JSON,
        body=_services().related.related_cases(case_id),
        headers={"ETag": etag(record.version)},
    )


@app.delete(
    "/cases/<case_id>/related-cases/<related_id>",
    summary="Remove a related case",
    tags=CASES,
    responses=answers(
        HTTPStatus.NO_CONTENT,
        "Removed",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
        HTTPStatus.PRECONDITION_FAILED,
        etag_header=True,
    ),
)
def unrelate_case(
    case_id: str, related_id: str, if_match: IfMatch = None, idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    version = _version()
    record = _once(
        f"cases.unrelate.{case_id}",
        {"related_id": related_id},
        lambda caller: _services().related.unrelate_case(case_id, related_id, actor=caller, expected_version=version),
        idempotency_key,
    )
    return Response(status_code=HTTPStatus.NO_CONTENT.value, headers={"ETag": etag(record.version)})


# ---------------------------------------------------------------- settings


def _same_id(path_id: str, body_id: str, field: str) -> None:
    if path_id != body_id:
        raise ValidationFailedError(f"{field} in the body ({body_id}) differs from the path ({path_id})", field=field)


def register_setting_routes(kind: SettingKind[Any]) -> None:
    """GET /cases/settings/<kind>, GET and PUT /cases/settings/<kind>/{id}: the same three routes for every kind
    (named list_<noun>, get_<noun>, put_<noun> in the OpenAPI document, as when each was written out)."""
    noun = kind.id_field.removesuffix("_id")
    path_id = inspect.Parameter(kind.id_field, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str)
    body = inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[kind.model, Body()])

    def list_settings() -> list[Any]:
        return _services().settings.list_all(kind)

    def get_setting(**path: str) -> Any:
        return _services().settings.get(kind, path[kind.id_field])

    def put_setting(body: Any, **path: str) -> Any:
        _same_id(path[kind.id_field], kind.id_of(body), kind.id_field)
        return _services().settings.put(kind, body)

    # Powertools validates and documents a route from its signature: give each the kind's own.
    routes: list[tuple[Callable[..., Any], str, list[inspect.Parameter], Any]] = [
        (list_settings, f"list_{kind.name}", [], list[kind.model]),  # type: ignore[name-defined]
        (get_setting, f"get_{noun}", [path_id], kind.model),
        (put_setting, f"put_{noun}", [path_id, body], kind.model),
    ]
    for function, name, parameters, returns in routes:
        function.__name__ = function.__qualname__ = name
        function.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
        function.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters} | {
            "return": returns
        }
    collection, item = f"/cases/settings/{kind.name}", f"/cases/settings/{kind.name}/<{kind.id_field}>"
    label = kind.label
    app.get(
        collection,
        summary=kind.plural.capitalize(),
        tags=SETTINGS,
        responses=answers(HTTPStatus.OK, f"The {kind.plural}"),
    )(list_settings)
    app.get(
        item,
        summary=f"Read a {label}",
        tags=SETTINGS,
        responses=answers(HTTPStatus.OK, f"The {label}", HTTPStatus.NOT_FOUND),
    )(get_setting)
    app.put(
        item,
        summary=f"Create or replace a {label} (administrator)",
        tags=SETTINGS,
        responses=answers(HTTPStatus.OK, f"The {label}", HTTPStatus.UNPROCESSABLE_ENTITY),
    )(app.requires(Role.ADMINISTRATOR)(put_setting))


for _kind in SETTING_KINDS:
    register_setting_routes(_kind)


@app.get(
    "/cases/settings/assignment-rules",
    summary="The case assignment map",
    tags=SETTINGS,
    responses=answers(HTTPStatus.OK, "The assignment map"),
)
def get_assignment_rules() -> AssignmentRules:
    return _services().settings.get_assignment_rules()


@app.put(
    "/cases/settings/assignment-rules",
    summary="Replace the case assignment map (administrator)",
    tags=SETTINGS,
    responses=answers(HTTPStatus.OK, "The assignment map", HTTPStatus.UNPROCESSABLE_ENTITY),
)
@app.requires(Role.ADMINISTRATOR)
def put_assignment_rules(body: Annotated[AssignmentRules, Body()]) -> AssignmentRules:
    return _services().settings.put_assignment_rules(body)


lambda_handler = api_handler(app, required_settings=REQUIRED_SETTINGS)
