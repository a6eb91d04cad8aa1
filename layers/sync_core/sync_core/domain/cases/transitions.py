"""The form's commands on a case (Open, Close, Pending Customer, Release, Take Case, Apply Assignment Rules)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from sync_core.domain.cases.activities import Activity
from sync_core.domain.cases.editing import check_owner
from sync_core.domain.cases.models import Case, ContractUsage, Invoice, validated_case
from sync_core.domain.cases.release import release_records
from sync_core.domain.cases.settings import AssignmentRule, CaseClass, Contract, Workgroup, first_matching_rule
from sync_core.domain.cases.vocabulary import CaseAction, CaseReason, CaseStatus, StrictModel, UserId
from sync_core.domain.cases.workflow import STATUS_REASONS, WORKFLOW, allowed_actions, reopened
from sync_core.errors import InvalidReasonError, InvalidTransitionError, ValidationFailedError


class TransitionRequest(StrictModel):
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
    billable_activities: Sequence[Activity] = (),
) -> TransitionOutcome:
    """Run one command of the form on the case; pure, so the API and the sync check changes the same way.

    A release that bills activity by activity needs the case's billable activities (release.bills_per_activity).
    """
    check_transition(case, request)
    data = case.model_dump()
    match request.action:
        case CaseAction.OPEN:
            owner = request.owner if request.owner is not None else case.owner
            check_owner(owner, settings.workgroup)
            data.update(reopened(_required(request.reason)), owner=owner)
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
            released = validated_case(data)
            invoice, usage = release_records(
                released,
                case_id=case_id,
                now=now,
                case_class=settings.case_class,
                contract=settings.contract,
                billable_activities=billable_activities,
            )
            return TransitionOutcome(case=released, invoice=invoice, contract_usage=usage)
    return TransitionOutcome(case=validated_case(data))


def _required(reason: CaseReason | None) -> CaseReason:
    if reason is None:  # check_transition already refused it; this keeps the types honest
        raise ValidationFailedError("reason is required", field="reason")
    return reason


def _assignment(case: Case, settings: WorkflowSettings) -> dict[str, Any]:
    rule = first_matching_rule(settings.assignment_rules, case)
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
