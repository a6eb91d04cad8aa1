"""sync_admin_api: sync administration, entity by entity: the entity table, process and stop, configuration;
the error log (find, read, retry, resolve) and dead-letter replays.

Reading is for any authenticated caller; every write is for the administrator role (403 otherwise).
"""

# No `from __future__ import annotations`: Powertools reads the annotations to validate and document routes.
from datetime import datetime
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, Field

from sync_core.adapters.factories import (
    SYNC_ADMIN_SETTINGS,
    SYNC_ERRORS_SETTINGS,
    build_sync_admin_service,
    build_sync_errors_service,
)
from sync_core.config import get_settings
from sync_core.domain.entities import EntityName
from sync_core.domain.error_log import ErrorDirection, ErrorEntry, ErrorFilter, ErrorStatus, error_ref
from sync_core.domain.records import Page
from sync_core.domain.sync_admin import ConfigVersion, EntityRow, ProcessResult
from sync_core.domain.sync_config import EntitySyncConfig
from sync_core.http.openapi import answers
from sync_core.http.params import Cursor, IfMatch, Limit
from sync_core.http.preconditions import etag
from sync_core.http.resolver import HubResolver, api_handler
from sync_core.http.roles import Role
from sync_core.services.sync_admin import SyncAdminService
from sync_core.services.sync_errors import Side, SyncErrorsService, WorkQueue

REQUIRED_SETTINGS = tuple(dict.fromkeys((*SYNC_ADMIN_SETTINGS, *SYNC_ERRORS_SETTINGS)))
ENTITIES = ["Sync administration"]
ERRORS = ["Sync errors"]
MAX_SELECTION = 100

app = HubResolver()


@cache
def _service() -> SyncAdminService:
    return build_sync_admin_service(get_settings())


@cache
def _errors() -> SyncErrorsService:
    return build_sync_errors_service(get_settings())


class EntitySelection(BaseModel):
    entities: list[EntityName] = Field(min_length=1, max_length=len(EntityName), description="The entities")


def _config_response(config: EntitySyncConfig) -> Response[EntitySyncConfig]:
    return Response(
        status_code=HTTPStatus.OK.value,
        content_type=content_types.APPLICATION_JSON,
        body=config,
        headers={"ETag": etag(config.version)},
    )


@app.get(
    "/sync/entities",
    summary="The entity table: per entity its process status, scenarios, direction, mode, schedule, watermark, "
    "last run and counts of records by sync status",
    tags=ENTITIES,
    responses=answers(HTTPStatus.OK, "Every entity, in dependency order"),
)
def list_entities() -> list[EntityRow]:
    return _service().entity_table()


@app.post(
    "/sync/entities/process",
    summary="Process entities: sync them in both directions again; what waited while stopped goes now",
    tags=ENTITIES,
    responses=answers(HTTPStatus.OK, "What processing each entity did"),
)
@app.requires(Role.ADMINISTRATOR)
def process_entities(body: Annotated[EntitySelection, Body()]) -> list[ProcessResult]:
    return _service().process(body.entities, actor=app.caller.id)


@app.post(
    "/sync/entities/process-all",
    summary="Process every entity",
    tags=ENTITIES,
    responses=answers(HTTPStatus.OK, "What processing each entity did"),
)
@app.requires(Role.ADMINISTRATOR)
def process_all_entities() -> list[ProcessResult]:
    return _service().process(list(EntityName), actor=app.caller.id)


@app.post(
    "/sync/entities/stop",
    summary="Stop entities: both directions; changes that arrive meanwhile are held and go when processed again",
    tags=ENTITIES,
    responses=answers(HTTPStatus.OK, "Each entity's status"),
)
@app.requires(Role.ADMINISTRATOR)
def stop_entities(body: Annotated[EntitySelection, Body()]) -> list[ProcessResult]:
    return _service().stop(body.entities, actor=app.caller.id)


@app.post(
    "/sync/entities/stop-all",
    summary="Stop every entity",
    tags=ENTITIES,
    responses=answers(HTTPStatus.OK, "Each entity's status"),
)
@app.requires(Role.ADMINISTRATOR)
def stop_all_entities() -> list[ProcessResult]:
    return _service().stop(list(EntityName), actor=app.caller.id)


class SyncNowAnswer(BaseModel):
    entity: EntityName
    requested_at: datetime
    message: str


@app.post(
    "/sync/entities/<entity>/sync-now",
    summary="Sync Now: the entity's scheduled run (pull from its watermark, push what waits) at the next tick",
    tags=ENTITIES,
    responses=answers(HTTPStatus.ACCEPTED, "Asked: the scheduled sync runs it within a minute"),
)
@app.requires(Role.ADMINISTRATOR)
def sync_entity_now(entity: EntityName) -> Response[SyncNowAnswer]:
    at = _service().sync_now(entity, actor=app.caller.id)
    answer = SyncNowAnswer(
        entity=entity,
        requested_at=at,
        message="the scheduled sync runs it at its next tick, within a minute: watch sync_requested and last_run "
        "in GET /sync/entities",
    )
    return Response(status_code=HTTPStatus.ACCEPTED.value, content_type=content_types.APPLICATION_JSON, body=answer)


@app.get(
    "/sync/entities/<entity>/config",
    summary="An entity's whole sync configuration (its ETag is its version)",
    tags=ENTITIES,
    responses=answers(HTTPStatus.OK, "The configuration in force", etag_header=True),
)
def get_entity_config(entity: EntityName) -> Response[EntitySyncConfig]:
    return _config_response(_service().get_config(entity))


@app.put(
    "/sync/entities/<entity>/config",
    summary="Replace an entity's sync configuration: validated whole (every mistake with its path), saved as a "
    "new version with who and when; status and watermark are not set here, version and updated_* are ignored",
    tags=ENTITIES,
    responses=answers(
        HTTPStatus.OK, "The configuration saved", HTTPStatus.CONFLICT, HTTPStatus.PRECONDITION_FAILED, etag_header=True
    ),
)
@app.requires(Role.ADMINISTRATOR)
def put_entity_config(
    entity: EntityName, body: Annotated[EntitySyncConfig, Body()], if_match: IfMatch = None
) -> Response[EntitySyncConfig]:
    # The body as sent (validated above): what it leaves out takes the defaults, what it names is checked.
    data: dict[str, Any] = dict(app.current_event.json_body)
    saved = _service().put_config(entity, data, expected_version=app.expected_version(), actor=app.caller.id)
    return _config_response(saved)


@app.get(
    "/sync/entities/<entity>/config/versions",
    summary="The saved versions of an entity's configuration, newest first, with who saved each and when",
    tags=ENTITIES,
    responses=answers(HTTPStatus.OK, "A page of versions"),
)
def list_config_versions(entity: EntityName, limit: Limit = 25, cursor: Cursor = None) -> Page[ConfigVersion]:
    return _service().config_versions(entity, limit=limit, cursor=cursor)


# ---------------------------------------------------------------- the error log


class ErrorView(ErrorEntry):
    """An error log entry, with `ref`: its id as one URL path segment (the routes below take it)."""

    ref: str


class RetryRequest(BaseModel):
    payload: dict[str, Any] | None = Field(
        default=None,
        description="From Salesforce only: the change to send instead of the kept one (the entry's payload, edited)",
    )


class ResolveRequest(BaseModel):
    note: str | None = Field(default=None, max_length=2000, description="Why it needs no retry")


class ErrorSelection(BaseModel):
    refs: list[str] = Field(min_length=1, max_length=MAX_SELECTION, description="The entries' refs")
    note: str | None = Field(default=None, max_length=2000, description="For resolve: why")


class SelectionOutcome(BaseModel):
    ref: str
    ok: bool
    status: ErrorStatus | None = None
    message: str | None = Field(default=None, description="Why this one was not done")


class ReplayRequest(BaseModel):
    queue: WorkQueue = Field(description="sync: the FIFO sync queue's dead letters; export: the export queue's")
    message_ids: list[str] | None = Field(
        default=None, min_length=1, max_length=1000, description="Only these messages; absent: all"
    )


class ReplayReport(BaseModel):
    queue: WorkQueue
    moved: int = Field(description="Messages back on their queue (each as a change queued once more)")
    left: int = Field(description="Messages looked at and left in the dead-letter queue (not named, unreadable)")
    unreadable: list[str] = Field(description="Ids of messages whose body is no change: they stay where they are")
    more: bool = Field(description="The call moved its maximum: replay again for the rest")


def _view(entry: ErrorEntry) -> ErrorView:
    return ErrorView.model_validate({**entry.model_dump(), "ref": error_ref(entry.id)})


@app.get(
    "/sync/errors",
    summary="The error log, newest first: filtered by status (default open), entity, direction, code and time",
    tags=ERRORS,
    responses=answers(HTTPStatus.OK, "A page of entries"),
)
def list_errors(
    status: Annotated[ErrorStatus, Query(description="open, retrying, dead or resolved")] = ErrorStatus.OPEN,
    entity: Annotated[EntityName | None, Query()] = None,
    direction: Annotated[ErrorDirection | None, Query()] = None,
    code: Annotated[str | None, Query(max_length=100, description="Salesforce's errorCode or the hub's")] = None,
    since: Annotated[datetime | None, Query(description="Last seen at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Last seen at or before (ISO 8601)")] = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[ErrorView]:
    where = ErrorFilter(status=status, entity=entity, direction=direction, code=code, since=since, until=until)
    page = _errors().search(where, limit=limit, cursor=cursor)
    return Page[ErrorView](items=[_view(entry) for entry in page.items], next_cursor=page.next_cursor)


@app.get(
    "/sync/errors/<ref>",
    summary="One error log entry, with its payload (what was sent or received)",
    tags=ERRORS,
    responses=answers(HTTPStatus.OK, "The entry", HTTPStatus.NOT_FOUND),
)
def get_error(ref: str) -> ErrorView:
    return _view(_errors().get(ref))


@app.post(
    "/sync/errors/<ref>/retry",
    summary="Retry: an export goes again as the record is now; a change from Salesforce again, or its edited copy",
    tags=ERRORS,
    responses=answers(HTTPStatus.OK, "The entry, retrying", HTTPStatus.NOT_FOUND, HTTPStatus.UNPROCESSABLE_ENTITY),
)
@app.requires(Role.ADMINISTRATOR)
def retry_error(ref: str, body: Annotated[RetryRequest, Body()]) -> ErrorView:
    return _view(_errors().retry(ref, payload=body.payload, actor=app.caller.id))


@app.post(
    "/sync/errors/<ref>/resolve",
    summary="Resolve by hand, with a note",
    tags=ERRORS,
    responses=answers(HTTPStatus.OK, "The entry, resolved", HTTPStatus.NOT_FOUND),
)
@app.requires(Role.ADMINISTRATOR)
def resolve_error(ref: str, body: Annotated[ResolveRequest, Body()]) -> ErrorView:
    return _view(_errors().resolve(ref, note=body.note, actor=app.caller.id))


class ConflictResolution(BaseModel):
    choose: Side | None = Field(default=None, description="One side for every field of the conflict")
    fields: dict[str, Side] | None = Field(
        default=None, description="Or a side for each field (Salesforce field names, as the payload's change has them)"
    )
    note: str | None = Field(default=None, max_length=2000)


@app.post(
    "/sync/errors/<ref>/resolve-conflict",
    summary="Settle a conflict (manual policy): one side, or a side field by field; the record syncs accordingly",
    tags=ERRORS,
    responses=answers(HTTPStatus.OK, "The entry, resolved; the record syncs as decided", HTTPStatus.NOT_FOUND),
)
@app.requires(Role.ADMINISTRATOR)
def resolve_conflict(ref: str, body: Annotated[ConflictResolution, Body()]) -> ErrorView:
    settled = _errors().resolve_conflict(
        ref, choose=body.choose, fields=body.fields, note=body.note, actor=app.caller.id
    )
    return _view(settled)


def _outcomes(outcomes: list[Any]) -> list[SelectionOutcome]:
    return [SelectionOutcome.model_validate(outcome, from_attributes=True) for outcome in outcomes]


@app.post(
    "/sync/errors/retry",
    summary="Retry a selection of entries (each as its own retry; one refused does not stop the others)",
    tags=ERRORS,
    responses=answers(HTTPStatus.OK, "Each entry's outcome"),
)
@app.requires(Role.ADMINISTRATOR)
def retry_errors(body: Annotated[ErrorSelection, Body()]) -> list[SelectionOutcome]:
    return _outcomes(_errors().retry_many(body.refs, actor=app.caller.id))


@app.post(
    "/sync/errors/resolve",
    summary="Resolve a selection of entries, with one note",
    tags=ERRORS,
    responses=answers(HTTPStatus.OK, "Each entry's outcome"),
)
@app.requires(Role.ADMINISTRATOR)
def resolve_errors(body: Annotated[ErrorSelection, Body()]) -> list[SelectionOutcome]:
    return _outcomes(_errors().resolve_many(body.refs, note=body.note, actor=app.caller.id))


@app.post(
    "/sync/dlq/replay",
    summary="Move dead-letter messages back to work: all, or those named; says how many moved",
    tags=ERRORS,
    responses=answers(HTTPStatus.OK, "What moved"),
)
@app.requires(Role.ADMINISTRATOR)
def replay_dead_letters(body: Annotated[ReplayRequest, Body()]) -> ReplayReport:
    report = _errors().replay(body.queue, message_ids=body.message_ids)
    return ReplayReport.model_validate(report, from_attributes=True)


lambda_handler = api_handler(app, required_settings=REQUIRED_SETTINGS)
