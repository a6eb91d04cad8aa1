"""cases_api: cases through the Cases form's workflow, their activities and related cases, and case settings."""

# No `from __future__ import annotations`: Powertools reads the annotations to validate and document routes.
from collections.abc import Callable
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from sync_core.adapters.factories import CASES_SERVICE_SETTINGS, build_cases_service
from sync_core.config import get_settings
from sync_core.domain.cases import (
    Activity,
    ActivityInput,
    AssignmentRules,
    AvailableTransitions,
    CaseAction,
    CaseClass,
    CaseCreate,
    CaseReason,
    CaseRecord,
    CaseStatus,
    CaseUpdate,
    Contract,
    ContractUsageRecord,
    InvoiceRecord,
    RelatedCase,
    RelatedCaseView,
    TransitionRequest,
    Workgroup,
)
from sync_core.domain.records import Page
from sync_core.errors import ValidationFailedError
from sync_core.http.errors import ErrorBody
from sync_core.http.identity import Caller
from sync_core.http.openapi import answers
from sync_core.http.params import Cursor, IdempotencyKey, IfMatch, Limit
from sync_core.http.preconditions import etag
from sync_core.http.resolver import HubResolver, api_handler
from sync_core.http.writes import run_write
from sync_core.observability import metrics
from sync_core.services.cases import CasesService

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
def _service() -> CasesService:
    return build_cases_service(get_settings())


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

    def run(caller: Caller) -> dict[str, Any]:
        record = write(caller.id)
        metrics.add_metric(name="CaseWritten", unit=MetricUnit.Count, value=1)
        return record.model_dump(mode="json")

    payload = {"body": payload, "if_match": app.current_event.headers.get("if-match")}
    stored = run_write(app, run, scope=scope, idempotency_key=key, payload=payload)
    return CaseRecord.model_validate(stored)


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
    record = _once("cases.create", payload, lambda caller: _service().create_case(body, actor=caller), idempotency_key)
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
    return _service().list_cases(status=status, owner=owner, account_id=account_id, limit=limit, cursor=cursor)


@app.get(
    "/cases/<case_id>",
    summary="Read a case",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "The case", HTTPStatus.NOT_FOUND, etag_header=True),
)
def get_case(case_id: str) -> Response[CaseRecord]:
    return _case_response(_service().get_case(case_id))


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
        lambda caller: _service().update_case(case_id, body, actor=caller, expected_version=version),
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
    return _service().transitions(case_id)


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
        lambda caller: _service().transition(case_id, body, actor=caller, expected_version=version),
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
    return _service().invoice(case_id)


@app.get(
    "/cases/<case_id>/contract-usage",
    summary="The contract usage the case's release recorded",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "The contract usage", HTTPStatus.NOT_FOUND),
)
def get_contract_usage(case_id: str) -> ContractUsageRecord:
    return _service().contract_usage(case_id)


# ---------------------------------------------------------------- activities and related cases


@app.get(
    "/cases/<case_id>/activities",
    summary="The case's activities",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "The activities, oldest first", HTTPStatus.NOT_FOUND),
)
def list_activities(case_id: str) -> list[Activity]:
    return _service().activities(case_id)


@app.post(
    "/cases/<case_id>/activities",
    summary="Log an activity on the case (the caller is its author)",
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
    record = _once(
        f"cases.activity.{case_id}",
        body.model_dump(mode="json"),
        lambda caller: _service().add_activity(case_id, body, actor=caller, expected_version=version),
        idempotency_key,
    )
    return _with_etag(record.fields.activities[-1], record.version, HTTPStatus.CREATED)


@app.get(
    "/cases/<case_id>/related-cases",
    summary="The Related Cases tab",
    tags=CASES,
    responses=answers(HTTPStatus.OK, "The related cases", HTTPStatus.NOT_FOUND),
)
def list_related_cases(case_id: str) -> list[RelatedCaseView]:
    return _service().related_cases(case_id)


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
        lambda caller: _service().relate_case(case_id, body, actor=caller, expected_version=version),
        idempotency_key,
    )
    return Response(
        status_code=HTTPStatus.OK.value,
        content_type=content_types.APPLICATION_JSON,
        body=_service().related_cases(case_id),
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
        lambda caller: _service().unrelate_case(case_id, related_id, actor=caller, expected_version=version),
        idempotency_key,
    )
    return Response(status_code=HTTPStatus.NO_CONTENT.value, headers={"ETag": etag(record.version)})


# ---------------------------------------------------------------- settings


def _same_id(path_id: str, body_id: str, field: str) -> None:
    if path_id != body_id:
        raise ValidationFailedError(f"{field} in the body ({body_id}) differs from the path ({path_id})", field=field)


@app.get(
    "/cases/settings/classes",
    summary="Case classes",
    tags=SETTINGS,
    responses=answers(HTTPStatus.OK, "The case classes"),
)
def list_classes() -> list[CaseClass]:
    return _service().list_classes()


@app.get(
    "/cases/settings/classes/<class_id>",
    summary="Read a case class",
    tags=SETTINGS,
    responses=answers(HTTPStatus.OK, "The case class", HTTPStatus.NOT_FOUND),
)
def get_class(class_id: str) -> CaseClass:
    return _service().get_class(class_id)


@app.put(
    "/cases/settings/classes/<class_id>",
    summary="Create or replace a case class",
    tags=SETTINGS,
    responses=answers(HTTPStatus.OK, "The case class", HTTPStatus.UNPROCESSABLE_ENTITY),
)
def put_class(class_id: str, body: Annotated[CaseClass, Body()]) -> CaseClass:
    _same_id(class_id, body.class_id, "class_id")
    return _service().put_class(body)


@app.get(
    "/cases/settings/workgroups",
    summary="Workgroups",
    tags=SETTINGS,
    responses=answers(HTTPStatus.OK, "The workgroups"),
)
def list_workgroups() -> list[Workgroup]:
    return _service().list_workgroups()


@app.get(
    "/cases/settings/workgroups/<workgroup_id>",
    summary="Read a workgroup",
    tags=SETTINGS,
    responses=answers(HTTPStatus.OK, "The workgroup", HTTPStatus.NOT_FOUND),
)
def get_workgroup(workgroup_id: str) -> Workgroup:
    return _service().get_workgroup(workgroup_id)


@app.put(
    "/cases/settings/workgroups/<workgroup_id>",
    summary="Create or replace a workgroup",
    tags=SETTINGS,
    responses=answers(HTTPStatus.OK, "The workgroup", HTTPStatus.UNPROCESSABLE_ENTITY),
)
def put_workgroup(workgroup_id: str, body: Annotated[Workgroup, Body()]) -> Workgroup:
    _same_id(workgroup_id, body.workgroup_id, "workgroup_id")
    return _service().put_workgroup(body)


@app.get(
    "/cases/settings/contracts", summary="Contracts", tags=SETTINGS, responses=answers(HTTPStatus.OK, "The contracts")
)
def list_contracts() -> list[Contract]:
    return _service().list_contracts()


@app.get(
    "/cases/settings/contracts/<contract_id>",
    summary="Read a contract",
    tags=SETTINGS,
    responses=answers(HTTPStatus.OK, "The contract", HTTPStatus.NOT_FOUND),
)
def get_contract(contract_id: str) -> Contract:
    return _service().get_contract(contract_id)


@app.put(
    "/cases/settings/contracts/<contract_id>",
    summary="Create or replace a contract",
    tags=SETTINGS,
    responses=answers(HTTPStatus.OK, "The contract", HTTPStatus.UNPROCESSABLE_ENTITY),
)
def put_contract(contract_id: str, body: Annotated[Contract, Body()]) -> Contract:
    _same_id(contract_id, body.contract_id, "contract_id")
    return _service().put_contract(body)


@app.get(
    "/cases/settings/assignment-rules",
    summary="The case assignment map",
    tags=SETTINGS,
    responses=answers(HTTPStatus.OK, "The assignment map"),
)
def get_assignment_rules() -> AssignmentRules:
    return _service().get_assignment_rules()


@app.put(
    "/cases/settings/assignment-rules",
    summary="Replace the case assignment map",
    tags=SETTINGS,
    responses=answers(HTTPStatus.OK, "The assignment map", HTTPStatus.UNPROCESSABLE_ENTITY),
)
def put_assignment_rules(body: Annotated[AssignmentRules, Body()]) -> AssignmentRules:
    return _service().put_assignment_rules(body)


lambda_handler = api_handler(app, required_settings=REQUIRED_SETTINGS)
