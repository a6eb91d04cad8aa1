"""The workflow tables of the Cases form (seed: Status, Reason, Form Toolbar), written as data.

A reader can check them against the form line by line; where the form is silent the choice is ours and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sync_core.domain.cases.vocabulary import CaseAction, CaseReason, CaseStatus

if TYPE_CHECKING:
    from sync_core.domain.cases.models import Case

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


def reopened(reason: CaseReason) -> dict[str, Any]:
    """The fields a reopened case takes: active again and no longer closed (the form's default workflow)."""
    return {"status": CaseStatus.OPEN, "reason": reason, "active": True, "closing_date": None}
