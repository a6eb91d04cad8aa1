"""The words of the Cases form (CR306000): statuses, reasons, actions, levels, activity kinds, and field types.

Every other module of the case domain speaks these; none of them has rules of its own.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


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


class CaseOrigin(StrEnum):
    """Where the case came from (Salesforce's Case Origin, through the mapping's value map)."""

    PHONE = "Phone"
    EMAIL = "Email"
    WEB = "Web"
    PORTAL = "Portal"


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


def format_case_id(number: int) -> str:
    """Case ID from the numbering sequence, e.g. CS000042."""
    return f"{CASE_ID_PREFIX}{number:06d}"


def format_invoice_id(number: int) -> str:
    return f"{INVOICE_ID_PREFIX}{number:06d}"


def format_contract_usage_id(number: int) -> str:
    return f"{CONTRACT_USAGE_ID_PREFIX}{number:06d}"


class StrictModel(BaseModel):
    """An API model that refuses unknown fields (typos never pass silently)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
