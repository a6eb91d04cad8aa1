"""Creating and editing a case: class defaults, the default contact, and the rules on what the case names."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sync_core.domain.cases.billing import billing_rule, check_billing, with_billable_time
from sync_core.domain.cases.models import Case, CaseCreate, CaseUpdate, validated_case
from sync_core.domain.cases.settings import CaseClass, Contract, Workgroup
from sync_core.domain.cases.vocabulary import CaseStatus
from sync_core.domain.cases.workflow import STATUS_REASONS, selectable_reasons
from sync_core.errors import InvalidReasonError, ValidationFailedError

# ---------------------------------------------------------------- what the rules need to know


@dataclass(frozen=True)
class ContactFacts:
    """What the rules need of a contact record."""

    contact_id: str
    active: bool
    is_employee: bool


@dataclass(frozen=True)
class AccountContacts:
    """A business account's primary contact and (up to two of) its active contacts."""

    primary: ContactFacts | None
    active_contacts: tuple[ContactFacts, ...]


@dataclass(frozen=True)
class CaseReferences:
    """The settings and records a case names, loaded by the service for the rules to check."""

    case_class: CaseClass
    workgroup: Workgroup | None = None
    contract: Contract | None = None
    contact: ContactFacts | None = None
    account_contacts: AccountContacts | None = None  # set when the account was chosen or changed


def default_contact(account: AccountContacts) -> str | None:
    """The form's rule: an active primary contact, else the only active contact, else none."""
    if account.primary is not None and account.primary.active:
        return account.primary.contact_id
    if len(account.active_contacts) == 1:
        return account.active_contacts[0].contact_id
    return None


# ---------------------------------------------------------------- the rules


def check_owner(owner: str | None, workgroup: Workgroup | None) -> None:
    """With a workgroup, the owner must be one of its members; without one, anyone may own the case."""
    if owner is not None and workgroup is not None and owner not in workgroup.members:
        raise ValidationFailedError(f"{owner} is not a member of workgroup {workgroup.workgroup_id}", field="owner")


def _check_references(case: Case, refs: CaseReferences, changed: Set[str] | None = None) -> None:
    """Check the rules on what the case names; on an edit (`changed`), only the rules whose fields it touched.

    A rule is checked when its value is chosen, as the form checks a box when it is filled in: a workgroup that
    lost a member, or a class edited since, does not stop an unrelated edit (the sync's included).
    """

    def touched(*names: str) -> bool:
        return changed is None or not changed.isdisjoint({"class_id", *names})

    case_class = refs.case_class
    if touched("owner", "workgroup_id"):
        check_owner(case.owner, refs.workgroup)
    if touched("contract_id", "account_id"):
        _check_contract(case, refs)
    if touched("contact_id", "account_id"):
        _check_contact(case, refs)
    if touched("attributes"):
        _check_attributes(case, case_class)


def _check_contract(case: Case, refs: CaseReferences) -> None:
    case_class = refs.case_class
    if case_class.require_contract and case.contract_id is None:
        raise ValidationFailedError(f"class {case_class.class_id} requires a contract", field="contract_id")
    if refs.contract is not None:
        if refs.contract.account_id != case.account_id:
            raise ValidationFailedError(
                f"contract {refs.contract.contract_id} belongs to account {refs.contract.account_id}",
                field="contract_id",
            )
        if not refs.contract.active:
            raise ValidationFailedError(f"contract {refs.contract.contract_id} is not active", field="contract_id")


def _check_contact(case: Case, refs: CaseReferences) -> None:
    case_class = refs.case_class
    contact = _contact_facts(case.contact_id, refs)
    if contact is not None and contact.is_employee and not case_class.allow_employee_contact:
        raise ValidationFailedError(
            f"class {case_class.class_id} does not allow an employee as the case contact", field="contact_id"
        )


def _check_attributes(case: Case, case_class: CaseClass) -> None:
    defined = {attribute.name: attribute for attribute in case_class.attributes}
    unknown = sorted(set(case.attributes) - set(defined))
    missing = sorted(name for name, a in defined.items() if a.required and case.attributes.get(name) in (None, ""))
    errors = [
        {"field": f"attributes.{name}", "reason": f"not an attribute of class {case_class.class_id}"}
        for name in unknown
    ]
    errors += [{"field": f"attributes.{name}", "reason": "required by the case class"} for name in missing]
    if errors:
        raise ValidationFailedError("case attributes do not fit the case class", errors=errors)


def _contact_facts(contact_id: str | None, refs: CaseReferences) -> ContactFacts | None:
    known = [refs.contact]
    if refs.account_contacts is not None:
        known += [refs.account_contacts.primary, *refs.account_contacts.active_contacts]
    return next((facts for facts in known if facts is not None and facts.contact_id == contact_id), None)


def new_case(draft: CaseCreate, refs: CaseReferences, *, now: datetime) -> Case:
    """A new case: class defaults (Billable, SLA), the account's default contact, and every rule checked."""
    case_class = refs.case_class
    if draft.reason not in STATUS_REASONS[CaseStatus.NEW]:
        raise InvalidReasonError(
            f"a new case cannot have reason {draft.reason.value!r}",
            status=CaseStatus.NEW.value,
            reason=draft.reason.value,
            allowed_reasons=STATUS_REASONS[CaseStatus.NEW],
        )
    billable = billing_rule(case_class).billable_default if draft.billable is None else draft.billable
    check_billing(case_class, billable=billable, manual_override=draft.manual_override)
    _check_manual_times(draft.manual_override, draft.billable_minutes, draft.billable_overtime_minutes)
    contact_id = draft.contact_id
    if contact_id is None and refs.account_contacts is not None:
        contact_id = default_contact(refs.account_contacts)
    data = {
        **draft.model_dump(exclude={"billable_minutes", "billable_overtime_minutes"}),
        "contact_id": contact_id,
        "billable": billable,
        "billable_minutes": draft.billable_minutes or 0,
        "billable_overtime_minutes": draft.billable_overtime_minutes or 0,
        "status": CaseStatus.NEW,
        "active": True,
        "date_reported": now,
        **_service_levels(case_class, now),
    }
    case = validated_case(with_billable_time(data, case_class))
    _check_references(case, refs)
    return case


def _service_levels(case_class: CaseClass, reported: datetime) -> dict[str, datetime | int | None]:
    return {
        "sla": reported + timedelta(hours=case_class.resolution_hours) if case_class.resolution_hours else None,
        "resolution_time_hours": case_class.resolution_hours,
        "initial_response_due": (
            reported + timedelta(hours=case_class.initial_response_hours) if case_class.initial_response_hours else None
        ),
    }


def _check_manual_times(manual_override: bool, *times: int | None) -> None:
    if not manual_override and any(value is not None for value in times):
        raise ValidationFailedError("billable time is set by hand only with Manual Override", field="billable_minutes")


def _merge_named(current: Mapping[str, Any], changes: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(current)
    for name, value in (changes or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


# Once released, the invoice or contract usage exists: what it was computed from stays as it was.
RELEASED_FROZEN_FIELDS = frozenset(
    {
        "class_id",
        "account_id",
        "contract_id",
        "billable",
        "manual_override",
        "billable_minutes",
        "billable_overtime_minutes",
    }
)


def update_case(current: Case, update: CaseUpdate, refs: CaseReferences) -> Case:
    """A PATCH: the sent fields change, then the class, contact, owner and billing rules are checked again."""
    changes = update.changes()
    if current.status is CaseStatus.RELEASED and (frozen := sorted(RELEASED_FROZEN_FIELDS & set(changes))):
        raise ValidationFailedError(
            "a released case's billing is done: these fields no longer change",
            errors=[{"field": name, "reason": "the case is Released"} for name in frozen],
        )
    if "reason" in changes and update.reason not in selectable_reasons(current):
        raise InvalidReasonError(
            f"a {current.status.value} case cannot have reason {changes['reason']!r}",
            status=current.status.value,
            reason=changes["reason"],
            allowed_reasons=selectable_reasons(current),
        )
    data = current.model_dump()
    data.update({k: v for k, v in changes.items() if k not in {"attributes", "custom_fields"}})
    data["attributes"] = _merge_named(current.attributes, changes.get("attributes"))
    data["custom_fields"] = _merge_named(current.custom_fields, changes.get("custom_fields"))
    case_class = refs.case_class
    class_changed = "class_id" in changes and changes["class_id"] != current.class_id
    if class_changed:
        data.update(_service_levels(case_class, current.date_reported))
        # A class populates defaults: Billable from the class, Manual Override cleared, unless sent too.
        if "billable" not in changes:
            data["billable"] = billing_rule(case_class).billable_default
        if "manual_override" not in changes:
            data["manual_override"] = False
    account_changed = "account_id" in changes and changes["account_id"] != current.account_id
    # The form defaults the contact when an account is chosen; clearing the account leaves the contact.
    if account_changed and "contact_id" not in changes and refs.account_contacts is not None:
        data["contact_id"] = default_contact(refs.account_contacts)
    manual_override = bool(data["manual_override"])
    _check_manual_times(manual_override, changes.get("billable_minutes"), changes.get("billable_overtime_minutes"))
    if not {"class_id", "billable", "manual_override"}.isdisjoint(changes):
        check_billing(case_class, billable=bool(data["billable"]), manual_override=manual_override)
    case = validated_case(with_billable_time(data, case_class))
    _check_references(case, refs, changed=set(changes))
    return case
