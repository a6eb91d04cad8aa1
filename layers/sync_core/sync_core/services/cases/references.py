"""Loading what a case names (class, workgroup, contract, contact, the account's contacts) for its rules."""

from __future__ import annotations

from sync_core.domain.cases.editing import AccountContacts, CaseReferences, ContactFacts
from sync_core.domain.cases.settings import CASE_CLASSES, CONTRACTS, WORKGROUPS, CaseClass
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.errors import ValidationFailedError
from sync_core.ports.cases import CaseSettingsStore
from sync_core.ports.stores import RecordFinder, RecordStore


class CaseReferenceLoader:
    """A name that does not exist is a 422 on its field."""

    def __init__(self, *, records: RecordStore, finder: RecordFinder, settings: CaseSettingsStore) -> None:
        self._records = records
        self._finder = finder
        self._settings = settings

    def case_class(self, class_id: str) -> CaseClass:
        case_class = self._settings.get(CASE_CLASSES, class_id)
        if case_class is None:
            raise ValidationFailedError(f"case class {class_id} does not exist", field="class_id")
        return case_class

    def references(
        self,
        class_id: str,
        *,
        workgroup_id: str | None,
        contract_id: str | None,
        contact_id: str | None,
        contact_must_exist: bool = True,
        chosen_account_id: str | None,
    ) -> CaseReferences:
        workgroup = self._settings.get(WORKGROUPS, workgroup_id) if workgroup_id else None
        if workgroup_id and workgroup is None:
            raise ValidationFailedError(f"workgroup {workgroup_id} does not exist", field="workgroup_id")
        contract = self._settings.get(CONTRACTS, contract_id) if contract_id else None
        if contract_id and contract is None:
            raise ValidationFailedError(f"contract {contract_id} does not exist", field="contract_id")
        contact = self._contact_facts(contact_id) if contact_id else None
        if contact_id and contact is None and contact_must_exist:
            raise ValidationFailedError(f"contact {contact_id} does not exist", field="contact_id")
        return CaseReferences(
            case_class=self.case_class(class_id),
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


def _contact(record: HubRecord) -> ContactFacts:
    return ContactFacts(
        contact_id=record.id,
        active=bool(record.fields.get("active", True)),
        is_employee=bool(record.fields.get("is_employee", False)),
    )
