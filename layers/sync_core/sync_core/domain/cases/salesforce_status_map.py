"""Salesforce Case status for the sync: how hub statuses meet an org's Case Status picklist, both ways.

Outbound, a case's status (and, where the map says so, its reason) gives one Case Status value; the hub's own
status and reason travel too, in two custom fields (`Hub_Status__c`, `Hub_Status_Reason__c` by default), so a
Salesforce user sees them and can name a reason. Inbound, every value of the org's picklist names the hub status
and default reason it means; the change is then checked as the workflow's action that reaches that status
(`plan_salesforce_status_change`). `IsClosed` (derived from Status) and `ClosedDate` (read-only) are never
written.

The map is checked as a whole when it is saved, every mistake at once: every hub status has a Salesforce value
from the picklist; every picklist value maps to a status and a reason that status allows; and a value read in
goes back out as the same value (otherwise the hub would answer a Salesforce user's change with another one).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, model_validator

from sync_core.domain.cases.models import Case
from sync_core.domain.cases.transitions import TransitionRequest, check_transition
from sync_core.domain.cases.vocabulary import CaseReason, CaseStatus, StrictModel
from sync_core.domain.cases.workflow import STATUS_REASONS, WORKFLOW, allowed_actions, selectable_reasons
from sync_core.errors import InvalidReasonError, InvalidTransitionError, ValidationFailedError

SALESFORCE_READ_ONLY_CASE_FIELDS = frozenset({"IsClosed", "ClosedDate"})
# A new org's Case Status picklist (research/salesforce-facts.md, section e); Closed is its closed value.
DEFAULT_ORG_CASE_STATUSES = ("New", "Working", "Escalated", "Closed")
_SALESFORCE_FIELD = r"^[A-Za-z][A-Za-z0-9_]*$"


class InboundStatus(StrictModel):
    """What a Salesforce Case Status value means in the hub: a status, and the reason it takes by default."""

    status: CaseStatus
    reason: CaseReason | None = Field(
        default=None, description="Required, except for Released (a release keeps the case's closing reason)"
    )


def _default_inbound() -> dict[str, InboundStatus]:
    return {
        "New": InboundStatus(status=CaseStatus.NEW, reason=CaseReason.UNASSIGNED),
        "Working": InboundStatus(status=CaseStatus.OPEN, reason=CaseReason.IN_PROCESS),
        "Escalated": InboundStatus(status=CaseStatus.OPEN, reason=CaseReason.IN_ESCALATION),
        "Closed": InboundStatus(status=CaseStatus.CLOSED, reason=CaseReason.RESOLVED),
    }


class SalesforceCaseStatusMap(StrictModel):
    """How hub statuses meet an org's Case Status picklist (orgs customise it; the defaults fit a new org)."""

    picklist: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ORG_CASE_STATUSES),
        min_length=1,
        max_length=200,
        description="The org's Case Status values (Setup, Case Status picklist)",
    )
    outbound: dict[CaseStatus, str] = Field(
        default_factory=lambda: {
            CaseStatus.NEW: "New",
            CaseStatus.OPEN: "Working",
            CaseStatus.PENDING_CUSTOMER: "Working",
            CaseStatus.CLOSED: "Closed",
            CaseStatus.RELEASED: "Closed",
        },
        description="Hub status -> Case Status",
    )
    outbound_by_reason: dict[CaseReason, str] = Field(
        default_factory=lambda: {CaseReason.IN_ESCALATION: "Escalated"},
        description="Overrides outbound for a reason of an active status (never a closing reason)",
    )
    inbound: dict[str, InboundStatus] = Field(
        default_factory=_default_inbound, description="Case Status -> hub status and default reason"
    )
    status_field: str | None = Field(
        default="Hub_Status__c", pattern=_SALESFORCE_FIELD, description="Text field for the hub's status; null: none"
    )
    reason_field: str | None = Field(
        default="Hub_Status_Reason__c",
        pattern=_SALESFORCE_FIELD,
        description="Text field for the hub's reason; null: none. A reason a Salesforce user writes there with a "
        "Status change is the reason the hub's action takes",
    )

    @model_validator(mode="after")
    def _fits_the_workflow(self) -> SalesforceCaseStatusMap:
        """A map the workflow cannot follow fails when it is saved, not on the first case the sync meets."""
        problems = status_map_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def outbound_value(self, status: CaseStatus, reason: CaseReason) -> str:
        """The Case Status a case with this status and reason shows in Salesforce."""
        if status not in (CaseStatus.CLOSED, CaseStatus.RELEASED) and reason in self.outbound_by_reason:
            return self.outbound_by_reason[reason]
        return self.outbound[status]


def status_map_problems(mapping: SalesforceCaseStatusMap) -> list[str]:
    """Every reason the map cannot be saved; empty when the workflow can follow it both ways."""
    picklist = set(mapping.picklist)
    problems = [f"outbound has no Status for {status.value}" for status in CaseStatus if status not in mapping.outbound]
    problems += [
        f"outbound {status.value}: {value!r} is not in the picklist"
        for status, value in mapping.outbound.items()
        if value not in picklist
    ]
    closing = set(STATUS_REASONS[CaseStatus.CLOSED])
    for reason, value in mapping.outbound_by_reason.items():
        if reason in closing:
            problems.append(f"outbound_by_reason: {reason.value} is a closing reason (a closed case's Status is one)")
        if value not in picklist:
            problems.append(f"outbound_by_reason {reason.value}: {value!r} is not in the picklist")
    problems += [
        f"inbound: Salesforce value {value!r} maps to no hub status"
        for value in mapping.picklist
        if value not in mapping.inbound
    ]
    for value, target in mapping.inbound.items():
        where = f"inbound {value!r}"
        if value not in picklist:
            problems.append(f"{where}: not in the picklist")
        if target.status is CaseStatus.RELEASED:
            if target.reason is not None:
                problems.append(f"{where}: Released keeps the closing reason; give no reason")
        elif target.reason is None:
            problems.append(f"{where}: a {target.status.value} case needs a reason")
        elif target.reason not in STATUS_REASONS[target.status]:
            problems.append(f"{where}: a {target.status.value} case cannot have reason {target.reason.value}")
        elif target.status in mapping.outbound:
            back = mapping.outbound_value(target.status, target.reason)
            if back != value:
                problems.append(
                    f"{where}: {target.status.value} / {target.reason.value} goes back out as {back!r}, so the hub "
                    f"would answer a Salesforce user's {value!r} with {back!r}"
                )
        if target.status is CaseStatus.RELEASED and mapping.outbound.get(CaseStatus.RELEASED, value) != value:
            problems.append(f"{where}: Released goes back out as {mapping.outbound[CaseStatus.RELEASED]!r}")
    if mapping.status_field and mapping.status_field == mapping.reason_field:
        problems.append("status_field and reason_field name one field")
    return problems


def salesforce_status_fields(case: Case, mapping: SalesforceCaseStatusMap) -> dict[str, str]:
    """The Case fields the hub writes for its status: Status, plus the hub's own status and reason.

    Never IsClosed or ClosedDate: Salesforce derives the one and keeps the other read-only.
    """
    fields = {"Status": mapping.outbound_value(case.status, case.reason)}
    if mapping.status_field:
        fields[mapping.status_field] = case.status.value
    if mapping.reason_field:
        fields[mapping.reason_field] = case.reason.value
    return fields


@dataclass(frozen=True)
class IncomingStatusChange:
    """What a Salesforce status change means for the hub case: a command, a new reason, or nothing."""

    request: TransitionRequest | None = None
    reason: CaseReason | None = None  # a reason change within the same status

    @property
    def changes_nothing(self) -> bool:
        return self.request is None and self.reason is None


def _reason_named(value: str | None, case: Case, target: CaseStatus) -> CaseReason | None:
    """The reason a Salesforce user wrote with the change; None when none was written or it is the hub's own
    (the field still holds what the hub last sent: a stale value, not a choice)."""
    if value is None or value == "" or value == case.reason.value:
        return None
    try:
        return CaseReason(value)
    except ValueError:
        raise InvalidReasonError(
            f"Salesforce names reason {value!r} for {target.value}, which is not a reason of the workflow",
            status=target.value,
            reason=value,
            allowed_reasons=[reason.value for reason in STATUS_REASONS[target]],
        ) from None


def plan_salesforce_status_change(
    case: Case,
    *,
    salesforce_status: str | None,
    mapping: SalesforceCaseStatusMap,
    salesforce_reason: str | None = None,
) -> IncomingStatusChange:
    """Check a status (and the hub reason field) arriving from Salesforce against the workflow.

    Raises InvalidTransitionError when no command leads there from the case's status (e.g. Working for a Released
    case), InvalidReasonError for a reason the target status does not allow, and ValidationFailedError for a
    status the map does not know.
    """
    current = mapping.outbound_value(case.status, case.reason)
    if salesforce_status is None or salesforce_status == current:
        # The hub's own value echoed back, or one that maps to where the case is: only a reason may have changed.
        named = _reason_named(salesforce_reason, case, case.status)
        if named is None:
            return IncomingStatusChange()
        if named not in selectable_reasons(case):
            raise InvalidReasonError(
                f"Salesforce moved the case from {case.status.value} / {case.reason.value} to reason {named.value}, "
                f"which a {case.status.value} case cannot have",
                status=case.status.value,
                reason=named.value,
                allowed_reasons=[reason.value for reason in selectable_reasons(case)],
            )
        return IncomingStatusChange(reason=named)
    target_of = mapping.inbound.get(salesforce_status)
    if target_of is None:
        raise ValidationFailedError(
            f"Salesforce Case status {salesforce_status!r} has no hub status in the status map", field="Status"
        )
    target = target_of.status
    reason = _reason_named(salesforce_reason, case, target) or target_of.reason
    if target is case.status:
        if reason is None or reason is case.reason:
            return IncomingStatusChange()
        if reason not in selectable_reasons(case):
            raise InvalidReasonError(
                f"Salesforce moved the case to {salesforce_status!r} ({target.value} / {reason.value}), a reason a "
                f"{case.status.value} case cannot have",
                status=target.value,
                reason=reason.value,
                allowed_reasons=[item.value for item in selectable_reasons(case)],
            )
        return IncomingStatusChange(reason=reason)
    action = next(
        (a for a, rule in WORKFLOW.items() if rule.target_status is target and case.status in rule.from_statuses),
        None,
    )
    allowed = allowed_actions(case.status)
    if action is None:
        raise InvalidTransitionError(
            f"Salesforce moved the case from {case.status.value} to {salesforce_status!r} ({target.value}), which "
            f"no action reaches from {case.status.value}; allowed actions: "
            + (", ".join(a.value for a in allowed) or "none"),
            status=case.status.value,
            allowed_actions=[a.value for a in allowed],
        )
    request = TransitionRequest(action=action, reason=None if target is CaseStatus.RELEASED else reason)
    try:
        check_transition(case, request)
    except InvalidReasonError as exc:
        raise InvalidReasonError(
            f"Salesforce moved the case from {case.status.value} to {salesforce_status!r} ({target.value}) with "
            f"reason {reason.value if reason else None}: {exc}",
            status=target.value,
            reason=reason.value if reason else None,
            allowed_reasons=[item.value for item in WORKFLOW[action].dialog_reasons],
        ) from exc
    return IncomingStatusChange(request=request)
