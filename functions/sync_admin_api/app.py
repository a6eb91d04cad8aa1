"""sync_admin_api: sync administration, entity by entity: the entity table, process and stop, configuration.

Reading is for any authenticated caller; every write is for the administrator role (403 otherwise).
"""

# No `from __future__ import annotations`: Powertools reads the annotations to validate and document routes.
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, Field

from sync_core.adapters.factories import SYNC_ADMIN_SETTINGS, build_sync_admin_service
from sync_core.config import get_settings
from sync_core.domain.entities import EntityName
from sync_core.domain.records import Page
from sync_core.domain.sync_admin import ConfigVersion, EntityRow, ProcessResult
from sync_core.domain.sync_config import EntitySyncConfig
from sync_core.http.openapi import answers
from sync_core.http.params import Cursor, IfMatch, Limit
from sync_core.http.preconditions import etag
from sync_core.http.resolver import HubResolver, api_handler
from sync_core.http.roles import Role
from sync_core.services.sync_admin import SyncAdminService

REQUIRED_SETTINGS = SYNC_ADMIN_SETTINGS
ENTITIES = ["Sync administration"]

app = HubResolver()


@cache
def _service() -> SyncAdminService:
    return build_sync_admin_service(get_settings())


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


lambda_handler = api_handler(app, required_settings=REQUIRED_SETTINGS)
