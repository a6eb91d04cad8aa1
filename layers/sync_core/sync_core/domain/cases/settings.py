"""Case settings: classes (CR206000), workgroups, contracts and the case assignment map, with their bounds.

Every keyed kind is a `SettingKind`: one generic store, service and set of routes serves them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, Field

from sync_core.domain.cases.vocabulary import BillingMode, Level, SettingId, StrictModel, UserId
from sync_core.domain.entities import HubId, Money

if TYPE_CHECKING:
    from sync_core.domain.cases.models import Case

# Bounds that keep every settings item far below DynamoDB's 400 KB (a user id is at most 512 characters).
MAX_WORKGROUP_MEMBERS = 500
MAX_CLASS_ATTRIBUTES = 100
# The assignment map is read whole by Apply Assignment Rules; replaced whole in one transaction (adapter).
MAX_ASSIGNMENT_RULES = 2000


class AttributeDefinition(StrictModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")]
    required: bool = False


class CaseClass(StrictModel):
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
    attributes: list[AttributeDefinition] = Field(default_factory=list, max_length=MAX_CLASS_ATTRIBUTES)


class Workgroup(StrictModel):
    workgroup_id: SettingId
    name: Annotated[str, Field(max_length=255)] | None = None
    members: list[UserId] = Field(default_factory=list, max_length=MAX_WORKGROUP_MEMBERS)


class Contract(StrictModel):
    """A contract with a business account; releasing its cases records contract usage."""

    contract_id: SettingId
    account_id: HubId
    description: Annotated[str, Field(max_length=255)] | None = None
    active: bool = True


class AssignmentRule(StrictModel):
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


class AssignmentRules(StrictModel):
    rules: list[AssignmentRule] = Field(default_factory=list, max_length=MAX_ASSIGNMENT_RULES)


def first_matching_rule(rules: Sequence[AssignmentRule], case: Case) -> AssignmentRule | None:
    """The rule that assigns the case: one pass over the map, in its order."""
    return next((rule for rule in rules if rule.matches(case)), None)


@dataclass(frozen=True)
class SettingKind[M: BaseModel]:
    """A kind of keyed setting: what the generic store keeps, the service checks and the routes serve."""

    name: str  # the path segment: /cases/settings/<name>/{<id_field>}
    label: str  # in messages: "case class SUPPORT does not exist"
    plural: str
    model: type[M]
    id_field: str

    def id_of(self, value: M) -> str:
        return str(getattr(value, self.id_field))


CASE_CLASSES = SettingKind("classes", "case class", "case classes", CaseClass, "class_id")
WORKGROUPS = SettingKind("workgroups", "workgroup", "workgroups", Workgroup, "workgroup_id")
CONTRACTS = SettingKind("contracts", "contract", "contracts", Contract, "contract_id")
SETTING_KINDS: tuple[SettingKind[CaseClass] | SettingKind[Workgroup] | SettingKind[Contract], ...] = (
    CASE_CLASSES,
    WORKGROUPS,
    CONTRACTS,
)
