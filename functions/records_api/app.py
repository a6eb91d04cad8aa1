"""records_api: CRUD and listing of hub records of every synced entity, and their sync status."""

# No `from __future__ import annotations`: routes are built per entity and Powertools reads their
# annotations at registration time to validate bodies and write the OpenAPI document.
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from sync_core.adapters.factories import RECORDS_SERVICE_SETTINGS, build_records_service
from sync_core.config import get_settings
from sync_core.domain.entities import ENTITY_MODELS, EntityFields, EntityName
from sync_core.domain.records import HubRecord, Page
from sync_core.domain.sync_state import SyncAttempt, SyncState
from sync_core.http.identity import Caller
from sync_core.http.openapi import answers
from sync_core.http.params import Cursor, IdempotencyKey, IfMatch, Limit
from sync_core.http.preconditions import etag
from sync_core.http.resolver import HubResolver, api_handler
from sync_core.http.writes import run_write
from sync_core.observability import metrics
from sync_core.services.records import RecordsService

REQUIRED_SETTINGS = (*RECORDS_SERVICE_SETTINGS, "IDEMPOTENCY_TABLE")
CASE_WORKFLOW_ENTITIES = frozenset(entity for entity in EntityName if entity not in ENTITY_MODELS)


def _unknown_entity(path: str) -> str | None:
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "records" and parts[1] not in EntityName.__members__.values():
        known = ", ".join(entity.value for entity in EntityName)
        return f"unknown entity {parts[1]!r}; known entities: {known}"
    return None


def _written_elsewhere(method: str, path: str) -> str | None:
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[1] in CASE_WORKFLOW_ENTITIES:
        return f"{parts[1]} records change only through /cases (the case workflow)"
    return None


app = HubResolver(unknown_path_hint=_unknown_entity, not_allowed_hint=_written_elsewhere)

SalesforceId = Annotated[
    str | None,
    Query(
        alias="salesforce_id",
        pattern=r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$",
        description="Find the hub record linked to this Salesforce id",
    ),
]


class SyncStatusView(BaseModel):
    """The Sync Status tab of a record."""

    entity: EntityName
    record_id: str
    data_provider: str
    external_ref: str | None = Field(description="The Salesforce id of the linked record")
    status: str
    operation: str
    error: str | None
    latest_attempt: str | None
    import_scenario: str
    export_scenario: str
    record_version: int
    history: list[SyncAttempt] = Field(
        default_factory=list, description="The record's recent sync attempts, newest first (at most 10)"
    )


@cache
def _service() -> RecordsService:
    return build_records_service(get_settings())


WRITE_REFUSALS = (HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, HTTPStatus.PRECONDITION_FAILED)


def _record_response(record: HubRecord, status: HTTPStatus = HTTPStatus.OK) -> Response[HubRecord]:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=record,
        headers={"ETag": etag(record.version)},
    )


def _register_entity_routes(entity: EntityName, model: type[EntityFields] | None) -> None:
    """The routes of one entity; Case, Invoice and ContractUsage are read-only here (the case workflow writes
    them), so their writes are 405s."""
    collection = f"/records/{entity.value}"
    item = f"{collection}/<record_id>"
    tags = [entity.value]

    @app.get(collection, summary=f"List {entity.value} records, or find one by Salesforce id", tags=tags)
    def list_records(limit: Limit = 25, cursor: Cursor = None, salesforce_id: SalesforceId = None) -> Page[HubRecord]:
        if salesforce_id:
            return _service().find_by_salesforce_id(entity, salesforce_id)
        return _service().list_records(entity, limit=limit, cursor=cursor)

    @app.get(
        item,
        summary=f"Read a {entity.value} record",
        tags=tags,
        responses=answers(HTTPStatus.OK, "The record", HTTPStatus.NOT_FOUND, etag_header=True),
    )
    def get_record(record_id: str) -> Response[HubRecord]:
        return _record_response(_service().get_record(entity, record_id))

    @app.get(
        f"{item}/sync-status",
        summary=f"Sync status of a {entity.value} record",
        tags=tags,
        responses=answers(HTTPStatus.OK, "The record's sync status", HTTPStatus.NOT_FOUND),
    )
    def get_sync_status(record_id: str) -> SyncStatusView:
        state: SyncState = _service().sync_status(entity, record_id)
        return SyncStatusView.model_validate(
            {
                **state.model_dump(mode="json"),
                "record_id": state.record_id,
                "entity": state.entity,
                "history": state.model_dump(mode="json")["recent_attempts"],
            }
        )

    if model is None:
        return

    def create_record(body: EntityFields, idempotency_key: IdempotencyKey = None) -> Response[HubRecord]:
        data = body.model_dump(mode="json")

        def create(caller: Caller) -> dict[str, Any]:
            record = _service().create_record(entity, data, actor=caller.id)
            metrics.add_metric(name="RecordCreated", unit=MetricUnit.Count, value=1)
            return record.model_dump(mode="json")

        stored = run_write(
            app, create, scope=f"records.create.{entity.value}", idempotency_key=idempotency_key, payload=data
        )
        return _record_response(HubRecord.model_validate(stored), HTTPStatus.CREATED)

    def replace_record(record_id: str, body: EntityFields, if_match: IfMatch = None) -> Response[HubRecord]:
        return _record_response(_update(record_id, body.model_dump(mode="json"), replace=True))

    # The body's model is the entity's own: set it before Powertools reads the signature.
    for handler in (create_record, replace_record):
        handler.__annotations__["body"] = Annotated[model, Body()]
    app.post(
        collection,
        summary=f"Create a {entity.value} record (Modified Locally, operation Insert)",
        tags=tags,
        responses=answers(HTTPStatus.CREATED, "The new record", HTTPStatus.CONFLICT, etag_header=True),
    )(create_record)
    app.put(
        item,
        summary=f"Replace a {entity.value} record's fields",
        tags=tags,
        responses=answers(HTTPStatus.OK, "The record", *WRITE_REFUSALS, etag_header=True),
    )(replace_record)

    def _update(record_id: str, data: dict[str, Any], *, replace: bool) -> HubRecord:
        version = app.expected_version()
        return _service().update_record(
            entity, record_id, data, actor=app.caller.id, expected_version=version, replace=replace
        )

    @app.patch(
        item,
        summary=f"Change some fields of a {entity.value} record (custom_fields merge; null removes one)",
        tags=tags,
        responses=answers(HTTPStatus.OK, "The record", *WRITE_REFUSALS, etag_header=True),
    )
    def patch_record(
        record_id: str, body: Annotated[dict[str, Any], Body()], if_match: IfMatch = None
    ) -> Response[HubRecord]:
        return _record_response(_update(record_id, body, replace=False))

    @app.delete(
        item,
        summary=f"Delete a {entity.value} record (sync state kept, operation Delete)",
        tags=tags,
        responses=answers(HTTPStatus.NO_CONTENT, "Deleted", *WRITE_REFUSALS),
    )
    def delete_record(record_id: str, if_match: IfMatch = None) -> Response[Any]:
        _service().delete_record(entity, record_id, expected_version=app.expected_version())
        return Response(status_code=HTTPStatus.NO_CONTENT.value)


for _entity in EntityName:
    _register_entity_routes(_entity, ENTITY_MODELS.get(_entity))


lambda_handler = api_handler(app, required_settings=REQUIRED_SETTINGS)
