"""sync_first_load_api: an entity's first load (Acumatica's Process All) or its dry run, for administrators.

Apart from sync_admin_api because a first load reads Salesforce (every live row of the entity's object): only
this route pays simple-salesforce's import cost; the rest of sync administration never loads it.
"""

# No `from __future__ import annotations`: Powertools reads the annotations to validate and document routes.
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, Field

from sync_core.adapters.schedule_factory import FIRST_LOAD_SETTINGS, build_first_load
from sync_core.config import get_settings
from sync_core.domain.entities import EntityName
from sync_core.http.openapi import answers
from sync_core.http.resolver import HubResolver, api_handler
from sync_core.http.roles import Role
from sync_core.services.first_load import FirstLoadService

REQUIRED_SETTINGS = FIRST_LOAD_SETTINGS

app = HubResolver()


@cache
def _service() -> FirstLoadService:
    return build_first_load(get_settings())


class FirstLoadRequest(BaseModel):
    dry_run: bool = Field(description="true: only report what the first load would do; false: do it")


class FirstLoadAnswer(BaseModel):
    """What the first load matched and did (or, a dry run, would do)."""

    entity: EntityName
    dry_run: bool
    hub_records: int
    salesforce_records: int
    matched_by: list[str] = Field(description="The external id, then the entity's matching fields")
    counts: dict[str, int] = Field(description="Records per planned action (link, create in hub, ... ambiguous)")
    samples: dict[str, list[dict[str, Any]]] = Field(description="A few records per action, to check the plan by")
    queued: int = Field(description="Work queued (0 in a dry run)")
    refused: int = Field(description="Work a queue refused (run it again)")
    flagged: int = Field(description="Ambiguous records written to the error log (AMBIGUOUS_MATCH)")


@app.post(
    "/sync/entities/<entity>/process-all",
    summary="First load (Process All): match the entity's records on both sides, then link, create and update; "
    "with dry_run, only the report",
    tags=["Sync administration"],
    responses=answers(HTTPStatus.OK, "The first load's report"),
)
@app.requires(Role.ADMINISTRATOR)
def first_load(entity: EntityName, body: Annotated[FirstLoadRequest, Body()]) -> FirstLoadAnswer:
    report = _service().first_load(entity, dry_run=body.dry_run)
    return FirstLoadAnswer.model_validate(report.as_dict())


lambda_handler = api_handler(app, required_settings=REQUIRED_SETTINGS)
