"""records_api: CRUD and listing of hub records of every synced entity, and their sync status."""

# No `from __future__ import annotations`: routes are built per entity and Powertools reads their
# annotations at registration time to validate bodies and write the OpenAPI document.
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from sync_core.adapters.factories import build_records_service
from sync_core.adapters.idempotency import run_idempotently
from sync_core.config import get_settings
from sync_core.domain.entities import ENTITY_MODELS, EntityFields, EntityName
from sync_core.domain.records import HubRecord, Page
from sync_core.domain.sync_state import SyncState
from sync_core.errors import OperationNotAllowedError
from sync_core.http.errors import error_response, register_error_handlers
from sync_core.http.requests import caller_identity, etag, expected_version
from sync_core.observability import logger, metrics, tracer
from sync_core.services.records import RecordsService

app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)

Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="idempotency-key", description="Makes a retried create safe: the same key returns the first answer"),
]
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


@cache
def _service() -> RecordsService:
    return build_records_service(get_settings())


def _record_response(record: HubRecord, status: HTTPStatus = HTTPStatus.OK) -> Response[HubRecord]:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=record,
        headers={"ETag": etag(record.version)},
    )


def _caller() -> str:
    return caller_identity(app.current_event.raw_event)


def _register_entity_routes(entity: EntityName, model: type[EntityFields] | None) -> None:
    """The routes of one entity; Case is read-only here (its writes go through the case workflow)."""
    collection = f"/records/{entity.value}"
    item = f"{collection}/<record_id>"
    tags = [entity.value]

    @app.get(collection, summary=f"List {entity.value} records, or find one by Salesforce id", tags=tags)
    def list_records(limit: Limit = 25, cursor: Cursor = None, salesforce_id: SalesforceId = None) -> Page[HubRecord]:
        if salesforce_id:
            return _service().find_by_salesforce_id(entity, salesforce_id)
        return _service().list_records(entity, limit=limit, cursor=cursor)

    @app.get(item, summary=f"Read a {entity.value} record", tags=tags)
    def get_record(record_id: str) -> Response[HubRecord]:
        return _record_response(_service().get_record(entity, record_id))

    @app.get(f"{item}/sync-status", summary=f"Sync status of a {entity.value} record", tags=tags)
    def get_sync_status(record_id: str) -> SyncStatusView:
        state: SyncState = _service().sync_status(entity, record_id)
        return SyncStatusView.model_validate(
            {**state.model_dump(mode="json"), "record_id": state.record_id, "entity": state.entity}
        )

    if model is None:
        refusal = OperationNotAllowedError(f"{entity.value} records change only through /cases (the case workflow)")

        @app.route(collection, method=["POST"], include_in_schema=False)
        @app.route(item, method=["PUT", "PATCH", "DELETE"], include_in_schema=False)
        def refuse_write(record_id: str | None = None) -> Response[Any]:
            return error_response(HTTPStatus.METHOD_NOT_ALLOWED, refusal.message)

        return

    def create_record(body: EntityFields, idempotency_key: IdempotencyKey = None) -> Response[HubRecord]:
        data = body.model_dump(mode="json")
        caller = _caller()

        def create() -> dict[str, Any]:
            record = _service().create_record(entity, data, actor=caller)
            metrics.add_metric(name="RecordCreated", unit=MetricUnit.Count, value=1)
            return record.model_dump(mode="json")

        stored = run_idempotently(
            create,
            idempotency_key=idempotency_key,
            scope=f"records.create.{entity.value}",
            caller=caller,
            request_payload=data,
            context=app.lambda_context,
        )
        return _record_response(HubRecord.model_validate(stored), HTTPStatus.CREATED)

    def replace_record(record_id: str, body: EntityFields) -> Response[HubRecord]:
        record = _service().update_record(
            entity,
            record_id,
            body.model_dump(mode="json"),
            actor=_caller(),
            expected_version=expected_version(app.current_event.headers),
            replace=True,
        )
        return _record_response(record)

    # The body's model is the entity's own: set it before Powertools reads the signature.
    for handler in (create_record, replace_record):
        handler.__annotations__["body"] = Annotated[model, Body()]
    app.post(collection, summary=f"Create a {entity.value} record (Modified Locally, operation Insert)", tags=tags)(
        create_record
    )
    app.put(item, summary=f"Replace a {entity.value} record's fields", tags=tags)(replace_record)

    @app.patch(
        item,
        summary=f"Change some fields of a {entity.value} record (custom_fields merge; null removes one)",
        tags=tags,
    )
    def patch_record(record_id: str, body: Annotated[dict[str, Any], Body()]) -> Response[HubRecord]:
        record = _service().update_record(
            entity,
            record_id,
            body,
            actor=_caller(),
            expected_version=expected_version(app.current_event.headers),
            replace=False,
        )
        return _record_response(record)

    @app.delete(item, summary=f"Delete a {entity.value} record (sync state kept, operation Delete)", tags=tags)
    def delete_record(record_id: str) -> Response[Any]:
        _service().delete_record(entity, record_id, expected_version=expected_version(app.current_event.headers))
        return Response(status_code=HTTPStatus.NO_CONTENT.value)


for _entity in EntityName:
    _register_entity_routes(_entity, ENTITY_MODELS.get(_entity))


@app.not_found
def unknown_route(_: Exception) -> Response[Any]:
    path = app.current_event.path
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "records" and parts[1] not in EntityName.__members__.values():
        known = ", ".join(entity.value for entity in EntityName)
        return error_response(HTTPStatus.NOT_FOUND, f"unknown entity {parts[1]!r}; known entities: {known}")
    return error_response(HTTPStatus.NOT_FOUND, f"no route {app.current_event.http_method} {path}")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
