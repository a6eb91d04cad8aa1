"""The import's Case hook: a status change from Salesforce run as the workflow action it means.

The engine's import (services.sync_import) hands a case's merged fields and the Salesforce values of the change
here. The domain (domain.cases.salesforce_case) reads them as an action, a reason change or nothing, or refuses
them as a WorkflowConflict; an action runs through the same workflow service as the API's, with its effects
(closing date, active flag, a release's invoice or contract usage). Nothing is written here: the import writes
the case as the sync's own write (never exported back) and what a release creates as the hub's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync_core.domain.cases.models import Case, validated_case
from sync_core.domain.cases.salesforce_case import CaseSalesforceSettings, WorkflowConflict, case_status_change
from sync_core.domain.cases.vocabulary import CaseAction
from sync_core.domain.cases.workflow import allowed_actions
from sync_core.domain.records import HubRecord
from sync_core.errors import InvalidReasonError, InvalidTransitionError, ValidationFailedError
from sync_core.services.cases.workflow import CaseWorkflowService


@dataclass(frozen=True)
class CaseFromSalesforce:
    """The case after a Salesforce change, what it creates, and the action it ran (None: none)."""

    case: Case
    created: list[HubRecord]
    action: CaseAction | None = None


class CaseSalesforceHook:
    def __init__(self, workflow: CaseWorkflowService) -> None:
        self._workflow = workflow

    def apply(
        self,
        case_id: str,
        case: Case,
        values: Mapping[str, Any],
        settings: CaseSalesforceSettings,
        *,
        actor: str,
        now: datetime,
    ) -> CaseFromSalesforce:
        """The case after the change's status (and reason) applied through the workflow.

        Raises WorkflowConflict when the workflow does not allow it; the case is then left as it is."""
        plan = case_status_change(case, values, settings)
        change = plan.change
        if change.reason is not None:
            return CaseFromSalesforce(validated_case({**case.model_dump(), "reason": change.reason}), [])
        if change.request is None:
            return CaseFromSalesforce(case, [])
        request = change.request
        try:
            updated, created = self._workflow.run(case_id, case, request, actor=actor, now=now)
        except (InvalidTransitionError, InvalidReasonError, ValidationFailedError) as exc:
            # A rule of the action itself (an owner outside the workgroup, a release over its limits).
            allowed = [action.value for action in allowed_actions(case.status)]
            raise WorkflowConflict(
                f"workflow conflict: the case is {case.status.value} / {case.reason.value}; Salesforce's change "
                f"means {request.action.value}, which the workflow refused: {exc} (allowed actions: "
                f"{', '.join(allowed) or 'none'})",
                status=case.status.value,
                attempted={name: values[name] for name in values if name.lower() == "status"},
                allowed_actions=allowed,
            ) from exc
        if request.action is CaseAction.CLOSE and plan.closed_at is not None:
            updated = updated.model_copy(update={"closing_date": plan.closed_at})  # Salesforce's ClosedDate
        return CaseFromSalesforce(updated, created, request.action)
