"""The case workflow of Acumatica's Cases form (CR306000): statuses, reasons, actions and the form's rules.

The tables below are the seed's text as data, so a reader can check them against the form line by line.
Where the form is silent the choice is ours and says so in a comment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, ValidationError, model_validator

from sync_core.domain.entities import EntityFields, EntityName, HubId, LongText, Money, ShortText
from sync_core.domain.records import HubRecord
from sync_core.errors import InvalidReasonError, InvalidTransitionError, ValidationFailedError

# ---------------------------------------------------------------- vocabulary


class CaseStatus(StrEnum):
    NEW = "New"
    OPEN = "Open"
    PENDING_CUSTOMER = "Pending Customer"
    CLOSED = "Closed"
    RELEASED = "Released"


class CaseReason(StrEnum):
    UNASSIGNED = "Unassigned"
    ASSIGNED = "Assigned"
    OPENED_ON_PORTAL = "Opened on Portal"
    IN_PROCESS = "In Process"
    UPDATED = "Updated"
    IN_ESCALATION = "In Escalation"
    PENDING_CLOSURE = "Pending Closure"
    MORE_INFO_REQUESTED = "More Info Requested"
    WAITING_CONFIRMATION = "Waiting Confirmation"
    RESOLVED = "Resolved"
    REJECTED = "Rejected"
    CANCELED = "Canceled"
    ABANDONED = "Abandoned"
    DUPLICATE = "Duplicate"


class CaseAction(StrEnum):
    """The form's workflow commands, as the API names them."""

    OPEN = "open"
    CLOSE = "close"
    PENDING_CUSTOMER = "pending-customer"
    RELEASE = "release"
    TAKE = "take"
    APPLY_ASSIGNMENT_RULES = "apply-assignment-rules"


class Level(StrEnum):
    """Severity and Priority: Low, Medium, High."""

    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


class RelationType(StrEnum):
    BLOCKS = "Blocks"
    DEPENDS_ON = "Depends On"
    RELATED = "Related"
    DUPLICATE_OF = "Duplicate Of"


class ActivityType(StrEnum):
    EMAIL = "Email"
    NOTE = "Note"
    PHONE_CALL = "Phone Call"
    TASK = "Task"
    EVENT = "Event"
    WORK_ITEM = "Work Item"
    CHAT = "Chat"
    ESCALATION = "Escalation"
    MESSAGE = "Message"


class ActivityDirection(StrEnum):
    """The Incoming/Outgoing check boxes of an activity type; Internal has both cleared."""

    INCOMING = "Incoming"
    OUTGOING = "Outgoing"
    INTERNAL = "Internal"


class ActivityStatus(StrEnum):
    DRAFT = "Draft"
    OPEN = "Open"
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    CANCELED = "Canceled"
    PENDING_APPROVAL = "Pending Approval"
    RELEASED = "Released"


class BillingMode(StrEnum):
    """Case Classes (CR206000): bill the case's total time, or each activity on its own."""

    PER_CASE = "Per Case"
    PER_ACTIVITY = "Per Activity"


# ---------------------------------------------------------------- the workflow tables (seed: Status, Reason)

# Status -> the reasons a case with that status can have.
STATUS_REASONS: Mapping[CaseStatus, tuple[CaseReason, ...]] = {
    CaseStatus.NEW: (CaseReason.UNASSIGNED, CaseReason.ASSIGNED, CaseReason.OPENED_ON_PORTAL),
    CaseStatus.OPEN: (
        CaseReason.ASSIGNED,
        CaseReason.IN_PROCESS,
        CaseReason.UPDATED,
        CaseReason.IN_ESCALATION,
        CaseReason.PENDING_CLOSURE,
    ),
    CaseStatus.PENDING_CUSTOMER: (
        CaseReason.MORE_INFO_REQUESTED,
        CaseReason.WAITING_CONFIRMATION,
        CaseReason.PENDING_CLOSURE,
    ),
    CaseStatus.CLOSED: (
        CaseReason.RESOLVED,
        CaseReason.REJECTED,
        CaseReason.CANCELED,
        CaseReason.ABANDONED,
        CaseReason.DUPLICATE,
    ),
    CaseStatus.RELEASED: (
        CaseReason.RESOLVED,
        CaseReason.REJECTED,
        CaseReason.CANCELED,
        CaseReason.ABANDONED,
        CaseReason.DUPLICATE,
    ),
}

# Statuses whose cases are active (further work expected): the form clears Active on Close.
ACTIVE_STATUSES = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING_CUSTOMER)


@dataclass(frozen=True)
class ActionRule:
    """One command of the form: where it is available, where it leads, and what its Details dialog asks."""

    label: str
    from_statuses: tuple[CaseStatus, ...]
    target_status: CaseStatus | None  # None: the status does not change
    dialog_reasons: tuple[CaseReason, ...] = ()  # the Details dialog's reasons; empty: no dialog
    takes_owner: bool = False  # the dialog's Owner box ("appears only when you click Open")
    sets_reason: CaseReason | None = None  # a reason the command sets by itself (Take Case: Assigned)

    @property
    def reason_required(self) -> bool:
        return bool(self.dialog_reasons)


WORKFLOW: Mapping[CaseAction, ActionRule] = {
    # "This command is available when the status of the case is New, Pending Customer, or Closed."
    CaseAction.OPEN: ActionRule(
        label="Open",
        from_statuses=(CaseStatus.NEW, CaseStatus.PENDING_CUSTOMER, CaseStatus.CLOSED),
        target_status=CaseStatus.OPEN,
        dialog_reasons=(
            CaseReason.IN_PROCESS,
            CaseReason.UPDATED,
            CaseReason.IN_ESCALATION,
            CaseReason.PENDING_CLOSURE,
            CaseReason.ASSIGNED,
        ),
        takes_owner=True,
    ),
    # "This command is available when the status of the case is New, Open, or Pending Customer."
    CaseAction.CLOSE: ActionRule(
        label="Close",
        from_statuses=(CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING_CUSTOMER),
        target_status=CaseStatus.CLOSED,
        dialog_reasons=(
            CaseReason.RESOLVED,
            CaseReason.REJECTED,
            CaseReason.CANCELED,
            CaseReason.ABANDONED,
            CaseReason.DUPLICATE,
        ),
    ),
    # "This command is available when the status of the case is Open."
    CaseAction.PENDING_CUSTOMER: ActionRule(
        label="Pending Customer",
        from_statuses=(CaseStatus.OPEN,),
        target_status=CaseStatus.PENDING_CUSTOMER,
        dialog_reasons=(CaseReason.MORE_INFO_REQUESTED, CaseReason.WAITING_CONFIRMATION, CaseReason.PENDING_CLOSURE),
    ),
    # "This command is available when the status of the case is Closed." No dialog: the closing reason stays.
    CaseAction.RELEASE: ActionRule(
        label="Release", from_statuses=(CaseStatus.CLOSED,), target_status=CaseStatus.RELEASED
    ),
    # The form names no statuses for Take Case; it sets reason Assigned, which only New and Open allow.
    CaseAction.TAKE: ActionRule(
        label="Take Case",
        from_statuses=tuple(status for status, reasons in STATUS_REASONS.items() if CaseReason.ASSIGNED in reasons),
        target_status=None,
        sets_reason=CaseReason.ASSIGNED,
    ),
    # The form names no statuses either; assignment is for active cases (the Assign Cases form lists those).
    CaseAction.APPLY_ASSIGNMENT_RULES: ActionRule(
        label="Apply Assignment Rules", from_statuses=ACTIVE_STATUSES, target_status=None
    ),
}


def allowed_actions(status: CaseStatus) -> list[CaseAction]:
    """The commands available for a case with this status, in the form's order."""
    return [action for action, rule in WORKFLOW.items() if status in rule.from_statuses]


def selectable_reasons(case: Case) -> tuple[CaseReason, ...]:
    """Reasons a user may pick for the case as it stands; a released case keeps its closing reason."""
    if case.status is CaseStatus.RELEASED:
        return (case.reason,)
    return STATUS_REASONS[case.status]


# ---------------------------------------------------------------- field types

SettingId = Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
UserId = Annotated[str, Field(min_length=1, max_length=512, description="A user: IAM principal or JWT subject")]
CaseId = Annotated[str, Field(pattern=r"^CS\d{6,}$", description="e.g. CS000042")]
Minutes = Annotated[int, Field(ge=0, le=10_000_000)]
Hours = Annotated[
    Decimal,
    Field(ge=0, max_digits=18, decimal_places=4),
    PlainSerializer(float, return_type=float, when_used="json"),
]
AttributeValue = str | int | float | bool

CASE_ID_PREFIX = "CS"
INVOICE_ID_PREFIX = "INV"
CONTRACT_USAGE_ID_PREFIX = "CU"
MAX_ACTIVITIES = 500  # activities live inside the case item (DynamoDB items stop at 400 KB)


def format_case_id(number: int) -> str:
    """Case ID from the numbering sequence, e.g. CS000042."""
    return f"{CASE_ID_PREFIX}{number:06d}"


def format_invoice_id(number: int) -> str:
    return f"{INVOICE_ID_PREFIX}{number:06d}"


def format_contract_usage_id(number: int) -> str:
    return f"{CONTRACT_USAGE_ID_PREFIX}{number:06d}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ---------------------------------------------------------------- settings: classes, workgroups, contracts, rules


class AttributeDefinition(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")]
    required: bool = False


class CaseClass(_Strict):
    """Case Classes (CR206000): the defaults and rules a case takes from its class."""

    class_id: SettingId
    description: Annotated[str, Field(max_length=255)] | None = None
    billable: bool = False
    allow_billable_override: bool = Field(default=False, description="Enable Billable Option Override")
    billing_mode: BillingMode = BillingMode.PER_CASE
    round_time_minutes: Annotated[int, Field(ge=0, le=480)] = Field(
        default=0, description="Billable time is rounded up to a multiple of this (0: no rounding)"
    )
    min_billable_minutes: Annotated[int, Field(ge=0, le=1440)] = Field(
        default=0, description="Billable time below this (but above zero) is raised to it"
    )
    labor_rate: Annotated[Money, Field(ge=0)] = Decimal(0)
    overtime_rate: Annotated[Money, Field(ge=0)] = Decimal(0)
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    initial_response_hours: Annotated[int, Field(ge=1, le=8760)] | None = Field(
        default=None, description="Sets the case's initial response due: Date Reported plus this"
    )
    resolution_hours: Annotated[int, Field(ge=1, le=8760)] | None = Field(
        default=None, description="The case's Resolution Time; its SLA is Date Reported plus this"
    )
    require_contract: bool = False
    allow_employee_contact: bool = Field(default=False, description="Allow Selecting Employee as Case Contact")
    attributes: list[AttributeDefinition] = Field(default_factory=list)


class Workgroup(_Strict):
    workgroup_id: SettingId
    name: Annotated[str, Field(max_length=255)] | None = None
    members: list[UserId] = Field(default_factory=list)


class Contract(_Strict):
    """A contract with a business account; releasing its cases records contract usage."""

    contract_id: SettingId
    account_id: HubId
    description: Annotated[str, Field(max_length=255)] | None = None
    active: bool = True


class AssignmentRule(_Strict):
    """One row of the case assignment map: the first rule whose conditions all match assigns the case."""

    workgroup_id: SettingId
    owner: UserId | None = Field(default=None, description="Also make this member the owner")
    class_id: SettingId | None = None
    severity: Level | None = None
    priority: Level | None = None
    account_id: HubId | None = None

    def matches(self, case: Case) -> bool:
        wanted = {
            "class_id": self.class_id,
            "severity": self.severity,
            "priority": self.priority,
            "account_id": self.account_id,
        }
        return all(value is None or getattr(case, name) == value for name, value in wanted.items())


class AssignmentRules(_Strict):
    rules: list[AssignmentRule] = Field(default_factory=list)


# ---------------------------------------------------------------- the case


class RelatedCase(_Strict):
    case_id: CaseId
    relation: RelationType


class ActivityInput(_Strict):
    """An activity to log on a case (Create Email, Create Note, Create Phone Call, ...)."""

    type: ActivityType
    summary: ShortText
    direction: ActivityDirection | None = Field(
        default=None, description="Default: Outgoing for an Email, Internal otherwise; an Email is never Internal"
    )
    status: ActivityStatus = ActivityStatus.COMPLETED
    start_date: AwareDatetime | None = Field(default=None, description="Default: now")
    billable: bool | None = Field(default=None, description="Default: the case's Billable")
    time_spent_minutes: Minutes = 0
    overtime_minutes: Minutes = 0
    billable_minutes: Minutes | None = Field(default=None, description="Default: time spent when billable")
    billable_overtime_minutes: Minutes | None = Field(default=None, description="Default: overtime when billable")
    owner: UserId | None = Field(default=None, description="Default: the caller")
    workgroup_id: SettingId | None = Field(default=None, description="Default: the case's workgroup")
    description: LongText | None = None

    @model_validator(mode="after")
    def _email_is_incoming_or_outgoing(self) -> ActivityInput:
        # "Email activities ... are marked by default as either incoming or outgoing."
        if self.type is ActivityType.EMAIL and self.direction is ActivityDirection.INTERNAL:
            raise ValueError("an Email activity is Incoming or Outgoing")
        return self


class Activity(_Strict):
    number: int = Field(ge=1)
    type: ActivityType
    summary: ShortText
    direction: ActivityDirection
    status: ActivityStatus
    start_date: AwareDatetime
    created_at: AwareDatetime
    created_by: UserId
    owner: UserId | None = None
    workgroup_id: SettingId | None = None
    billable: bool
    time_spent_minutes: Minutes = 0
    overtime_minutes: Minutes = 0
    billable_minutes: Minutes = 0
    billable_overtime_minutes: Minutes = 0
    description: LongText | None = None

    @property
    def counts_for_last_activity(self) -> bool:
        # Activities whose type has both Incoming and Outgoing cleared do not move Last Activity Date.
        return self.direction is not ActivityDirection.INTERNAL


class Case(EntityFields):
    """A case's fields, as stored in the hub record (entity Case) and synced to Salesforce Case."""

    subject: ShortText
    details: LongText | None = None
    class_id: SettingId
    status: CaseStatus = CaseStatus.NEW
    reason: CaseReason = CaseReason.UNASSIGNED
    severity: Level = Level.MEDIUM
    priority: Level = Level.MEDIUM
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
    related_cases: list[RelatedCase] = Field(default_factory=list)
    activities: list[Activity] = Field(default_factory=list, max_length=MAX_ACTIVITIES)
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    invoice_id: str | None = Field(default=None, description="The invoice its release created")
    contract_usage_id: str | None = Field(default=None, description="The contract usage its release recorded")

    @model_validator(mode="after")
    def _reason_fits_status(self) -> Case:
        if self.reason not in STATUS_REASONS[self.status]:
            raise ValueError(f"reason {self.reason.value!r} is not one a {self.status.value} case can have")
        return self


class CaseCreate(_Strict):
    """A new case, as the Cases form's Summary and Additional Info areas take it."""

    subject: ShortText
    class_id: SettingId
    details: LongText | None = None
    reason: CaseReason = Field(default=CaseReason.UNASSIGNED, description="One of the New status's reasons")
    severity: Level = Level.MEDIUM
    priority: Level = Level.MEDIUM
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


class CaseUpdate(_Strict):
    """A PATCH of a case: only the fields sent change; null clears an optional field.

    Status, dates, time spent and Active belong to the workflow and are not here.
    """

    subject: ShortText | None = None
    class_id: SettingId | None = None
    details: LongText | None = None
    reason: CaseReason | None = None
    severity: Level | None = None
    priority: Level | None = None
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


class InvoiceLine(_Strict):
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


# ---------------------------------------------------------------- records


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


# ---------------------------------------------------------------- what the rules need to know


@dataclass(frozen=True)
class ContactFacts:
    """What the rules need of a contact record."""

    contact_id: str
    active: bool
    is_employee: bool


@dataclass(frozen=True)
class AccountContacts:
    """A business account's primary contact and (up to two of) its active contacts."""

    primary: ContactFacts | None
    active_contacts: tuple[ContactFacts, ...]


@dataclass(frozen=True)
class CaseReferences:
    """The settings and records a case names, loaded by the service for the rules to check."""

    case_class: CaseClass
    workgroup: Workgroup | None = None
    contract: Contract | None = None
    contact: ContactFacts | None = None
    account_contacts: AccountContacts | None = None  # set when the account was chosen or changed


def default_contact(account: AccountContacts) -> str | None:
    """The form's rule: an active primary contact, else the only active contact, else none."""
    if account.primary is not None and account.primary.active:
        return account.primary.contact_id
    if len(account.active_contacts) == 1:
        return account.active_contacts[0].contact_id
    return None


# ---------------------------------------------------------------- billing rules (seed: Billing Section)


class ManualOverrideRule(StrEnum):
    NEVER = "cannot be selected"
    WHEN_CASE_BILLABLE = "can be selected if the case is Billable"
    ALWAYS = "can be selected"


@dataclass(frozen=True)
class BillingRule:
    billable_default: bool
    billable_can_change: bool
    manual_override: ManualOverrideRule


# (class Billable, class Enable Billable Option Override) -> what the case's Billable and Manual Override may be.
BILLING_RULES: Mapping[tuple[bool, bool], BillingRule] = {
    (False, False): BillingRule(False, billable_can_change=False, manual_override=ManualOverrideRule.NEVER),
    (False, True): BillingRule(False, billable_can_change=True, manual_override=ManualOverrideRule.WHEN_CASE_BILLABLE),
    (True, False): BillingRule(True, billable_can_change=False, manual_override=ManualOverrideRule.ALWAYS),
    (True, True): BillingRule(True, billable_can_change=True, manual_override=ManualOverrideRule.ALWAYS),
}


def billing_rule(case_class: CaseClass) -> BillingRule:
    return BILLING_RULES[(case_class.billable, case_class.allow_billable_override)]


def check_billing(case_class: CaseClass, *, billable: bool, manual_override: bool) -> None:
    """Refuse a Billable or Manual Override the class does not let the case have."""
    rule = billing_rule(case_class)
    if billable != rule.billable_default and not rule.billable_can_change:
        raise ValidationFailedError(
            f"class {case_class.class_id} makes cases {'billable' if rule.billable_default else 'not billable'}"
            " and does not allow overriding it",
            field="billable",
        )
    if manual_override and (
        rule.manual_override is ManualOverrideRule.NEVER
        or (rule.manual_override is ManualOverrideRule.WHEN_CASE_BILLABLE and not billable)
    ):
        raise ValidationFailedError(
            f"Manual Override {rule.manual_override.value} for class {case_class.class_id}", field="manual_override"
        )


def round_billable_minutes(minutes: int, case_class: CaseClass, *, apply_minimum: bool = True) -> int:
    """Round up to the class's step, then raise to its minimum billable time (zero stays zero)."""
    if minutes <= 0:
        return 0
    step = case_class.round_time_minutes
    rounded = math.ceil(minutes / step) * step if step else minutes
    return max(rounded, case_class.min_billable_minutes) if apply_minimum else rounded


def billable_activities(case: Case) -> list[Activity]:
    return [activity for activity in case.activities if activity.billable]


def computed_billable_time(case: Case, case_class: CaseClass) -> tuple[int, int]:
    """Billable time and overtime from the billable activities, by the class's billing mode.

    Per Case rounds the totals; Per Activity rounds each activity. The minimum applies to work time only.
    """
    activities = billable_activities(case)
    if case_class.billing_mode is BillingMode.PER_ACTIVITY:
        return (
            sum(round_billable_minutes(a.billable_minutes, case_class) for a in activities),
            sum(
                round_billable_minutes(a.billable_overtime_minutes, case_class, apply_minimum=False) for a in activities
            ),
        )
    return (
        round_billable_minutes(sum(a.billable_minutes for a in activities), case_class),
        round_billable_minutes(sum(a.billable_overtime_minutes for a in activities), case_class, apply_minimum=False),
    )


def _with_totals(data: dict[str, Any], case_class: CaseClass) -> dict[str, Any]:
    """Time spent, last activity dates and (unless overridden by hand) billable time, from the activities."""
    case = _validated(data)
    activities = case.activities
    data["time_spent_minutes"] = sum(a.time_spent_minutes for a in activities)
    data["overtime_minutes"] = sum(a.overtime_minutes for a in activities)
    data["last_activity_date"] = max((a.start_date for a in activities if a.counts_for_last_activity), default=None)
    data["last_incoming_activity_date"] = max(
        (a.start_date for a in activities if a.direction is ActivityDirection.INCOMING), default=None
    )
    data["last_outgoing_activity_date"] = max(
        (a.start_date for a in activities if a.direction is ActivityDirection.OUTGOING), default=None
    )
    first_response = min((a.start_date for a in activities if a.direction is ActivityDirection.OUTGOING), default=None)
    data["initial_response_minutes"] = (
        None if first_response is None else max(0, int((first_response - case.date_reported).total_seconds() // 60))
    )
    if not case.billable:
        data["billable_minutes"], data["billable_overtime_minutes"] = 0, 0
    elif not case.manual_override:
        data["billable_minutes"], data["billable_overtime_minutes"] = computed_billable_time(case, case_class)
    return data


# ---------------------------------------------------------------- create and edit


def check_owner(owner: str | None, workgroup: Workgroup | None) -> None:
    """With a workgroup, the owner must be one of its members; without one, anyone may own the case."""
    if owner is not None and workgroup is not None and owner not in workgroup.members:
        raise ValidationFailedError(f"{owner} is not a member of workgroup {workgroup.workgroup_id}", field="owner")


def _check_references(case: Case, refs: CaseReferences, changed: Set[str] | None = None) -> None:
    """Check the rules on what the case names; on an edit (`changed`), only the rules whose fields it touched.

    A rule is checked when its value is chosen, as the form checks a box when it is filled in: a workgroup that
    lost a member, or a class edited since, does not stop an unrelated edit (the sync's included).
    """

    def touched(*names: str) -> bool:
        return changed is None or not changed.isdisjoint({"class_id", *names})

    case_class = refs.case_class
    if touched("owner", "workgroup_id"):
        check_owner(case.owner, refs.workgroup)
    if touched("contract_id", "account_id"):
        _check_contract(case, refs)
    if touched("contact_id", "account_id"):
        _check_contact(case, refs)
    if touched("attributes"):
        _check_attributes(case, case_class)


def _check_contract(case: Case, refs: CaseReferences) -> None:
    case_class = refs.case_class
    if case_class.require_contract and case.contract_id is None:
        raise ValidationFailedError(f"class {case_class.class_id} requires a contract", field="contract_id")
    if refs.contract is not None:
        if refs.contract.account_id != case.account_id:
            raise ValidationFailedError(
                f"contract {refs.contract.contract_id} belongs to account {refs.contract.account_id}",
                field="contract_id",
            )
        if not refs.contract.active:
            raise ValidationFailedError(f"contract {refs.contract.contract_id} is not active", field="contract_id")


def _check_contact(case: Case, refs: CaseReferences) -> None:
    case_class = refs.case_class
    contact = _contact_facts(case.contact_id, refs)
    if contact is not None and contact.is_employee and not case_class.allow_employee_contact:
        raise ValidationFailedError(
            f"class {case_class.class_id} does not allow an employee as the case contact", field="contact_id"
        )


def _check_attributes(case: Case, case_class: CaseClass) -> None:
    defined = {attribute.name: attribute for attribute in case_class.attributes}
    unknown = sorted(set(case.attributes) - set(defined))
    missing = sorted(name for name, a in defined.items() if a.required and case.attributes.get(name) in (None, ""))
    errors = [
        {"field": f"attributes.{name}", "reason": f"not an attribute of class {case_class.class_id}"}
        for name in unknown
    ]
    errors += [{"field": f"attributes.{name}", "reason": "required by the case class"} for name in missing]
    if errors:
        raise ValidationFailedError("case attributes do not fit the case class", errors=errors)


def _contact_facts(contact_id: str | None, refs: CaseReferences) -> ContactFacts | None:
    known = [refs.contact]
    if refs.account_contacts is not None:
        known += [refs.account_contacts.primary, *refs.account_contacts.active_contacts]
    return next((facts for facts in known if facts is not None and facts.contact_id == contact_id), None)


def _validated(data: dict[str, Any]) -> Case:
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailedError(
            "invalid case",
            errors=[
                {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "reason": e["msg"]} for e in exc.errors()
            ],
        ) from exc


def new_case(draft: CaseCreate, refs: CaseReferences, *, now: datetime) -> Case:
    """A new case: class defaults (Billable, SLA), the account's default contact, and every rule checked."""
    case_class = refs.case_class
    if draft.reason not in STATUS_REASONS[CaseStatus.NEW]:
        raise InvalidReasonError(
            f"a new case cannot have reason {draft.reason.value!r}",
            status=CaseStatus.NEW.value,
            reason=draft.reason.value,
            allowed_reasons=STATUS_REASONS[CaseStatus.NEW],
        )
    billable = billing_rule(case_class).billable_default if draft.billable is None else draft.billable
    check_billing(case_class, billable=billable, manual_override=draft.manual_override)
    _check_manual_times(draft.manual_override, draft.billable_minutes, draft.billable_overtime_minutes)
    contact_id = draft.contact_id
    if contact_id is None and refs.account_contacts is not None:
        contact_id = default_contact(refs.account_contacts)
    data = {
        **draft.model_dump(exclude={"billable_minutes", "billable_overtime_minutes"}),
        "contact_id": contact_id,
        "billable": billable,
        "billable_minutes": draft.billable_minutes or 0,
        "billable_overtime_minutes": draft.billable_overtime_minutes or 0,
        "status": CaseStatus.NEW,
        "active": True,
        "date_reported": now,
        **_service_levels(case_class, now),
    }
    case = _validated(_with_totals(data, case_class))
    _check_references(case, refs)
    return case


def _service_levels(case_class: CaseClass, reported: datetime) -> dict[str, datetime | int | None]:
    return {
        "sla": reported + timedelta(hours=case_class.resolution_hours) if case_class.resolution_hours else None,
        "resolution_time_hours": case_class.resolution_hours,
        "initial_response_due": (
            reported + timedelta(hours=case_class.initial_response_hours) if case_class.initial_response_hours else None
        ),
    }


def _check_manual_times(manual_override: bool, *times: int | None) -> None:
    if not manual_override and any(value is not None for value in times):
        raise ValidationFailedError("billable time is set by hand only with Manual Override", field="billable_minutes")


def _merge_named(current: Mapping[str, Any], changes: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(current)
    for name, value in (changes or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


# Once released, the invoice or contract usage exists: what it was computed from stays as it was.
RELEASED_FROZEN_FIELDS = frozenset(
    {
        "class_id",
        "account_id",
        "contract_id",
        "billable",
        "manual_override",
        "billable_minutes",
        "billable_overtime_minutes",
    }
)


def update_case(current: Case, update: CaseUpdate, refs: CaseReferences) -> Case:
    """A PATCH: the sent fields change, then the class, contact, owner and billing rules are checked again."""
    changes = update.changes()
    if current.status is CaseStatus.RELEASED and (frozen := sorted(RELEASED_FROZEN_FIELDS & set(changes))):
        raise ValidationFailedError(
            "a released case's billing is done: these fields no longer change",
            errors=[{"field": name, "reason": "the case is Released"} for name in frozen],
        )
    if "reason" in changes and update.reason not in selectable_reasons(current):
        raise InvalidReasonError(
            f"a {current.status.value} case cannot have reason {changes['reason']!r}",
            status=current.status.value,
            reason=changes["reason"],
            allowed_reasons=selectable_reasons(current),
        )
    data = current.model_dump()
    data.update({k: v for k, v in changes.items() if k not in {"attributes", "custom_fields"}})
    data["attributes"] = _merge_named(current.attributes, changes.get("attributes"))
    data["custom_fields"] = _merge_named(current.custom_fields, changes.get("custom_fields"))
    case_class = refs.case_class
    class_changed = "class_id" in changes and changes["class_id"] != current.class_id
    if class_changed:
        data.update(_service_levels(case_class, current.date_reported))
        # A class populates defaults: Billable from the class, Manual Override cleared, unless sent too.
        if "billable" not in changes:
            data["billable"] = billing_rule(case_class).billable_default
        if "manual_override" not in changes:
            data["manual_override"] = False
    account_changed = "account_id" in changes and changes["account_id"] != current.account_id
    # The form defaults the contact when an account is chosen; clearing the account leaves the contact.
    if account_changed and "contact_id" not in changes and refs.account_contacts is not None:
        data["contact_id"] = default_contact(refs.account_contacts)
    manual_override = bool(data["manual_override"])
    _check_manual_times(manual_override, changes.get("billable_minutes"), changes.get("billable_overtime_minutes"))
    if not {"class_id", "billable", "manual_override"}.isdisjoint(changes):
        check_billing(case_class, billable=bool(data["billable"]), manual_override=manual_override)
    case = _validated(_with_totals(data, case_class))
    _check_references(case, refs, changed=set(changes))
    return case


def add_activity(case: Case, activity: ActivityInput, *, case_class: CaseClass, actor: str, now: datetime) -> Case:
    """Log an activity: totals and last activity dates follow, and an incoming email reopens the case.

    "If the case has been reopened by an incoming email, this status can also be assigned to the case
    along with the Updated reason": an incoming Email on a Pending Customer or Closed case (the statuses
    Open is available from, New aside) makes it Open / Updated.
    """
    if case.status is CaseStatus.RELEASED:
        raise ValidationFailedError("a released case takes no new activities: its billing is done", field="case")
    if len(case.activities) >= MAX_ACTIVITIES:
        raise ValidationFailedError(f"a case holds at most {MAX_ACTIVITIES} activities", field="activities")
    billable = case.billable if activity.billable is None else activity.billable
    direction = activity.direction or (
        ActivityDirection.OUTGOING if activity.type is ActivityType.EMAIL else ActivityDirection.INTERNAL
    )
    if not billable and (activity.billable_minutes or activity.billable_overtime_minutes):
        raise ValidationFailedError("a non-billable activity has no billable time", field="billable_minutes")
    logged = Activity(
        number=max((a.number for a in case.activities), default=0) + 1,
        type=activity.type,
        summary=activity.summary,
        direction=direction,
        status=activity.status,
        start_date=activity.start_date or now,
        created_at=now,
        created_by=actor,
        owner=activity.owner or actor,
        workgroup_id=activity.workgroup_id or case.workgroup_id,
        billable=billable,
        time_spent_minutes=activity.time_spent_minutes,
        overtime_minutes=activity.overtime_minutes,
        billable_minutes=_default(activity.billable_minutes, activity.time_spent_minutes if billable else 0),
        billable_overtime_minutes=_default(
            activity.billable_overtime_minutes, activity.overtime_minutes if billable else 0
        ),
        description=activity.description,
    )
    data = case.model_dump()
    data["activities"] = [*case.activities, logged]
    reopens = (
        logged.type is ActivityType.EMAIL
        and logged.direction is ActivityDirection.INCOMING
        and case.status in (CaseStatus.PENDING_CUSTOMER, CaseStatus.CLOSED)
    )
    if reopens:
        data.update(_reopened(CaseReason.UPDATED))
    return _validated(_with_totals(data, case_class))


def _default(value: int | None, fallback: int) -> int:
    return fallback if value is None else value


def _reopened(reason: CaseReason) -> dict[str, Any]:
    # A reopened case is active again and no longer closed (the form's default workflow).
    return {"status": CaseStatus.OPEN, "reason": reason, "active": True, "closing_date": None}


def add_related_case(case: Case, related_id: str, relation: RelationType, *, case_id: str) -> Case:
    if related_id == case_id:
        raise ValidationFailedError("a case cannot be related to itself", field="case_id")
    others = [link for link in case.related_cases if link.case_id != related_id]
    return case.model_copy(update={"related_cases": [*others, RelatedCase(case_id=related_id, relation=relation)]})


def remove_related_case(case: Case, related_id: str) -> Case:
    return case.model_copy(
        update={"related_cases": [link for link in case.related_cases if link.case_id != related_id]}
    )


# ---------------------------------------------------------------- transitions


class TransitionRequest(_Strict):
    """The body of POST /cases/{caseId}/transitions: a command and what its Details dialog asks."""

    action: CaseAction
    reason: CaseReason | None = Field(default=None, description="Required by open, close and pending-customer")
    owner: UserId | None = Field(default=None, description="Only with open: assign the case to this user")


class TransitionOption(BaseModel):
    """A command available now, with the reasons its Details dialog offers."""

    action: CaseAction
    label: str
    target_status: CaseStatus
    reasons: list[CaseReason] = Field(description="Reasons to choose from; empty when the command sets its own")
    reason_required: bool
    takes_owner: bool


class AvailableTransitions(BaseModel):
    status: CaseStatus
    reason: CaseReason
    transitions: list[TransitionOption]


def allowed_transitions(case: Case) -> AvailableTransitions:
    """The commands available for the case as it stands, and what each would ask for."""
    options = [
        TransitionOption(
            action=action,
            label=rule.label,
            target_status=rule.target_status or case.status,
            reasons=list(_reasons_for(action, case)) if rule.reason_required else [],
            reason_required=rule.reason_required,
            takes_owner=rule.takes_owner,
        )
        for action, rule in WORKFLOW.items()
        if case.status in rule.from_statuses
    ]
    return AvailableTransitions(status=case.status, reason=case.reason, transitions=options)


def _reasons_for(action: CaseAction, case: Case) -> tuple[CaseReason, ...]:
    """Reasons the command accepts: its dialog's, or the one it keeps or sets."""
    rule = WORKFLOW[action]
    if rule.dialog_reasons:
        return rule.dialog_reasons
    if rule.sets_reason is not None:
        return (rule.sets_reason,)
    if action is CaseAction.RELEASE:
        return (case.reason,)
    return ()


@dataclass(frozen=True)
class TransitionOutcome:
    """The case after a command, and what its release created."""

    case: Case
    invoice: Invoice | None = None
    contract_usage: ContractUsage | None = None


@dataclass(frozen=True)
class WorkflowSettings:
    """Settings a command may need: the case's class, workgroup and contract, and the assignment map."""

    case_class: CaseClass
    workgroup: Workgroup | None = None
    contract: Contract | None = None
    assignment_rules: Sequence[AssignmentRule] = ()
    workgroups: Mapping[str, Workgroup] = field(default_factory=dict)


def check_transition(case: Case, request: TransitionRequest) -> CaseStatus:
    """Refuse a command the status does not allow (409) or a reason/owner its dialog would not take (422).

    Returns the status the case will have.
    """
    rule = WORKFLOW[request.action]
    if case.status not in rule.from_statuses:
        allowed = allowed_actions(case.status)
        raise InvalidTransitionError(
            f"{rule.label} is not available for a {case.status.value} case; available: "
            + (", ".join(a.value for a in allowed) or "none"),
            status=case.status.value,
            allowed_actions=[a.value for a in allowed],
        )
    target = rule.target_status or case.status
    accepted = _reasons_for(request.action, case)
    reason_ok = request.reason in accepted if rule.reason_required else request.reason in (None, *accepted)
    if not reason_ok:
        raise InvalidReasonError(
            f"{rule.label} to {target.value} "
            + (f"does not take reason {request.reason.value!r}" if request.reason else "needs a reason"),
            status=target.value,
            reason=request.reason.value if request.reason else None,
            allowed_reasons=[r.value for r in accepted],
        )
    if request.owner is not None and not rule.takes_owner:
        raise ValidationFailedError(f"{rule.label} does not take an owner (only open does)", field="owner")
    return target


def apply_transition(
    case: Case,
    request: TransitionRequest,
    *,
    case_id: str,
    actor: str,
    now: datetime,
    settings: WorkflowSettings,
) -> TransitionOutcome:
    """Run one command of the form on the case; pure, so the API and the sync check changes the same way."""
    check_transition(case, request)
    data = case.model_dump()
    match request.action:
        case CaseAction.OPEN:
            owner = request.owner if request.owner is not None else case.owner
            check_owner(owner, settings.workgroup)
            data.update(_reopened(_required(request.reason)), owner=owner)
        case CaseAction.PENDING_CUSTOMER:
            data.update(status=CaseStatus.PENDING_CUSTOMER, reason=_required(request.reason))
        case CaseAction.CLOSE:
            # "By default, the check box is cleared when the case is closed."
            data.update(status=CaseStatus.CLOSED, reason=_required(request.reason), closing_date=now, active=False)
        case CaseAction.TAKE:
            check_owner(actor, settings.workgroup)
            data.update(owner=actor, reason=CaseReason.ASSIGNED)
        case CaseAction.APPLY_ASSIGNMENT_RULES:
            data.update(_assignment(case, settings))
        case CaseAction.RELEASE:
            data.update(status=CaseStatus.RELEASED, released_date=now)
            return _release(_validated(data), case_id=case_id, now=now, settings=settings)
    return TransitionOutcome(case=_validated(data))


def _required(reason: CaseReason | None) -> CaseReason:
    if reason is None:  # check_transition already refused it; this keeps the types honest
        raise ValidationFailedError("reason is required", field="reason")
    return reason


def _assignment(case: Case, settings: WorkflowSettings) -> dict[str, Any]:
    rule = next((rule for rule in settings.assignment_rules if rule.matches(case)), None)
    if rule is None:
        raise ValidationFailedError("no assignment rule matches this case", field="action")
    workgroup = settings.workgroups.get(rule.workgroup_id)
    if workgroup is None:
        raise ValidationFailedError(f"assignment rule names unknown workgroup {rule.workgroup_id}", field="action")
    # The owner stays if the new workgroup has them; otherwise the rule's owner, or nobody.
    owner = rule.owner or (case.owner if case.owner in workgroup.members else None)
    check_owner(owner, workgroup)
    reason = case.reason
    if owner is not None and owner != case.owner and CaseReason.ASSIGNED in STATUS_REASONS[case.status]:
        reason = CaseReason.ASSIGNED
    elif owner is None and case.status is CaseStatus.NEW and case.reason is CaseReason.ASSIGNED:
        reason = CaseReason.UNASSIGNED  # the owner left; Opened on Portal keeps saying where the case came from
    return {"workgroup_id": workgroup.workgroup_id, "owner": owner, "reason": reason}


def _release(case: Case, *, case_id: str, now: datetime, settings: WorkflowSettings) -> TransitionOutcome:
    """Release: a contract case records contract usage; a standalone billable case gets an invoice."""
    case_class = settings.case_class
    if case.contract_id is not None:
        contract = settings.contract
        if contract is None or contract.contract_id != case.contract_id:
            raise ValidationFailedError(f"contract {case.contract_id} does not exist", field="contract_id")
        if not contract.active:
            raise ValidationFailedError(f"contract {contract.contract_id} is not active", field="contract_id")
        usage = ContractUsage(
            contract_id=contract.contract_id,
            case_id=case_id,
            account_id=contract.account_id,
            usage_date=now,
            billable_minutes=case.billable_minutes,
            billable_overtime_minutes=case.billable_overtime_minutes,
            description=f"Case {case_id}: {case.subject}"[:255],
        )
        return TransitionOutcome(case=case, contract_usage=usage)
    if not case.billable:
        return TransitionOutcome(case=case)
    if case.account_id is None:
        raise ValidationFailedError("a billable case needs a business account to invoice", field="account_id")
    lines = _invoice_lines(case, case_class, case_id=case_id)
    invoice = Invoice(
        case_id=case_id,
        account_id=case.account_id,
        contact_id=case.contact_id,
        invoice_date=now,
        currency=case_class.currency,
        description=f"Case {case_id}: {case.subject}"[:255],
        lines=lines,
        total=sum((line.amount for line in lines), Decimal(0)),
    )
    return TransitionOutcome(case=case, invoice=invoice)


def _invoice_lines(case: Case, case_class: CaseClass, *, case_id: str) -> list[InvoiceLine]:
    """Per Activity bills each billable activity; Per Case (or time set by hand) bills the case's totals."""
    if case_class.billing_mode is BillingMode.PER_ACTIVITY and not case.manual_override:
        work = [
            (f"{a.type.value} #{a.number}: {a.summary}", round_billable_minutes(a.billable_minutes, case_class))
            for a in billable_activities(case)
        ]
        overtime = [
            (
                f"Overtime, {a.type.value} #{a.number}: {a.summary}",
                round_billable_minutes(a.billable_overtime_minutes, case_class, apply_minimum=False),
            )
            for a in billable_activities(case)
        ]
    else:
        work = [(f"Case {case_id}: labor", case.billable_minutes)]
        overtime = [(f"Case {case_id}: overtime", case.billable_overtime_minutes)]
    return [
        _line(text, minutes, rate)
        for entries, rate in ((work, case_class.labor_rate), (overtime, case_class.overtime_rate))
        for text, minutes in entries
        if minutes > 0
    ]


def _line(description: str, minutes: int, rate: Decimal) -> InvoiceLine:
    hours = (Decimal(minutes) / 60).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    amount = (Decimal(minutes) * rate / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return InvoiceLine(description=description[:255], hours=hours, unit_price=rate, amount=amount)


# ---------------------------------------------------------------- Salesforce Case status (for the sync)

# Case.IsClosed derives from Status and ClosedDate is read-only in Salesforce: the sync never writes them.
SALESFORCE_READ_ONLY_CASE_FIELDS = frozenset({"IsClosed", "ClosedDate"})


class SalesforceCaseStatusMap(_Strict):
    """How hub statuses meet an org's Case Status picklist (orgs customise it; the defaults fit a new org)."""

    outbound: dict[CaseStatus, str] = Field(
        default_factory=lambda: {
            CaseStatus.NEW: "New",
            CaseStatus.OPEN: "Working",
            CaseStatus.PENDING_CUSTOMER: "Working",
            CaseStatus.CLOSED: "Closed",
            CaseStatus.RELEASED: "Closed",
        }
    )
    outbound_by_reason: dict[CaseReason, str] = Field(
        default_factory=lambda: {CaseReason.IN_ESCALATION: "Escalated"},
        description="Overrides outbound for a reason (only where the reason's status is not closed)",
    )
    inbound: dict[str, tuple[CaseStatus, CaseReason]] = Field(
        default_factory=lambda: {
            "New": (CaseStatus.NEW, CaseReason.UNASSIGNED),
            "Working": (CaseStatus.OPEN, CaseReason.IN_PROCESS),
            "Escalated": (CaseStatus.OPEN, CaseReason.IN_ESCALATION),
        }
    )
    closed_reason: CaseReason = Field(
        default=CaseReason.RESOLVED, description="Reason for a case Salesforce closed (any IsClosed status)"
    )

    @model_validator(mode="after")
    def _fits_the_workflow(self) -> SalesforceCaseStatusMap:
        """A map the workflow cannot follow fails when it is configured, not on the first case the sync meets."""
        problems = [
            f"outbound has no Status for {status.value}" for status in CaseStatus if status not in self.outbound
        ]
        closing = set(STATUS_REASONS[CaseStatus.CLOSED])
        problems += [
            f"outbound_by_reason: {reason.value} is a closing reason"
            for reason in self.outbound_by_reason
            if reason in closing
        ]
        for value, (status, reason) in self.inbound.items():
            if status in (CaseStatus.CLOSED, CaseStatus.RELEASED):
                # Closing comes from IsClosed; Release is the hub's billing step, never Salesforce's.
                problems.append(f"inbound {value!r}: {status.value} is not reached from an open Salesforce status")
            elif reason not in STATUS_REASONS[status]:
                problems.append(f"inbound {value!r}: a {status.value} case cannot have reason {reason.value}")
        if self.closed_reason not in closing:
            problems.append(f"closed_reason {self.closed_reason.value} is not a reason of Closed")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def salesforce_status_fields(case: Case, mapping: SalesforceCaseStatusMap) -> dict[str, str]:
    """The Case fields the hub writes for its status: Status, plus the hub's own status and reason.

    Never IsClosed or ClosedDate: Salesforce derives the one and keeps the other read-only.
    """
    status = mapping.outbound[case.status]
    if case.status not in (CaseStatus.CLOSED, CaseStatus.RELEASED):
        status = mapping.outbound_by_reason.get(case.reason, status)
    return {"Status": status, "Hub_Status__c": case.status.value, "Hub_Status_Reason__c": case.reason.value}


@dataclass(frozen=True)
class IncomingStatusChange:
    """What a Salesforce status change means for the hub case: a command, a new reason, or nothing."""

    request: TransitionRequest | None = None
    reason: CaseReason | None = None  # a reason change within the same status

    @property
    def changes_nothing(self) -> bool:
        return self.request is None and self.reason is None


def plan_salesforce_status_change(
    case: Case, *, salesforce_status: str, is_closed: bool, mapping: SalesforceCaseStatusMap
) -> IncomingStatusChange:
    """Check a status arriving from Salesforce against the workflow.

    Raises InvalidTransitionError when no command leads there from the case's status (e.g. Working for a
    Released case), and ValidationFailedError for a status the mapping does not know.
    """
    if salesforce_status_fields(case, mapping)["Status"] == salesforce_status:
        return IncomingStatusChange()  # our own value echoed back, or a value that maps to where we are
    if is_closed:
        if case.status in (CaseStatus.CLOSED, CaseStatus.RELEASED):
            return IncomingStatusChange()
        target, reason = CaseStatus.CLOSED, mapping.closed_reason
    elif salesforce_status in mapping.inbound:
        target, reason = mapping.inbound[salesforce_status]
    else:
        raise ValidationFailedError(f"Salesforce Case status {salesforce_status!r} has no hub mapping", field="Status")
    if target is case.status:
        if reason is case.reason or reason not in selectable_reasons(case):
            return IncomingStatusChange()
        return IncomingStatusChange(reason=reason)
    action = next(
        (a for a, rule in WORKFLOW.items() if rule.target_status is target and case.status in rule.from_statuses),
        None,
    )
    if action is None:
        raise InvalidTransitionError(
            f"Salesforce moved the case to {salesforce_status!r} ({target.value}), which no command reaches "
            f"from {case.status.value}",
            status=case.status.value,
            allowed_actions=[a.value for a in allowed_actions(case.status)],
        )
    request = TransitionRequest(action=action, reason=reason)
    check_transition(case, request)
    return IncomingStatusChange(request=request)
