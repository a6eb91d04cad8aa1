"""The form's commands on a case, and what a release created (its invoice or contract usage)."""

from __future__ import annotations

from datetime import datetime

from sync_core.domain.cases.activities import Activity
from sync_core.domain.cases.models import Case, CaseRecord, ContractUsageRecord, InvoiceRecord, store_form
from sync_core.domain.cases.release import bills_per_activity
from sync_core.domain.cases.settings import CONTRACTS, WORKGROUPS, first_matching_rule
from sync_core.domain.cases.transitions import (
    AvailableTransitions,
    TransitionRequest,
    WorkflowSettings,
    allowed_transitions,
    apply_transition,
)
from sync_core.domain.cases.vocabulary import CaseAction, format_contract_usage_id, format_invoice_id
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.errors import NotFoundError
from sync_core.ports.cases import CaseSettingsStore
from sync_core.ports.stores import SequenceStore
from sync_core.services.cases.records import CaseRecords, new_record
from sync_core.services.cases.references import CaseReferenceLoader

INVOICE_SEQUENCE = f"record#{EntityName.INVOICE.value}"
CONTRACT_USAGE_SEQUENCE = f"record#{EntityName.CONTRACT_USAGE.value}"


class CaseWorkflowService:
    """Cases through the Cases form's workflow; callable by the API and, for status checks, by the sync."""

    def __init__(
        self,
        *,
        cases: CaseRecords,
        references: CaseReferenceLoader,
        settings: CaseSettingsStore,
        sequences: SequenceStore,
    ) -> None:
        self._cases = cases
        self._references = references
        self._settings = settings
        self._sequences = sequences

    def transitions(self, case_id: str) -> AvailableTransitions:
        """The commands available now, with the reasons each takes."""
        return allowed_transitions(self._cases.get(case_id).fields)

    def transition(
        self, case_id: str, request: TransitionRequest, *, actor: str, expected_version: int | None
    ) -> CaseRecord:
        """Run a command; a release writes the case and the invoice or contract usage it creates together."""
        current = self._cases.current(case_id, expected_version)
        now = self._cases.clock.now()
        updated, created = self.run(case_id, current.fields, request, actor=actor, now=now)
        return self._cases.save(current, updated, actor=actor, now=now, created=created)

    def run(
        self, case_id: str, case: Case, request: TransitionRequest, *, actor: str, now: datetime
    ) -> tuple[Case, list[HubRecord]]:
        """A command's result without writing it: the case after it, and the records its release creates
        (numbered). The API writes them as the user's; the sync's Case hook as its own import."""
        settings = self._workflow_settings(case, with_assignment=request.action is CaseAction.APPLY_ASSIGNMENT_RULES)
        outcome = apply_transition(
            case,
            request,
            case_id=case_id,
            actor=actor,
            now=now,
            settings=settings,
            billable_activities=self._billable_activities(case_id, case, settings, request),
        )
        created: list[HubRecord] = []
        updated = outcome.case
        if outcome.invoice is not None:
            invoice_id = format_invoice_id(self._sequences.next_value(INVOICE_SEQUENCE))
            created.append(new_record(EntityName.INVOICE, invoice_id, store_form(outcome.invoice), actor, now))
            updated = updated.model_copy(update={"invoice_id": invoice_id})
        if outcome.contract_usage is not None:
            usage_id = format_contract_usage_id(self._sequences.next_value(CONTRACT_USAGE_SEQUENCE))
            created.append(
                new_record(EntityName.CONTRACT_USAGE, usage_id, store_form(outcome.contract_usage), actor, now)
            )
            updated = updated.model_copy(update={"contract_usage_id": usage_id})
        return updated, created

    def invoice(self, case_id: str) -> InvoiceRecord:
        case = self._cases.get(case_id).fields
        record = self._cases.records.get(EntityName.INVOICE, case.invoice_id) if case.invoice_id else None
        if record is None:
            raise NotFoundError(f"case {case_id} has no invoice: only releasing a standalone billable case makes one")
        return InvoiceRecord.from_hub_record(record)

    def contract_usage(self, case_id: str) -> ContractUsageRecord:
        case = self._cases.get(case_id).fields
        usage_id = case.contract_usage_id
        record = self._cases.records.get(EntityName.CONTRACT_USAGE, usage_id) if usage_id else None
        if record is None:
            raise NotFoundError(f"case {case_id} has no contract usage: only releasing a contract case records one")
        return ContractUsageRecord.from_hub_record(record)

    def _billable_activities(
        self, case_id: str, case: Case, settings: WorkflowSettings, request: TransitionRequest
    ) -> list[Activity]:
        """A release billed activity by activity reads them all, page by page (the version check of the
        release's transaction guarantees none was added meanwhile)."""
        if request.action is not CaseAction.RELEASE or not bills_per_activity(case, settings.case_class):
            return []
        return list(self._cases.activities.billable(case_id))

    def _workflow_settings(self, case: Case, *, with_assignment: bool) -> WorkflowSettings:
        """What the command needs: Apply Assignment Rules reads the map (one query) and the workgroup of the
        rule that matches, so it costs the same few reads however long the map is."""
        rules = self._settings.assignment_rules() if with_assignment else []
        rule = first_matching_rule(rules, case)
        assigned = self._settings.get(WORKGROUPS, rule.workgroup_id) if rule is not None else None
        return WorkflowSettings(
            case_class=self._references.case_class(case.class_id),
            workgroup=self._settings.get(WORKGROUPS, case.workgroup_id) if case.workgroup_id else None,
            contract=self._settings.get(CONTRACTS, case.contract_id) if case.contract_id else None,
            assignment_rules=rules,
            workgroups={assigned.workgroup_id: assigned} if assigned is not None else {},
        )
