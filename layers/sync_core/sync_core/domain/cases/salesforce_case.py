"""The case's own part of its sync with Salesforce Case: what the mapping cannot say.

A field mapping carries Subject, Description, Priority, Origin, the account and the contact. What belongs to the
case workflow is here, as the engine's Case hook calls it:
- `case_export_fields`: Status and the hub's status and reason (the status map), and OwnerId when the owner map
  names the case's owner (otherwise the Salesforce owner is left as it is). Never IsClosed or ClosedDate.
- `case_status_change`: a change from Salesforce read as the workflow action it means, or refused as a
  `WorkflowConflict` naming the case's status, the attempted change and the actions allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field, model_validator

from sync_core.domain.cases.models import Case
from sync_core.domain.cases.salesforce_status_map import (
    IncomingStatusChange,
    SalesforceCaseStatusMap,
    plan_salesforce_status_change,
    salesforce_status_fields,
)
from sync_core.domain.cases.vocabulary import StrictModel, UserId
from sync_core.domain.cases.workflow import allowed_actions
from sync_core.errors import InvalidReasonError, InvalidTransitionError, ValidationFailedError

SalesforceUserId = Annotated[
    str, Field(pattern=r"^005[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$", description="A Salesforce User id (005...)")
]
OWNER_FIELD = "OwnerId"
CLOSED_DATE_FIELD = "ClosedDate"
WORKFLOW_CONFLICT = "WORKFLOW_CONFLICT"


class CaseSalesforceSettings(StrictModel):
    """The Case entity's settings for Salesforce that a field mapping cannot express (sync configuration
    `case`): the status map, and which Salesforce user each hub owner is."""

    status_map: SalesforceCaseStatusMap = Field(default_factory=SalesforceCaseStatusMap)
    owner_map: dict[UserId, SalesforceUserId] = Field(
        default_factory=dict,
        max_length=5000,
        description="Hub user -> Salesforce User id; a case whose owner is not here leaves the Case's owner as is",
    )

    @model_validator(mode="after")
    def _one_hub_user_per_salesforce_user(self) -> CaseSalesforceSettings:
        seen: dict[str, str] = {}
        for hub_user, salesforce_user in self.owner_map.items():
            if salesforce_user in seen:
                raise ValueError(f"owner_map: {hub_user} and {seen[salesforce_user]} are both {salesforce_user}")
            seen[salesforce_user] = hub_user
        return self

    def workflow_fields(self) -> frozenset[str]:
        """The Salesforce fields (lower case) whose change is the workflow's to apply, not the mapping's: Status
        and the hub's status and reason fields (ClosedDate only goes with a Status change: case_status_change)."""
        names = ["Status", *(name for name in (self.status_map.status_field, self.status_map.reason_field) if name)]
        return frozenset(name.lower() for name in names)


def case_export_fields(fields: Mapping[str, Any], settings: CaseSalesforceSettings) -> dict[str, Any]:
    """The Case fields the workflow adds to the export of a case: Status, the hub's status and reason, and the
    owner when the owner map names them."""
    case = Case.model_validate(dict(fields))
    values: dict[str, Any] = dict(salesforce_status_fields(case, settings.status_map))
    if case.owner is not None and case.owner in settings.owner_map:
        values[OWNER_FIELD] = settings.owner_map[case.owner]
    return values


@dataclass(frozen=True)
class WorkflowConflict(Exception):
    """A change from Salesforce the workflow does not allow: the case keeps its state."""

    message: str
    status: str
    attempted: dict[str, Any]
    allowed_actions: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    def payload(self) -> dict[str, Any]:
        return {"status": self.status, "attempted": self.attempted, "allowed_actions": self.allowed_actions}


@dataclass(frozen=True)
class CaseStatusPlan:
    """What a Salesforce change asks of the workflow, and the closing date Salesforce gave it."""

    change: IncomingStatusChange
    closed_at: datetime | None = None


def case_status_change(case: Case, values: Mapping[str, Any], settings: CaseSalesforceSettings) -> CaseStatusPlan:
    """The workflow's reading of a Salesforce change (its values by field name, the fields it carries).

    Raises WorkflowConflict when the workflow does not allow it (no action reaches the status from the case's
    status, or the target status does not take the reason), naming the status, the attempted change and the
    allowed actions.
    """
    status_map = settings.status_map
    lowered = {name.lower(): value for name, value in values.items()}
    status = lowered.get("status")
    reason_field = status_map.reason_field
    reason = lowered.get(reason_field.lower()) if reason_field else None
    attempted: dict[str, Any] = {"Status": status}
    if reason_field and reason is not None:
        attempted[reason_field] = reason
    allowed = [action.value for action in allowed_actions(case.status)]
    where = f"{case.status.value} / {case.reason.value}"
    try:
        change = plan_salesforce_status_change(
            case,
            salesforce_status=str(status) if status is not None else None,
            salesforce_reason=str(reason) if reason is not None else None,
            mapping=status_map,
        )
    except InvalidTransitionError as exc:
        raise WorkflowConflict(
            f"workflow conflict: {exc}", status=case.status.value, attempted=attempted, allowed_actions=allowed
        ) from exc
    except InvalidReasonError as exc:
        raise WorkflowConflict(
            f"workflow conflict: the case is {where}; {exc} (allowed reasons: {', '.join(exc.allowed_reasons)}; "
            f"allowed actions: {', '.join(allowed) or 'none'})",
            status=case.status.value,
            attempted=attempted,
            allowed_actions=allowed,
        ) from exc
    except ValidationFailedError as exc:
        raise WorkflowConflict(
            f"workflow conflict: the case is {where}; {exc} (allowed actions: {', '.join(allowed) or 'none'})",
            status=case.status.value,
            attempted=attempted,
            allowed_actions=allowed,
        ) from exc
    return CaseStatusPlan(change, closed_at=_instant(lowered.get(CLOSED_DATE_FIELD.lower())))


def _instant(value: Any) -> datetime | None:
    """Salesforce's ClosedDate (ISO 8601 text as REST and outbound messages give it, epoch milliseconds as Event
    Relay's change events do, or a datetime), as an aware datetime; None if absent or unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
