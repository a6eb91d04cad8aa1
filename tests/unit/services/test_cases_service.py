"""CasesService over in-memory ports: numbering, sync state of every write, optimistic locking, release records."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sync_core.domain.cases.activities import ActivityInput
from sync_core.domain.cases.models import CaseCreate, CaseUpdate, RelatedCase
from sync_core.domain.cases.settings import (
    CASE_CLASSES,
    CONTRACTS,
    WORKGROUPS,
    AssignmentRule,
    AssignmentRules,
    CaseClass,
    Contract,
    Workgroup,
)
from sync_core.domain.cases.transitions import TransitionRequest
from sync_core.domain.cases.vocabulary import CaseStatus
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.domain.sync_state import SyncOperation, SyncStatus
from sync_core.errors import (
    InvalidReasonError,
    InvalidTransitionError,
    NotFoundError,
    StaleVersionError,
    ValidationFailedError,
)
from sync_core.services.cases import CaseServices, case_services
from sync_core.services.sync_writer import SyncWriter
from tests.fakes.cases import (
    InMemoryCaseActivityStore,
    InMemoryCaseSettingsStore,
    InMemoryRecordFinder,
)
from tests.fakes.records import InMemoryRecordStore, InMemorySequenceStore, SteppingClock


@pytest.fixture
def store() -> InMemoryRecordStore:
    return InMemoryRecordStore()


@pytest.fixture
def settings() -> InMemoryCaseSettingsStore:
    settings = InMemoryCaseSettingsStore()
    settings.put(
        CASE_CLASSES,
        CaseClass(class_id="SUPPORT", billable=True, allow_billable_override=True, labor_rate=Decimal(90)),
    )
    settings.put(WORKGROUPS, Workgroup(workgroup_id="L1", members=["alice", "bob"]))
    return settings


@pytest.fixture
def activities(store: InMemoryRecordStore) -> InMemoryCaseActivityStore:
    return InMemoryCaseActivityStore(store)


@pytest.fixture
def service(
    store: InMemoryRecordStore, settings: InMemoryCaseSettingsStore, activities: InMemoryCaseActivityStore
) -> CaseServices:
    return case_services(
        records=store,
        finder=InMemoryRecordFinder(store),
        writer=SyncWriter(store, SteppingClock()),
        settings=settings,
        activities=activities,
        sequences=InMemorySequenceStore(),
        clock=SteppingClock(),
    )


def put_record(store: InMemoryRecordStore, entity: EntityName, record_id: str, **fields: object) -> None:
    clock = SteppingClock()
    now = clock.now()
    store.records[(entity, record_id)] = HubRecord(
        entity=entity, id=record_id, version=1, fields=dict(fields), created_at=now, updated_at=now, updated_by="u"
    )


def draft(**fields: object) -> CaseCreate:
    return CaseCreate.model_validate({"subject": "Printer jams", "class_id": "SUPPORT", **fields})


def act(service: CaseServices, case_id: str, action: str, reason: str | None = None, **kw: object) -> None:
    request = TransitionRequest.model_validate({"action": action, "reason": reason})
    service.workflow.transition(case_id, request, actor="alice", expected_version=None, **kw)


def test_case_ids_come_from_the_numbering_sequence(service: CaseServices) -> None:
    first = service.cases.create_case(draft(), actor="alice")
    second = service.cases.create_case(draft(), actor="alice")
    assert (first.id, second.id) == ("CS000001", "CS000002")
    assert (first.version, first.updated_by, first.fields.status) == (1, "alice", CaseStatus.NEW)


def test_a_refused_create_uses_no_case_id(service: CaseServices) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        service.cases.create_case(draft(class_id="NOPE"), actor="alice")
    assert refused.value.field == "class_id"
    assert service.cases.create_case(draft(), actor="alice").id == "CS000001"


def test_every_write_leaves_the_case_modified_locally(service: CaseServices, store: InMemoryRecordStore) -> None:
    # Given a case the sync has exported
    case = service.cases.create_case(draft(), actor="alice")
    key = (EntityName.CASE, case.id)
    assert (store.states[key].status, store.states[key].operation) == (
        SyncStatus.MODIFIED_LOCALLY,
        SyncOperation.INSERT,
    )
    store.states[key] = store.states[key].model_copy(
        update={"external_ref": "5005e00000AbCdEAAV", "status": SyncStatus.SYNCHRONIZED}
    )
    # When
    act(service, case.id, "take")
    # Then
    state = store.states[key]
    assert (state.status, state.operation, state.record_version) == (
        SyncStatus.MODIFIED_LOCALLY,
        SyncOperation.UPDATE,
        2,
    )


def test_the_contact_defaults_from_the_accounts_records(service: CaseServices, store: InMemoryRecordStore) -> None:
    put_record(store, EntityName.ACCOUNT, "ACC-000001", name="Acme", primary_contact_id="CON-000002")
    put_record(store, EntityName.CONTACT, "CON-000001", last_name="A", account_id="ACC-000001", active=True)
    put_record(store, EntityName.CONTACT, "CON-000002", last_name="P", account_id="ACC-000001", active=False)
    put_record(store, EntityName.ACCOUNT, "ACC-000002", name="Beta")
    # The primary contact is inactive, and CON-000001 is the only active contact.
    case = service.cases.create_case(draft(account_id="ACC-000001"), actor="alice")
    assert case.fields.contact_id == "CON-000001"
    moved = service.cases.update_case(case.id, CaseUpdate(account_id="ACC-000002"), actor="alice", expected_version=1)
    assert moved.fields.contact_id is None
    with pytest.raises(ValidationFailedError) as refused:
        service.cases.create_case(draft(account_id="ACC-404"), actor="alice")
    assert refused.value.field == "account_id"


def test_a_stale_version_is_refused_before_anything_runs(service: CaseServices) -> None:
    case = service.cases.create_case(draft(), actor="alice")
    act(service, case.id, "take")
    with pytest.raises(StaleVersionError) as refused:
        service.workflow.transition(
            case.id, TransitionRequest.model_validate({"action": "release"}), actor="alice", expected_version=1
        )
    assert (refused.value.expected, refused.value.current) == (1, 2)


def test_refused_transitions_change_nothing(service: CaseServices, store: InMemoryRecordStore) -> None:
    case = service.cases.create_case(draft(), actor="alice")
    before = store.records[(EntityName.CASE, case.id)]
    with pytest.raises(InvalidTransitionError):
        act(service, case.id, "release")
    with pytest.raises(InvalidReasonError):
        act(service, case.id, "close", "In Process")
    assert store.records[(EntityName.CASE, case.id)] == before


def test_release_writes_the_case_and_its_invoice_together(service: CaseServices, store: InMemoryRecordStore) -> None:
    # Given a closed billable case with an hour and a half of work
    put_record(store, EntityName.ACCOUNT, "ACC-000001", name="Acme")
    case = service.cases.create_case(draft(account_id="ACC-000001"), actor="alice")
    activity = ActivityInput.model_validate({"type": "Work Item", "summary": "Fix", "time_spent_minutes": 90})
    service.activities.add_activity(case.id, activity, actor="bob", expected_version=None)
    act(service, case.id, "close", "Resolved")
    # When
    act(service, case.id, "release")
    # Then
    released = service.cases.get_case(case.id)
    invoice = service.workflow.invoice(case.id)
    assert (released.fields.status, released.fields.invoice_id) == (CaseStatus.RELEASED, "INV000001")
    assert (invoice.id, invoice.fields.case_id, invoice.fields.total) == ("INV000001", case.id, Decimal("135.00"))
    state = store.states[(EntityName.INVOICE, invoice.id)]
    assert (state.status, state.operation) == (SyncStatus.MODIFIED_LOCALLY, SyncOperation.INSERT)
    with pytest.raises(NotFoundError):
        service.workflow.contract_usage(case.id)


def test_release_of_a_contract_case_records_contract_usage(
    service: CaseServices, store: InMemoryRecordStore, settings: InMemoryCaseSettingsStore
) -> None:
    put_record(store, EntityName.ACCOUNT, "ACC-000001", name="Acme")
    service.settings.put(CONTRACTS, Contract(contract_id="C-1", account_id="ACC-000001"))
    case = service.cases.create_case(draft(account_id="ACC-000001", contract_id="C-1"), actor="alice")
    act(service, case.id, "close", "Resolved")
    act(service, case.id, "release")
    usage = service.workflow.contract_usage(case.id)
    assert (usage.id, usage.fields.contract_id, usage.fields.case_id) == ("CU000001", "C-1", case.id)
    assert service.cases.get_case(case.id).fields.invoice_id is None


def test_a_release_that_loses_a_race_writes_no_invoice(service: CaseServices, store: InMemoryRecordStore) -> None:
    # Given a closed billable case that someone else changes while the release runs
    put_record(store, EntityName.ACCOUNT, "ACC-000001", name="Acme")
    case = service.cases.create_case(draft(account_id="ACC-000001"), actor="alice")
    act(service, case.id, "close", "Resolved")
    current = service.cases.get_case(case.id)
    store.records[(EntityName.CASE, case.id)] = current.to_hub_record().model_copy(update={"version": 9})
    original_get = store.get
    store.get = lambda entity, record_id: (  # type: ignore[method-assign]
        current.to_hub_record() if entity is EntityName.CASE else original_get(entity, record_id)
    )
    # When / Then
    with pytest.raises(StaleVersionError):
        act(service, case.id, "release")
    assert not [key for key in store.records if key[0] is EntityName.INVOICE]


def test_take_case_needs_the_caller_in_the_cases_workgroup(service: CaseServices) -> None:
    case = service.cases.create_case(draft(workgroup_id="L1"), actor="alice")
    with pytest.raises(ValidationFailedError):
        service.workflow.transition(
            case.id, TransitionRequest.model_validate({"action": "take"}), actor="mallory", expected_version=None
        )
    taken = service.workflow.transition(
        case.id, TransitionRequest.model_validate({"action": "take"}), actor="bob", expected_version=None
    )
    assert (taken.fields.owner, taken.fields.reason.value) == ("bob", "Assigned")


def test_apply_assignment_rules_reads_the_assignment_map(service: CaseServices) -> None:
    service.settings.put_assignment_rules(AssignmentRules(rules=[AssignmentRule(workgroup_id="L1", owner="bob")]))
    case = service.cases.create_case(draft(), actor="alice")
    act(service, case.id, "apply-assignment-rules")
    assigned = service.cases.get_case(case.id).fields
    assert (assigned.workgroup_id, assigned.owner, assigned.reason.value) == ("L1", "bob", "Assigned")


def test_assignment_rules_must_name_real_workgroups_and_members(service: CaseServices) -> None:
    with pytest.raises(ValidationFailedError) as unknown:
        service.settings.put_assignment_rules(AssignmentRules(rules=[AssignmentRule(workgroup_id="NOPE")]))
    assert unknown.value.field == "rules.0.workgroup_id"
    with pytest.raises(ValidationFailedError) as outsider:
        service.settings.put_assignment_rules(AssignmentRules(rules=[AssignmentRule(workgroup_id="L1", owner="carol")]))
    assert outsider.value.field == "rules.0.owner"


def test_list_filters_by_status_owner_and_account(service: CaseServices, store: InMemoryRecordStore) -> None:
    put_record(store, EntityName.ACCOUNT, "ACC-000001", name="Acme")
    first = service.cases.create_case(draft(account_id="ACC-000001"), actor="alice")
    second = service.cases.create_case(draft(), actor="alice")
    act(service, second.id, "take")

    def ids(**filters: Any) -> list[str]:
        page = service.cases.list_cases(limit=10, cursor=None, **filters)
        return [record.id for record in page.items]

    assert ids() == [first.id, second.id]
    assert ids(owner="alice") == [second.id]
    assert ids(account_id="ACC-000001") == [first.id]
    assert ids(status=CaseStatus.NEW, owner="alice") == [second.id]
    assert ids(status=CaseStatus.OPEN) == []


def test_related_cases_show_the_other_cases_subject_and_status(service: CaseServices) -> None:
    case = service.cases.create_case(draft(), actor="alice")
    other = service.cases.create_case(draft(subject="Toner empty"), actor="alice")
    act(service, other.id, "take")
    link = RelatedCase.model_validate({"case_id": other.id, "relation": "Depends On"})
    service.related.relate_case(case.id, link, actor="alice", expected_version=1)
    [view] = service.related.related_cases(case.id)
    assert (view.case_id, view.relation.value, view.subject, view.owner) == (
        other.id,
        "Depends On",
        "Toner empty",
        "alice",
    )
    missing = RelatedCase.model_validate({"case_id": "CS999999", "relation": "Related"})
    with pytest.raises(ValidationFailedError):
        service.related.relate_case(case.id, missing, actor="alice", expected_version=None)
    service.related.unrelate_case(case.id, other.id, actor="alice", expected_version=None)
    assert service.related.related_cases(case.id) == []
    with pytest.raises(NotFoundError):
        service.related.unrelate_case(case.id, other.id, actor="alice", expected_version=None)


def test_contracts_must_name_an_existing_account(service: CaseServices) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        service.settings.put(CONTRACTS, Contract(contract_id="C-9", account_id="ACC-404"))
    assert refused.value.field == "account_id"
