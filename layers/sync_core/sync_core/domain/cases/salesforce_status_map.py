"""Salesforce Case status for the sync: how hub statuses meet an org's Case Status picklist, both ways."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, model_validator

from sync_core.domain.cases.models import Case
from sync_core.domain.cases.transitions import TransitionRequest, check_transition
from sync_core.domain.cases.vocabulary import CaseReason, CaseStatus, StrictModel
from sync_core.domain.cases.workflow import STATUS_REASONS, WORKFLOW, allowed_actions, selectable_reasons
from sync_core.errors import InvalidTransitionError, ValidationFailedError

SALESFORCE_READ_ONLY_CASE_FIELDS = frozenset({"IsClosed", "ClosedDate"})


class SalesforceCaseStatusMap(StrictModel):
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
