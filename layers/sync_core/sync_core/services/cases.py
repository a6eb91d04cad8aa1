"""Case management use cases: cases, their workflow, activities and related cases, and the case settings.

The rules live in sync_core.domain.cases; this service loads what they need, numbers new records, and
writes with optimistic locking, leaving every written record Modified Locally for the export.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sync_core.domain.cases import (
    AccountContacts,
    Activity,
    ActivityInput,
    AssignmentRules,
    AvailableTransitions,
    Case,
    CaseAction,
    CaseClass,
    CaseCreate,
    CaseRecord,
    CaseReferences,
    CaseStatus,
    CaseUpdate,
    ContactFacts,
    Contract,
    ContractUsageRecord,
    InvoiceRecord,
    RelatedCase,
    RelatedCaseView,
    TransitionRequest,
    WorkflowSettings,
    Workgroup,
    add_activity,
    add_related_case,
    allowed_transitions,
    apply_transition,
    check_owner,
    format_case_id,
    format_contract_usage_id,
    format_invoice_id,
    new_case,
    remove_related_case,
    store_form,
    update_case,
)
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord, Page
from sync_core.domain.sync_state import SyncOperation, SyncState, state_after_local_write
from sync_core.errors import NotFoundError, StaleVersionError, ValidationFailedError
from sync_core.ports.cases import CaseSettingsStore
from sync_core.ports.stores import (
    Clock,
    FieldValue,
    RecordBatchWriter,
    RecordFinder,
    RecordStore,
    SequenceStore,
    SyncStateStore,
)

CASE_SEQUENCE = f"record#{EntityName.CASE.value}"
INVOICE_SEQUENCE = f"record#{EntityName.INVOICE.value}"
CONTRACT_USAGE_SEQUENCE = f"record#{EntityName.CONTRACT_USAGE.value}"


class CasesService:
    """Cases through the Cases form's workflow; callable by the API and, for status checks, by the sync."""

    def __init__(
        self,
        *,
        records: RecordStore,
        states: SyncStateStore,
        finder: RecordFinder,
        writer: RecordBatchWriter,
        settings: CaseSettingsStore,
        sequences: SequenceStore,
        clock: Clock,
    ) -> None:
        self._records = records
        self._states = states
        self._finder = finder
        self._writer = writer
        self._settings = settings
        self._sequences = sequences
        self._clock = clock

    # ------------------------------------------------------------ cases

    def create_case(self, draft: CaseCreate, *, actor: str) -> CaseRecord:
        """A new case (status New): class defaults, default contact, SLA; numbered only once it is valid."""
        refs = self._references(
            draft.class_id,
            workgroup_id=draft.workgroup_id,
            contract_id=draft.contract_id,
            contact_id=draft.contact_id,
            chosen_account_id=draft.account_id,
        )
        now = self._clock.now()
        case = new_case(draft, refs, now=now)
        case_id = format_case_id(self._sequences.next_value(CASE_SEQUENCE))
        record = CaseRecord(id=case_id, version=1, fields=case, created_at=now, updated_at=now, updated_by=actor)
        self._records.create(record.to_hub_record(), self._local_write_state(EntityName.CASE, case_id, 1, now))
        return record

    def get_case(self, case_id: str) -> CaseRecord:
        record = self._records.get(EntityName.CASE, case_id)
        if record is None:
            raise NotFoundError(f"case {case_id} does not exist")
        return CaseRecord.from_hub_record(record)

    def list_cases(
        self,
        *,
        status: CaseStatus | None = None,
        owner: str | None = None,
        account_id: str | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[CaseRecord]:
        wanted: dict[str, FieldValue | None] = {"status": status, "owner": owner, "account_id": account_id}
        where = {name: value for name, value in wanted.items() if value is not None}
        page = self._finder.find(EntityName.CASE, where, limit=limit, cursor=cursor)
        return Page[CaseRecord](
            items=[CaseRecord.from_hub_record(item) for item in page.items], next_cursor=page.next_cursor
        )

    def update_case(self, case_id: str, update: CaseUpdate, *, actor: str, expected_version: int | None) -> CaseRecord:
        """A PATCH, checked by the same rules as a new case (class, contact, owner, billing)."""
        current = self._current(case_id, expected_version)
        changes = update.changes()
        fields = current.fields

        def final(name: str) -> Any:
            return changes[name] if name in changes else getattr(fields, name)

        account_changed = changes.get("account_id") not in (None, fields.account_id)
        refs = self._references(
            final("class_id"),
            workgroup_id=final("workgroup_id"),
            contract_id=final("contract_id"),
            contact_id=final("contact_id"),
            contact_must_exist="contact_id" in changes,
            chosen_account_id=changes["account_id"] if account_changed else None,
        )
        return self._save(current, update_case(fields, update, refs), actor=actor)

    # ------------------------------------------------------------ workflow

    def transitions(self, case_id: str) -> AvailableTransitions:
        """The commands available now, with the reasons each takes."""
        return allowed_transitions(self.get_case(case_id).fields)

    def transition(
        self, case_id: str, request: TransitionRequest, *, actor: str, expected_version: int | None
    ) -> CaseRecord:
        """Run a command; a release writes the case and the invoice or contract usage it creates together."""
        current = self._current(case_id, expected_version)
        case = current.fields
        settings = self._workflow_settings(case, with_assignment=request.action is CaseAction.APPLY_ASSIGNMENT_RULES)
        now = self._clock.now()
        outcome = apply_transition(case, request, case_id=case_id, actor=actor, now=now, settings=settings)
        created: list[tuple[HubRecord, SyncState]] = []
        updated = outcome.case
        if outcome.invoice is not None:
            invoice_id = format_invoice_id(self._sequences.next_value(INVOICE_SEQUENCE))
            created.append(self._new_record(EntityName.INVOICE, invoice_id, store_form(outcome.invoice), actor, now))
            updated = updated.model_copy(update={"invoice_id": invoice_id})
        if outcome.contract_usage is not None:
            usage_id = format_contract_usage_id(self._sequences.next_value(CONTRACT_USAGE_SEQUENCE))
            created.append(
                self._new_record(EntityName.CONTRACT_USAGE, usage_id, store_form(outcome.contract_usage), actor, now)
            )
            updated = updated.model_copy(update={"contract_usage_id": usage_id})
        return self._save(current, updated, actor=actor, now=now, created=created)

    def invoice(self, case_id: str) -> InvoiceRecord:
        case = self.get_case(case_id).fields
        record = self._records.get(EntityName.INVOICE, case.invoice_id) if case.invoice_id else None
        if record is None:
            raise NotFoundError(f"case {case_id} has no invoice: only releasing a standalone billable case makes one")
        return InvoiceRecord.from_hub_record(record)

    def contract_usage(self, case_id: str) -> ContractUsageRecord:
        case = self.get_case(case_id).fields
        usage_id = case.contract_usage_id
        record = self._records.get(EntityName.CONTRACT_USAGE, usage_id) if usage_id else None
        if record is None:
            raise NotFoundError(f"case {case_id} has no contract usage: only releasing a contract case records one")
        return ContractUsageRecord.from_hub_record(record)

    # ------------------------------------------------------------ activities and related cases

    def activities(self, case_id: str) -> list[Activity]:
        return self.get_case(case_id).fields.activities

    def add_activity(
        self, case_id: str, activity: ActivityInput, *, actor: str, expected_version: int | None
    ) -> CaseRecord:
        """Log an activity (its author is the caller); time spent, billable time and dates follow."""
        current = self._current(case_id, expected_version)
        case_class = self._case_class(current.fields.class_id)
        now = self._clock.now()
        updated = add_activity(current.fields, activity, case_class=case_class, actor=actor, now=now)
        return self._save(current, updated, actor=actor, now=now)

    def related_cases(self, case_id: str) -> list[RelatedCaseView]:
        links = self.get_case(case_id).fields.related_cases
        return [self._related_view(link) for link in links]

    def relate_case(self, case_id: str, link: RelatedCase, *, actor: str, expected_version: int | None) -> CaseRecord:
        current = self._current(case_id, expected_version)
        if self._records.get(EntityName.CASE, link.case_id) is None:
            raise ValidationFailedError(f"case {link.case_id} does not exist", field="case_id")
        updated = add_related_case(current.fields, link.case_id, link.relation, case_id=case_id)
        return self._save(current, updated, actor=actor)

    def unrelate_case(self, case_id: str, related_id: str, *, actor: str, expected_version: int | None) -> CaseRecord:
        current = self._current(case_id, expected_version)
        if all(link.case_id != related_id for link in current.fields.related_cases):
            raise NotFoundError(f"case {case_id} has no related case {related_id}")
        return self._save(current, remove_related_case(current.fields, related_id), actor=actor)

    # ------------------------------------------------------------ settings

    def put_class(self, case_class: CaseClass) -> CaseClass:
        self._settings.put_class(case_class)
        return case_class

    def get_class(self, class_id: str) -> CaseClass:
        return _found(self._settings.get_class(class_id), f"case class {class_id}")

    def list_classes(self) -> list[CaseClass]:
        return self._settings.list_classes()

    def put_workgroup(self, workgroup: Workgroup) -> Workgroup:
        self._settings.put_workgroup(workgroup)
        return workgroup

    def get_workgroup(self, workgroup_id: str) -> Workgroup:
        return _found(self._settings.get_workgroup(workgroup_id), f"workgroup {workgroup_id}")

    def list_workgroups(self) -> list[Workgroup]:
        return self._settings.list_workgroups()

    def put_contract(self, contract: Contract) -> Contract:
        if self._records.get(EntityName.ACCOUNT, contract.account_id) is None:
            raise ValidationFailedError(f"account {contract.account_id} does not exist", field="account_id")
        self._settings.put_contract(contract)
        return contract

    def get_contract(self, contract_id: str) -> Contract:
        return _found(self._settings.get_contract(contract_id), f"contract {contract_id}")

    def list_contracts(self) -> list[Contract]:
        return self._settings.list_contracts()

    def get_assignment_rules(self) -> AssignmentRules:
        return self._settings.get_assignment_rules()

    def put_assignment_rules(self, rules: AssignmentRules) -> AssignmentRules:
        """The assignment map; every rule must name a workgroup that exists, and an owner among its members."""
        for index, rule in enumerate(rules.rules):
            workgroup = self._settings.get_workgroup(rule.workgroup_id)
            if workgroup is None:
                raise ValidationFailedError(
                    f"workgroup {rule.workgroup_id} does not exist", field=f"rules.{index}.workgroup_id"
                )
            try:
                check_owner(rule.owner, workgroup)
            except ValidationFailedError as exc:
                raise ValidationFailedError(exc.message, field=f"rules.{index}.owner") from exc
        self._settings.put_assignment_rules(rules)
        return rules

    # ------------------------------------------------------------ loading and writing

    def _current(self, case_id: str, expected_version: int | None) -> CaseRecord:
        """The case, refusing at once an If-Match that is already stale (412 before any rule runs)."""
        current = self.get_case(case_id)
        if expected_version is not None and expected_version != current.version:
            raise StaleVersionError(
                f"case {case_id} is at version {current.version}, not {expected_version}",
                expected=expected_version,
                current=current.version,
            )
        return current

    def _save(
        self,
        current: CaseRecord,
        case: Case,
        *,
        actor: str,
        now: datetime | None = None,
        created: Sequence[tuple[HubRecord, SyncState]] = (),
    ) -> CaseRecord:
        """Write the next version, conditional on the version read, with any records the change creates."""
        now = now or self._clock.now()
        record = current.model_copy(
            update={"version": current.version + 1, "fields": case, "updated_at": now, "updated_by": actor}
        )
        state = state_after_local_write(
            self._states.get(EntityName.CASE, current.id),
            entity=EntityName.CASE,
            record_id=current.id,
            operation=SyncOperation.UPDATE,
            record_version=record.version,
            now=now,
        )
        if created:
            self._writer.write_together(creates=created, replaces=[(record.to_hub_record(), state, current.version)])
        else:
            self._records.replace(record.to_hub_record(), state, expected_version=current.version)
        return record

    def _new_record(
        self, entity: EntityName, record_id: str, fields: dict[str, Any], actor: str, now: datetime
    ) -> tuple[HubRecord, SyncState]:
        record = HubRecord(
            entity=entity, id=record_id, version=1, fields=fields, created_at=now, updated_at=now, updated_by=actor
        )
        return record, self._local_write_state(entity, record_id, 1, now)

    @staticmethod
    def _local_write_state(entity: EntityName, record_id: str, version: int, now: datetime) -> SyncState:
        return state_after_local_write(
            None, entity=entity, record_id=record_id, operation=SyncOperation.INSERT, record_version=version, now=now
        )

    def _case_class(self, class_id: str) -> CaseClass:
        case_class = self._settings.get_class(class_id)
        if case_class is None:
            raise ValidationFailedError(f"case class {class_id} does not exist", field="class_id")
        return case_class

    def _references(
        self,
        class_id: str,
        *,
        workgroup_id: str | None,
        contract_id: str | None,
        contact_id: str | None,
        contact_must_exist: bool = True,
        chosen_account_id: str | None,
    ) -> CaseReferences:
        """Load what the case names; a name that does not exist is a 422 on its field."""
        workgroup = self._settings.get_workgroup(workgroup_id) if workgroup_id else None
        if workgroup_id and workgroup is None:
            raise ValidationFailedError(f"workgroup {workgroup_id} does not exist", field="workgroup_id")
        contract = self._settings.get_contract(contract_id) if contract_id else None
        if contract_id and contract is None:
            raise ValidationFailedError(f"contract {contract_id} does not exist", field="contract_id")
        contact = self._contact_facts(contact_id) if contact_id else None
        if contact_id and contact is None and contact_must_exist:
            raise ValidationFailedError(f"contact {contact_id} does not exist", field="contact_id")
        return CaseReferences(
            case_class=self._case_class(class_id),
            workgroup=workgroup,
            contract=contract,
            contact=contact,
            account_contacts=self._account_contacts(chosen_account_id) if chosen_account_id else None,
        )

    def _account_contacts(self, account_id: str) -> AccountContacts:
        account = self._records.get(EntityName.ACCOUNT, account_id)
        if account is None:
            raise ValidationFailedError(f"account {account_id} does not exist", field="account_id")
        primary_id = account.fields.get("primary_contact_id")
        primary = self._contact_facts(primary_id) if primary_id else None
        # Two are enough to tell "exactly one active contact" from "more than one".
        active = self._finder.find(EntityName.CONTACT, {"account_id": account_id, "active": True}, limit=2, cursor=None)
        return AccountContacts(primary=primary, active_contacts=tuple(_contact(record) for record in active.items))

    def _contact_facts(self, contact_id: str) -> ContactFacts | None:
        record = self._records.get(EntityName.CONTACT, contact_id)
        return _contact(record) if record is not None else None

    def _workflow_settings(self, case: Case, *, with_assignment: bool) -> WorkflowSettings:
        workgroups = (
            {group.workgroup_id: group for group in self._settings.list_workgroups()} if with_assignment else {}
        )
        return WorkflowSettings(
            case_class=self._case_class(case.class_id),
            workgroup=self._settings.get_workgroup(case.workgroup_id) if case.workgroup_id else None,
            contract=self._settings.get_contract(case.contract_id) if case.contract_id else None,
            assignment_rules=self._settings.get_assignment_rules().rules if with_assignment else (),
            workgroups=workgroups,
        )

    def _related_view(self, link: RelatedCase) -> RelatedCaseView:
        related = self.get_case(link.case_id).fields
        return RelatedCaseView(
            case_id=link.case_id,
            relation=link.relation,
            subject=related.subject,
            status=related.status,
            owner=related.owner,
            workgroup_id=related.workgroup_id,
        )


def _contact(record: HubRecord) -> ContactFacts:
    return ContactFacts(
        contact_id=record.id,
        active=bool(record.fields.get("active", True)),
        is_employee=bool(record.fields.get("is_employee", False)),
    )


def _found[T](value: T | None, what: str) -> T:
    if value is None:
        raise NotFoundError(f"{what} does not exist")
    return value
