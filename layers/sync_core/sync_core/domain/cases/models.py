"""The case and what its release creates, as stored in hub records and answered by the API.

A case's activities are not in here: they are items of their own (sync_core.domain.cases.activities), and the
case keeps only `activity_totals`, a bounded summary the activity rules update as each one is logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, Field, ValidationError, model_validator

from sync_core.domain.cases.vocabulary import (
    AttributeValue,
    CaseId,
    CaseOrigin,
    CaseReason,
    CaseStatus,
    Hours,
    Level,
    Minutes,
    RelationType,
    SettingId,
    StrictModel,
    UserId,
)
from sync_core.domain.cases.workflow import STATUS_REASONS
from sync_core.domain.entities import EntityFields, EntityName, HubId, LongText, Money, ShortText
from sync_core.domain.records import HubRecord
from sync_core.errors import ValidationFailedError

# Links to other cases live in the case item: bounded so it stays far below DynamoDB's 400 KB.
MAX_RELATED_CASES = 100


class RelatedCase(StrictModel):
    case_id: CaseId
    relation: RelationType


class RoundingBasis(StrictModel):
    """The class rounding that per-activity billable sums were taken with."""

    round_time_minutes: int = Field(ge=0)
    min_billable_minutes: int = Field(ge=0)


class ActivityTotals(StrictModel):
    """The running totals of a case's activities, updated in the same transaction as each activity is logged.

    Sums over billable activities only (a non-billable activity has no billable time). Per Activity billing
    rounds each activity by the class: `rounded_*` are those sums under `rounded_with`; when the class's rounding
    changes they are taken again from the stored activities (sync_core.domain.cases.activities.rebased_totals).
    """

    count: int = Field(default=0, ge=0, description="Activities logged; they are numbered 1 to count")
    first_outgoing_activity_date: AwareDatetime | None = None
    billable_minutes: int = Field(default=0, ge=0, description="Billable time of the billable activities")
    billable_overtime_minutes: int = Field(default=0, ge=0)
    rounded_with: RoundingBasis | None = None
    rounded_billable_minutes: int = Field(default=0, ge=0)
    rounded_billable_overtime_minutes: int = Field(default=0, ge=0)


class Case(EntityFields):
    """A case's fields, as stored in the hub record (entity Case) and synced to Salesforce Case."""

    subject: ShortText
    details: LongText | None = None
    class_id: SettingId
    status: CaseStatus = CaseStatus.NEW
    reason: CaseReason = CaseReason.UNASSIGNED
    severity: Level = Level.MEDIUM
    priority: Level = Level.MEDIUM
    origin: CaseOrigin | None = None
    account_id: HubId | None = None
    contact_id: HubId | None = None
    contract_id: SettingId | None = None
    owner: UserId | None = None
    workgroup_id: SettingId | None = None
    date_reported: AwareDatetime
    sla: AwareDatetime | None = Field(default=None, description="When the case should be closed (class SLA)")
    initial_response_due: AwareDatetime | None = Field(
        default=None, description="Date Reported plus the class's initial response time"
    )
    initial_response_minutes: Minutes | None = Field(
        default=None, description="Init. Response: the time from Date Reported to the first outgoing activity"
    )
    resolution_time_hours: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Resolution Time: the interval by which resolution is planned (from the class)"
    )
    last_activity_date: AwareDatetime | None = None
    last_incoming_activity_date: AwareDatetime | None = None
    last_outgoing_activity_date: AwareDatetime | None = None
    closing_date: AwareDatetime | None = None
    released_date: AwareDatetime | None = None
    active: bool = True
    billable: bool = False
    manual_override: bool = False
    billable_minutes: Minutes = 0
    billable_overtime_minutes: Minutes = 0
    time_spent_minutes: Minutes = 0
    overtime_minutes: Minutes = 0
    related_cases: list[RelatedCase] = Field(default_factory=list, max_length=MAX_RELATED_CASES)
    activity_totals: ActivityTotals = Field(
        default_factory=ActivityTotals,
        description="What the case keeps of its activities (each activity is an item of its own)",
    )
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    invoice_id: str | None = Field(default=None, description="The invoice its release created")
    contract_usage_id: str | None = Field(default=None, description="The contract usage its release recorded")

    @model_validator(mode="after")
    def _reason_fits_status(self) -> Case:
        if self.reason not in STATUS_REASONS[self.status]:
            raise ValueError(f"reason {self.reason.value!r} is not one a {self.status.value} case can have")
        return self


class CaseCreate(StrictModel):
    """A new case, as the Cases form's Summary and Additional Info areas take it."""

    subject: ShortText
    class_id: SettingId
    details: LongText | None = None
    reason: CaseReason = Field(default=CaseReason.UNASSIGNED, description="One of the New status's reasons")
    severity: Level = Level.MEDIUM
    priority: Level = Level.MEDIUM
    origin: CaseOrigin | None = None
    account_id: HubId | None = None
    contact_id: HubId | None = Field(default=None, description="Default: from the business account")
    contract_id: SettingId | None = None
    owner: UserId | None = None
    workgroup_id: SettingId | None = None
    billable: bool | None = Field(default=None, description="Default: the class's Billable")
    manual_override: bool = False
    billable_minutes: Minutes | None = Field(default=None, description="Only with manual_override")
    billable_overtime_minutes: Minutes | None = Field(default=None, description="Only with manual_override")
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    custom_fields: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class CaseUpdate(StrictModel):
    """A PATCH of a case: only the fields sent change; null clears an optional field.

    Status, dates, time spent and Active belong to the workflow and are not here.
    """

    subject: ShortText | None = None
    class_id: SettingId | None = None
    details: LongText | None = None
    reason: CaseReason | None = None
    severity: Level | None = None
    priority: Level | None = None
    origin: CaseOrigin | None = None
    account_id: HubId | None = None
    contact_id: HubId | None = None
    contract_id: SettingId | None = None
    owner: UserId | None = None
    workgroup_id: SettingId | None = None
    billable: bool | None = None
    manual_override: bool | None = None
    billable_minutes: Minutes | None = None
    billable_overtime_minutes: Minutes | None = None
    attributes: dict[str, AttributeValue | None] | None = Field(
        default=None, description="Merged by name; null removes an attribute"
    )
    custom_fields: dict[str, str | int | float | bool | None] | None = Field(
        default=None, description="Merged by name; null removes a custom field"
    )

    @model_validator(mode="after")
    def _required_fields_are_not_cleared(self) -> CaseUpdate:
        for name in ("subject", "class_id", "reason", "severity", "priority", "billable", "manual_override"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be cleared")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


# ---------------------------------------------------------------- what release creates


class InvoiceLine(StrictModel):
    description: ShortText
    hours: Hours
    unit_price: Annotated[Money, Field(ge=0)]
    amount: Annotated[Money, Field(ge=0)]


class Invoice(EntityFields):
    """The AR invoice that releasing a standalone billable case generates (Invoices and Memos, AR301000)."""

    case_id: CaseId
    account_id: HubId
    contact_id: HubId | None = None
    invoice_date: AwareDatetime
    currency: str
    description: ShortText
    lines: list[InvoiceLine]
    total: Annotated[Money, Field(ge=0)]


class ContractUsage(EntityFields):
    """The usage that releasing a contract case records (Contract Usage, CT303000)."""

    contract_id: SettingId
    case_id: CaseId
    account_id: HubId
    usage_date: AwareDatetime
    billable_minutes: Minutes
    billable_overtime_minutes: Minutes
    description: ShortText


class TypedRecord[F: EntityFields](BaseModel):
    """A hub record with typed fields: the same envelope as the records API's HubRecord."""

    entity: EntityName
    id: str
    version: int = Field(ge=1, description="Increases by one on every write (send it back in If-Match)")
    fields: F
    created_at: datetime
    updated_at: datetime
    updated_by: str = Field(description="A user, or sync:<source> when the sync itself wrote it")

    @classmethod
    def from_hub_record(cls, record: HubRecord) -> Self:
        return cls.model_validate({**record.model_dump(), "fields": record.fields})

    def to_hub_record(self) -> HubRecord:
        return HubRecord.model_validate({**self.model_dump(), "fields": store_form(self.fields)})


class CaseRecord(TypedRecord[Case]):
    entity: EntityName = EntityName.CASE


class InvoiceRecord(TypedRecord[Invoice]):
    entity: EntityName = EntityName.INVOICE


class ContractUsageRecord(TypedRecord[ContractUsage]):
    entity: EntityName = EntityName.CONTRACT_USAGE


class RelatedCaseView(BaseModel):
    """A row of the Related Cases tab: the link, and the related case's subject, status, owner and workgroup."""

    case_id: str
    relation: RelationType
    subject: str
    status: CaseStatus
    owner: str | None
    workgroup_id: str | None


def store_form(model: BaseModel) -> dict[str, Any]:
    """The stored form of typed fields: their JSON form without empty optionals."""
    return model.model_dump(mode="json", exclude_none=True)


def validated_case(data: dict[str, Any]) -> Case:
    """A case from its fields, refused (422, one entry per field) when they break a rule of the model."""
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailedError(
            "invalid case",
            errors=[
                {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "reason": e["msg"]} for e in exc.errors()
            ],
        ) from exc
