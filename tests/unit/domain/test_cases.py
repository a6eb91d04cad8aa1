"""The case workflow against the Cases form (CR306000): every action from every status, every reason for every
status, and the class, contact, owner and billing rules. Expectations are written out here from the seed text,
independently of the tables in sync_core.domain.cases.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sync_core.domain.cases.activities import ActivityInput, log_activity
from sync_core.domain.cases.editing import (
    AccountContacts,
    CaseReferences,
    ContactFacts,
    default_contact,
    new_case,
    update_case,
)
from sync_core.domain.cases.models import Case, CaseCreate, CaseUpdate
from sync_core.domain.cases.related_cases import add_related_case
from sync_core.domain.cases.settings import AssignmentRule, AttributeDefinition, CaseClass, Contract, Workgroup
from sync_core.domain.cases.transitions import (
    TransitionRequest,
    WorkflowSettings,
    allowed_transitions,
    apply_transition,
)
from sync_core.domain.cases.vocabulary import BillingMode, CaseAction, CaseReason, CaseStatus, Level, RelationType
from sync_core.errors import InvalidReasonError, InvalidTransitionError, ValidationFailedError

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ALL_STATUSES = ["New", "Open", "Pending Customer", "Closed", "Released"]
ALL_REASONS = [reason.value for reason in CaseReason]

# Seed, "Status": the reasons each status can have.
SEED_STATUS_REASONS: dict[str, list[str]] = {
    "New": ["Unassigned", "Assigned", "Opened on Portal"],
    "Open": ["Assigned", "In Process", "Updated", "In Escalation", "Pending Closure"],
    "Pending Customer": ["More Info Requested", "Waiting Confirmation", "Pending Closure"],
    "Closed": ["Resolved", "Rejected", "Canceled", "Abandoned", "Duplicate"],
    "Released": ["Resolved", "Rejected", "Canceled", "Abandoned", "Duplicate"],
}
# Seed, "Form Toolbar": where each command is available (Take Case: where Assigned is a reason;
# Apply Assignment Rules: active cases), where it leads, and what its Details dialog offers.
SEED_ACTIONS: dict[str, dict[str, Any]] = {
    "open": {
        "from": ["New", "Pending Customer", "Closed"],
        "to": "Open",
        "dialog": ["In Process", "Updated", "In Escalation", "Pending Closure", "Assigned"],
    },
    "close": {
        "from": ["New", "Open", "Pending Customer"],
        "to": "Closed",
        "dialog": ["Resolved", "Rejected", "Canceled", "Abandoned", "Duplicate"],
    },
    "pending-customer": {
        "from": ["Open"],
        "to": "Pending Customer",
        "dialog": ["More Info Requested", "Waiting Confirmation", "Pending Closure"],
    },
    "release": {"from": ["Closed"], "to": "Released", "dialog": []},
    "take": {"from": ["New", "Open"], "to": None, "dialog": []},
    "apply-assignment-rules": {"from": ["New", "Open", "Pending Customer"], "to": None, "dialog": []},
}
ACTION_ORDER = ["open", "close", "pending-customer", "release", "take", "apply-assignment-rules"]


def allowed_from(status: str) -> list[str]:
    return [action for action in ACTION_ORDER if status in SEED_ACTIONS[action]["from"]]


SUPPORT = CaseClass(class_id="SUPPORT", billable=True, allow_billable_override=True, labor_rate=Decimal(80))
L1 = Workgroup(workgroup_id="L1", members=["alice", "bob"])
L2 = Workgroup(workgroup_id="L2", members=["carol"])


def make_case(status: str = "New", reason: str | None = None, **fields: Any) -> Case:
    data: dict[str, Any] = {
        "subject": "Printer jams",
        "class_id": "SUPPORT",
        "status": status,
        "reason": reason or SEED_STATUS_REASONS[status][0],
        "date_reported": NOW,
        "account_id": "ACC-000001",
        "billable": True,
        "active": status not in ("Closed", "Released"),
        **fields,
    }
    return Case.model_validate(data)


def transition(
    case: Case,
    action: str,
    reason: str | None = None,
    owner: str | None = None,
    *,
    actor: str = "alice",
    settings: WorkflowSettings | None = None,
) -> Case:
    request = TransitionRequest.model_validate({"action": action, "reason": reason, "owner": owner})
    outcome = apply_transition(
        case,
        request,
        case_id="CS000001",
        actor=actor,
        now=NOW + timedelta(hours=1),
        settings=settings or WorkflowSettings(case_class=SUPPORT),
    )
    return outcome.case


def dialog_reason(action: str) -> str | None:
    """A reason the action's Details dialog offers (None for actions without a dialog)."""
    dialog: list[str] = SEED_ACTIONS[action]["dialog"]
    return dialog[0] if dialog else None


RULES_SETTINGS = WorkflowSettings(
    case_class=SUPPORT,
    assignment_rules=[AssignmentRule(workgroup_id="L1")],
    workgroups={"L1": L1, "L2": L2},
)


# ---------------------------------------------------------------- every action from every status


@pytest.mark.parametrize(("status", "action"), list(itertools.product(ALL_STATUSES, ACTION_ORDER)))
def test_every_action_from_every_status(status: str, action: str) -> None:
    # Given a case with this status
    case = make_case(status)
    seed = SEED_ACTIONS[action]
    # When / Then
    if status in seed["from"]:
        after = transition(case, action, dialog_reason(action), settings=RULES_SETTINGS)
        assert after.status.value == (seed["to"] or status)
    else:
        with pytest.raises(InvalidTransitionError) as refused:
            transition(case, action, dialog_reason(action), settings=RULES_SETTINGS)
        assert refused.value.status == status
        assert refused.value.allowed_actions == allowed_from(status)


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_available_transitions_list_the_seed_actions_and_their_dialog_reasons(status: str) -> None:
    available = allowed_transitions(make_case(status))
    assert [option.action.value for option in available.transitions] == allowed_from(status)
    for option in available.transitions:
        seed = SEED_ACTIONS[option.action.value]
        assert option.target_status.value == (seed["to"] or status)
        assert [reason.value for reason in option.reasons] == seed["dialog"]
        assert option.reason_required is bool(seed["dialog"])
        assert option.takes_owner is (option.action is CaseAction.OPEN)


# ---------------------------------------------------------------- every reason for every status


@pytest.mark.parametrize(("status", "reason"), list(itertools.product(ALL_STATUSES, ALL_REASONS)))
def test_a_case_has_only_the_reasons_its_status_allows(status: str, reason: str) -> None:
    if reason in SEED_STATUS_REASONS[status]:
        assert make_case(status, reason).reason.value == reason
    else:
        with pytest.raises(ValueError, match="is not one a"):
            make_case(status, reason)


@pytest.mark.parametrize(
    ("action", "reason"),
    [(action, reason) for action in ("open", "close", "pending-customer") for reason in ALL_REASONS],
)
def test_dialog_actions_take_exactly_the_reasons_of_their_target_status(action: str, reason: str) -> None:
    # Given a case from which the action is available
    case = make_case(SEED_ACTIONS[action]["from"][0])
    target = SEED_ACTIONS[action]["to"]
    # When / Then
    if reason in SEED_STATUS_REASONS[target]:
        after = transition(case, action, reason)
        assert (after.status.value, after.reason.value) == (target, reason)
    else:
        with pytest.raises(InvalidReasonError) as refused:
            transition(case, action, reason)
        assert refused.value.status == target
        assert refused.value.allowed_reasons == SEED_ACTIONS[action]["dialog"]


@pytest.mark.parametrize("action", ["open", "close", "pending-customer"])
def test_dialog_actions_need_a_reason(action: str) -> None:
    with pytest.raises(InvalidReasonError) as refused:
        transition(make_case(SEED_ACTIONS[action]["from"][0]), action)
    assert refused.value.reason is None


@pytest.mark.parametrize(("status", "reason"), list(itertools.product(ALL_STATUSES, ALL_REASONS)))
def test_editing_the_reason_keeps_to_the_status_and_a_released_case_keeps_its_reason(status: str, reason: str) -> None:
    # Given
    case = make_case(status)
    allowed = [case.reason.value] if status == "Released" else SEED_STATUS_REASONS[status]
    # When / Then
    if reason in allowed:
        assert update_case(case, CaseUpdate(reason=CaseReason(reason)), CaseReferences(SUPPORT)).reason.value == reason
    else:
        with pytest.raises(InvalidReasonError) as refused:
            update_case(case, CaseUpdate(reason=CaseReason(reason)), CaseReferences(SUPPORT))
        assert refused.value.allowed_reasons == allowed


@pytest.mark.parametrize("reason", ["Unassigned", "Assigned", "Opened on Portal", "In Process", "Resolved"])
def test_a_new_case_starts_with_a_new_reason(reason: str) -> None:
    draft = CaseCreate(subject="S", class_id="SUPPORT", reason=CaseReason(reason))
    if reason in SEED_STATUS_REASONS["New"]:
        assert new_case(draft, CaseReferences(SUPPORT), now=NOW).reason.value == reason
    else:
        with pytest.raises(InvalidReasonError):
            new_case(draft, CaseReferences(SUPPORT), now=NOW)


# ---------------------------------------------------------------- what each action does


def test_close_sets_closing_date_and_clears_active() -> None:
    closed = transition(make_case("Open"), "close", "Resolved")
    assert closed.closing_date == NOW + timedelta(hours=1)
    assert closed.active is False


def test_reopening_a_closed_case_makes_it_active_again() -> None:
    reopened = transition(transition(make_case("Open"), "close", "Rejected"), "open", "Updated")
    assert (reopened.status, reopened.reason, reopened.active, reopened.closing_date) == (
        CaseStatus.OPEN,
        CaseReason.UPDATED,
        True,
        None,
    )


@pytest.mark.parametrize("closing_reason", SEED_STATUS_REASONS["Closed"])
def test_release_keeps_the_closing_reason_and_refuses_another(closing_reason: str) -> None:
    closed = make_case("Closed", closing_reason)
    assert transition(closed, "release").reason.value == closing_reason
    assert transition(closed, "release", closing_reason).status is CaseStatus.RELEASED
    other = next(r for r in SEED_STATUS_REASONS["Closed"] if r != closing_reason)
    with pytest.raises(InvalidReasonError) as refused:
        transition(closed, "release", other)
    assert refused.value.allowed_reasons == [closing_reason]


@pytest.mark.parametrize("status", ["New", "Open"])
def test_take_case_makes_the_caller_owner_with_reason_assigned(status: str) -> None:
    taken = transition(make_case(status, owner="bob"), "take", actor="alice")
    assert (taken.owner, taken.reason, taken.status.value) == ("alice", CaseReason.ASSIGNED, status)


def test_take_case_in_a_workgroup_needs_the_caller_to_be_a_member() -> None:
    settings = WorkflowSettings(case_class=SUPPORT, workgroup=L1)
    with pytest.raises(ValidationFailedError) as refused:
        transition(make_case("New", workgroup_id="L1"), "take", actor="mallory", settings=settings)
    assert refused.value.field == "owner"


def test_take_case_refuses_a_reason_other_than_assigned() -> None:
    with pytest.raises(InvalidReasonError) as refused:
        transition(make_case("New"), "take", "In Process")
    assert refused.value.allowed_reasons == ["Assigned"]


def test_open_assigns_the_owner_its_dialog_names_from_the_workgroup() -> None:
    settings = WorkflowSettings(case_class=SUPPORT, workgroup=L1)
    case = make_case("New", workgroup_id="L1", owner="alice")
    assert transition(case, "open", "Assigned", "bob", settings=settings).owner == "bob"
    assert transition(case, "open", "In Process", settings=settings).owner == "alice"
    with pytest.raises(ValidationFailedError, match="not a member"):
        transition(case, "open", "Assigned", "carol", settings=settings)


@pytest.mark.parametrize("action", ["close", "pending-customer", "release", "take", "apply-assignment-rules"])
def test_only_open_takes_an_owner(action: str) -> None:
    case = make_case(SEED_ACTIONS[action]["from"][0])
    with pytest.raises(ValidationFailedError) as refused:
        transition(case, action, dialog_reason(action), owner="bob", settings=RULES_SETTINGS)
    assert refused.value.field == "owner"


def test_apply_assignment_rules_uses_the_first_matching_rule() -> None:
    # Given rules for high-severity cases (to L2 with carol) and everything else (to L1)
    settings = WorkflowSettings(
        case_class=SUPPORT,
        assignment_rules=[
            AssignmentRule(workgroup_id="L2", owner="carol", severity=Level.HIGH),
            AssignmentRule(workgroup_id="L1"),
        ],
        workgroups={"L1": L1, "L2": L2},
    )
    # When
    high = transition(make_case("New", severity="High", owner="alice"), "apply-assignment-rules", settings=settings)
    low = transition(make_case("Open", "In Process", owner="bob"), "apply-assignment-rules", settings=settings)
    outsider = transition(make_case("New", "Assigned", owner="mallory"), "apply-assignment-rules", settings=settings)
    # Then
    assert (high.workgroup_id, high.owner, high.reason) == ("L2", "carol", CaseReason.ASSIGNED)
    assert (low.workgroup_id, low.owner, low.reason) == ("L1", "bob", CaseReason.IN_PROCESS)
    assert (outsider.workgroup_id, outsider.owner, outsider.reason) == ("L1", None, CaseReason.UNASSIGNED)


def test_apply_assignment_rules_keeps_opened_on_portal_when_no_owner_is_named() -> None:
    case = make_case("New", "Opened on Portal")
    assigned = transition(case, "apply-assignment-rules", settings=RULES_SETTINGS)
    assert (assigned.workgroup_id, assigned.owner, assigned.reason) == ("L1", None, CaseReason.OPENED_ON_PORTAL)


def test_apply_assignment_rules_without_a_matching_rule_is_refused() -> None:
    settings = WorkflowSettings(case_class=SUPPORT, assignment_rules=[AssignmentRule(workgroup_id="L1", class_id="X")])
    with pytest.raises(ValidationFailedError, match="no assignment rule"):
        transition(make_case("New"), "apply-assignment-rules", settings=settings)


# ---------------------------------------------------------------- release side effects


def billed_case(**fields: Any) -> Case:
    case = make_case("Open", "In Process", contact_id="CON-000001", **fields)
    case, _ = log_activity(
        case,
        ActivityInput(type="Work Item", summary="Fix", time_spent_minutes=50, overtime_minutes=10),
        case_class=SUPPORT.model_copy(update={"round_time_minutes": 15, "overtime_rate": Decimal(120)}),
        actor="alice",
        now=NOW,
    )
    return transition(case, "close", "Resolved")


def release(case: Case, case_class: CaseClass, contract: Contract | None = None) -> Any:
    settings = WorkflowSettings(case_class=case_class, contract=contract)
    request = TransitionRequest(action=CaseAction.RELEASE)
    return apply_transition(case, request, case_id="CS000001", actor="alice", now=NOW, settings=settings)


def test_releasing_a_standalone_billable_case_creates_its_invoice() -> None:
    case_class = SUPPORT.model_copy(update={"round_time_minutes": 15, "overtime_rate": Decimal(120)})
    outcome = release(billed_case(), case_class)
    invoice = outcome.invoice
    assert outcome.contract_usage is None
    assert (invoice.case_id, invoice.account_id, invoice.contact_id) == ("CS000001", "ACC-000001", "CON-000001")
    assert [(line.hours, line.unit_price, line.amount) for line in invoice.lines] == [
        (Decimal("1.0000"), Decimal(80), Decimal("80.00")),
        (Decimal("0.2500"), Decimal(120), Decimal("30.00")),
    ]
    assert invoice.total == Decimal("110.00")


def test_releasing_a_non_billable_standalone_case_creates_nothing() -> None:
    outcome = release(make_case("Closed", billable=False), SUPPORT)
    assert (outcome.case.status, outcome.invoice, outcome.contract_usage) == (CaseStatus.RELEASED, None, None)


def test_releasing_a_contract_case_records_contract_usage_instead_of_an_invoice() -> None:
    contract = Contract(contract_id="C-1", account_id="ACC-000001")
    case_class = SUPPORT.model_copy(update={"round_time_minutes": 15})
    outcome = release(billed_case(contract_id="C-1"), case_class, contract)
    usage = outcome.contract_usage
    assert outcome.invoice is None
    assert (usage.contract_id, usage.case_id, usage.billable_minutes, usage.billable_overtime_minutes) == (
        "C-1",
        "CS000001",
        60,
        15,
    )


def test_a_billable_case_without_an_account_cannot_be_invoiced() -> None:
    with pytest.raises(ValidationFailedError) as refused:
        release(make_case("Closed", account_id=None), SUPPORT)
    assert refused.value.field == "account_id"


# ---------------------------------------------------------------- class rules: billing


# (class Billable, class Enable Billable Option Override) -> (default, may the case differ?, Manual Override rule)
SEED_BILLING = {
    (False, False): (False, False, "never"),
    (False, True): (False, True, "when billable"),
    (True, False): (True, False, "always"),
    (True, True): (True, True, "always"),
}


@pytest.mark.parametrize(("class_flags", "requested"), list(itertools.product(SEED_BILLING, [None, True, False])))
def test_billable_follows_the_class(class_flags: tuple[bool, bool], requested: bool | None) -> None:
    default, can_change, _ = SEED_BILLING[class_flags]
    case_class = CaseClass(class_id="K", billable=class_flags[0], allow_billable_override=class_flags[1])
    draft = CaseCreate(subject="S", class_id="K", billable=requested)
    if requested is None or requested == default or can_change:
        case = new_case(draft, CaseReferences(case_class), now=NOW)
        assert case.billable is (default if requested is None else requested)
        assert case.manual_override is False
    else:
        with pytest.raises(ValidationFailedError) as refused:
            new_case(draft, CaseReferences(case_class), now=NOW)
        assert refused.value.field == "billable"


@pytest.mark.parametrize(
    ("class_flags", "billable"),
    # Only the Billable values the class lets the case have (the test above covers the others).
    [
        (flags, billable)
        for flags, (default, can_change, _) in SEED_BILLING.items()
        for billable in (True, False)
        if billable == default or can_change
    ],
)
def test_manual_override_follows_the_class(class_flags: tuple[bool, bool], billable: bool) -> None:
    rule = SEED_BILLING[class_flags][2]
    case_class = CaseClass(class_id="K", billable=class_flags[0], allow_billable_override=class_flags[1])
    draft = CaseCreate(subject="S", class_id="K", billable=billable, manual_override=True)
    if rule == "always" or (rule == "when billable" and billable):
        assert new_case(draft, CaseReferences(case_class), now=NOW).manual_override is True
    else:
        with pytest.raises(ValidationFailedError) as refused:
            new_case(draft, CaseReferences(case_class), now=NOW)
        assert refused.value.field == "manual_override"


def log_work(case: Case, case_class: CaseClass, *minutes: int, billable: bool | None = None) -> Case:
    for spent in minutes:
        activity = ActivityInput.model_validate(
            {"type": "Work Item", "summary": "Work", "time_spent_minutes": spent, "billable": billable}
        )
        case, _ = log_activity(case, activity, case_class=case_class, actor="alice", now=NOW)
    return case


@pytest.mark.parametrize(
    ("mode", "minutes", "expected"),
    [
        (BillingMode.PER_CASE, (10, 10), 30),  # 20 -> rounded to 30, above the 30 minimum
        (BillingMode.PER_CASE, (5,), 30),  # 5 -> 15 -> raised to the minimum
        (BillingMode.PER_CASE, (40, 10), 60),
        (BillingMode.PER_ACTIVITY, (10, 10), 60),  # each 10 -> 15 -> 30 minimum, twice
        (BillingMode.PER_ACTIVITY, (40, 10), 75),  # 45 + 30
        (BillingMode.PER_CASE, (), 0),  # no work, no minimum
    ],
)
def test_billable_time_follows_the_class_rounding_minimum_and_billing_mode(
    mode: BillingMode, minutes: tuple[int, ...], expected: int
) -> None:
    case_class = SUPPORT.model_copy(update={"billing_mode": mode, "round_time_minutes": 15, "min_billable_minutes": 30})
    case = log_work(make_case("Open", "In Process"), case_class, *minutes)
    assert case.time_spent_minutes == sum(minutes)
    assert case.billable_minutes == expected


def test_a_non_billable_case_has_no_billable_time_and_non_billable_activities_do_not_count() -> None:
    assert log_work(make_case("Open", "In Process", billable=False), SUPPORT, 60).billable_minutes == 0
    case = log_work(make_case("Open", "In Process"), SUPPORT, 60, billable=False)
    assert (case.time_spent_minutes, case.billable_minutes) == (60, 0)


def test_billable_time_is_set_by_hand_only_with_manual_override() -> None:
    refs = CaseReferences(SUPPORT)
    case = make_case("Open", "In Process")
    with pytest.raises(ValidationFailedError) as refused:
        update_case(case, CaseUpdate(billable_minutes=90), refs)
    assert refused.value.field == "billable_minutes"
    overridden = update_case(case, CaseUpdate(manual_override=True, billable_minutes=90), refs)
    assert log_work(overridden, SUPPORT, 10).billable_minutes == 90


# ---------------------------------------------------------------- class rules: SLA, contract, attributes, employee


def test_sla_is_date_reported_plus_the_class_resolution_time() -> None:
    case_class = SUPPORT.model_copy(update={"resolution_hours": 48, "initial_response_hours": 4})
    case = new_case(CaseCreate(subject="S", class_id="SUPPORT"), CaseReferences(case_class), now=NOW)
    assert (case.date_reported, case.sla, case.initial_response_due, case.resolution_time_hours) == (
        NOW,
        NOW + timedelta(hours=48),
        NOW + timedelta(hours=4),
        48,
    )
    assert case.initial_response_minutes is None  # no response sent yet
    assert new_case(CaseCreate(subject="S", class_id="SUPPORT"), CaseReferences(SUPPORT), now=NOW).sla is None


def test_changing_the_class_resets_billable_and_sla_from_the_new_class() -> None:
    case = make_case("Open", "In Process", billable=True)
    internal = CaseClass(class_id="INTERNAL", resolution_hours=8)
    changed = update_case(case, CaseUpdate(class_id="INTERNAL"), CaseReferences(internal))
    assert (changed.class_id, changed.billable, changed.sla) == ("INTERNAL", False, NOW + timedelta(hours=8))
    assert changed.resolution_time_hours == 8


def test_init_response_is_the_time_to_the_first_outgoing_activity() -> None:
    # "Init. Response: The time ... it takes for a support representative to send the initial response."
    case = make_case("Open", "In Process")

    def log(case: Case, kind: str, direction: str, after: timedelta) -> Case:
        activity = ActivityInput.model_validate(
            {"type": kind, "summary": "x", "direction": direction, "start_date": NOW + after}
        )
        return log_activity(case, activity, case_class=SUPPORT, actor="alice", now=NOW + after)[0]

    case = log(case, "Email", "Incoming", timedelta(minutes=10))  # the customer writes: no response yet
    case = log(case, "Note", "Internal", timedelta(minutes=20))
    assert case.initial_response_minutes is None
    case = log(case, "Email", "Outgoing", timedelta(hours=2, minutes=5))
    case = log(case, "Phone Call", "Outgoing", timedelta(hours=5))
    assert case.initial_response_minutes == 125


def test_a_class_that_requires_a_contract_refuses_a_case_without_one() -> None:
    case_class = SUPPORT.model_copy(update={"require_contract": True})
    with pytest.raises(ValidationFailedError) as refused:
        new_case(CaseCreate(subject="S", class_id="SUPPORT"), CaseReferences(case_class), now=NOW)
    assert refused.value.field == "contract_id"


def test_the_contract_must_be_the_accounts() -> None:
    draft = CaseCreate(subject="S", class_id="SUPPORT", account_id="ACC-000002", contract_id="C-1")
    refs = CaseReferences(SUPPORT, contract=Contract(contract_id="C-1", account_id="ACC-000001"))
    with pytest.raises(ValidationFailedError, match="belongs to account"):
        new_case(draft, refs, now=NOW)


def test_required_attributes_must_be_set_and_unknown_ones_are_refused() -> None:
    case_class = SUPPORT.model_copy(update={"attributes": [AttributeDefinition(name="Product", required=True)]})
    with pytest.raises(ValidationFailedError) as refused:
        new_case(
            CaseCreate(subject="S", class_id="SUPPORT", attributes={"Colour": "red"}),
            CaseReferences(case_class),
            now=NOW,
        )
    assert {error["field"] for error in refused.value.errors} == {"attributes.Colour", "attributes.Product"}
    draft = CaseCreate(subject="S", class_id="SUPPORT", attributes={"Product": "Printer"})
    assert new_case(draft, CaseReferences(case_class), now=NOW).attributes == {"Product": "Printer"}


@pytest.mark.parametrize("allowed", [True, False])
def test_an_employee_contact_needs_a_class_that_allows_it(allowed: bool) -> None:
    case_class = SUPPORT.model_copy(update={"allow_employee_contact": allowed})
    refs = CaseReferences(case_class, contact=ContactFacts("CON-000009", active=True, is_employee=True))
    draft = CaseCreate(subject="S", class_id="SUPPORT", contact_id="CON-000009")
    if allowed:
        assert new_case(draft, refs, now=NOW).contact_id == "CON-000009"
    else:
        with pytest.raises(ValidationFailedError) as refused:
            new_case(draft, refs, now=NOW)
        assert refused.value.field == "contact_id"


# ---------------------------------------------------------------- contact defaulting from the account


def contact(contact_id: str, active: bool = True) -> ContactFacts:
    return ContactFacts(contact_id, active=active, is_employee=False)


@pytest.mark.parametrize(
    ("primary", "active_contacts", "expected"),
    [
        (contact("P"), (contact("A"), contact("B")), "P"),  # an active primary contact
        (contact("P", active=False), (contact("A"),), "A"),  # else the only active contact
        (None, (contact("A"),), "A"),
        (None, (), None),  # no contacts
        (None, (contact("A"), contact("B")), None),  # more than one, none primary
        (contact("P", active=False), (), None),
    ],
)
def test_the_contact_defaults_from_the_account(
    primary: ContactFacts | None, active_contacts: tuple[ContactFacts, ...], expected: str | None
) -> None:
    account = AccountContacts(primary=primary, active_contacts=active_contacts)
    assert default_contact(account) == expected
    draft = CaseCreate(subject="S", class_id="SUPPORT", account_id="ACC-000001")
    assert new_case(draft, CaseReferences(SUPPORT, account_contacts=account), now=NOW).contact_id == expected


def test_an_explicit_contact_wins_and_changing_the_account_defaults_it_again() -> None:
    account = AccountContacts(primary=contact("P"), active_contacts=())
    refs = CaseReferences(SUPPORT, contact=contact("X"), account_contacts=account)
    draft = CaseCreate(subject="S", class_id="SUPPORT", account_id="ACC-000001", contact_id="X")
    case = new_case(draft, refs, now=NOW)
    assert case.contact_id == "X"
    moved = update_case(case, CaseUpdate(account_id="ACC-000002"), CaseReferences(SUPPORT, account_contacts=account))
    assert moved.contact_id == "P"


def test_clearing_the_account_leaves_the_contact() -> None:
    case = make_case("Open", "In Process", contact_id="CON-000001")
    cleared = update_case(case, CaseUpdate(account_id=None), CaseReferences(SUPPORT))
    assert (cleared.account_id, cleared.contact_id) == (None, "CON-000001")


# ---------------------------------------------------------------- owner and workgroup


@pytest.mark.parametrize(
    ("workgroup", "owner", "accepted"),
    [(None, "anyone", True), (L1, "alice", True), (L1, "carol", False), (L1, None, True)],
)
def test_the_owner_must_be_a_member_of_the_workgroup(
    workgroup: Workgroup | None, owner: str | None, accepted: bool
) -> None:
    draft = CaseCreate(subject="S", class_id="SUPPORT", owner=owner, workgroup_id=workgroup and workgroup.workgroup_id)
    refs = CaseReferences(SUPPORT, workgroup=workgroup)
    if accepted:
        assert new_case(draft, refs, now=NOW).owner == owner
    else:
        with pytest.raises(ValidationFailedError) as refused:
            new_case(draft, refs, now=NOW)
        assert refused.value.field == "owner"


def test_moving_to_a_workgroup_the_owner_is_not_in_is_refused() -> None:
    case = make_case("Open", "Assigned", owner="alice", workgroup_id="L1")
    with pytest.raises(ValidationFailedError, match="not a member"):
        update_case(case, CaseUpdate(workgroup_id="L2"), CaseReferences(SUPPORT, workgroup=L2))


@pytest.mark.parametrize(
    ("refs", "untouched", "touched", "field"),
    [
        # bob left the workgroup L1 after taking the case
        (CaseReferences(SUPPORT, workgroup=L2), {"priority": "High"}, {"workgroup_id": "L2"}, "owner"),
        # the class stopped being billable, and overridable, after the case was opened
        (CaseReferences(CaseClass(class_id="SUPPORT")), {"subject": "Jam"}, {"billable": True}, "billable"),
        # the class gained a required attribute
        (
            CaseReferences(SUPPORT.model_copy(update={"attributes": [AttributeDefinition(name="P", required=True)]})),
            {"details": "More"},
            {"attributes": {"Other": None}},
            "attributes.P",
        ),
    ],
)
def test_settings_changed_since_do_not_stop_an_edit_that_leaves_them_alone(
    refs: CaseReferences, untouched: dict[str, Any], touched: dict[str, Any], field: str
) -> None:
    # Given a case that fitted its settings when it was last written
    case = make_case("Open", "Assigned", owner="bob", workgroup_id="L2" if refs.workgroup else None)
    # When an edit leaves the rule's fields alone, it is accepted; when it touches them, the rule applies
    edited = update_case(case, CaseUpdate.model_validate(untouched), refs)
    assert all(getattr(edited, name) == value for name, value in untouched.items())
    with pytest.raises(ValidationFailedError) as refused:
        update_case(case, CaseUpdate.model_validate(touched), refs)
    assert field in {error["field"] for error in refused.value.errors}


def test_status_and_system_fields_are_not_editable() -> None:
    with pytest.raises(ValueError, match="Extra inputs"):
        CaseUpdate.model_validate({"status": "Closed"})
    with pytest.raises(ValueError, match="cannot be cleared"):
        CaseUpdate.model_validate({"subject": None})


def test_a_released_case_keeps_its_billing() -> None:
    with pytest.raises(ValidationFailedError) as refused:
        update_case(make_case("Released"), CaseUpdate(billable=False), CaseReferences(SUPPORT))
    assert refused.value.errors == [{"field": "billable", "reason": "the case is Released"}]


# ---------------------------------------------------------------- activities and related cases


@pytest.mark.parametrize(
    ("status", "reopens"), [("New", False), ("Open", False), ("Pending Customer", True), ("Closed", True)]
)
def test_an_incoming_email_reopens_a_waiting_or_closed_case_as_updated(status: str, reopens: bool) -> None:
    email = ActivityInput.model_validate({"type": "Email", "summary": "Re: jam", "direction": "Incoming"})
    case, _ = log_activity(make_case(status), email, case_class=SUPPORT, actor="customer", now=NOW)
    if reopens:
        assert (case.status, case.reason, case.active) == (CaseStatus.OPEN, CaseReason.UPDATED, True)
    else:
        assert case.status.value == status
    assert case.last_activity_date == case.last_incoming_activity_date == NOW


def test_only_incoming_or_outgoing_activities_move_the_last_activity_date() -> None:
    note = ActivityInput.model_validate({"type": "Note", "summary": "internal"})
    email = ActivityInput.model_validate({"type": "Email", "summary": "Update", "start_date": NOW + timedelta(hours=2)})
    case, _ = log_activity(make_case("Open", "In Process"), note, case_class=SUPPORT, actor="alice", now=NOW)
    assert case.last_activity_date is None
    case, logged = log_activity(case, email, case_class=SUPPORT, actor="alice", now=NOW)
    assert logged.direction.value == "Outgoing"
    assert case.last_activity_date == case.last_outgoing_activity_date == NOW + timedelta(hours=2)
    with pytest.raises(ValueError, match="Incoming or Outgoing"):
        ActivityInput.model_validate({"type": "Email", "summary": "x", "direction": "Internal"})


def test_a_released_case_takes_no_activities() -> None:
    with pytest.raises(ValidationFailedError, match="released"):
        log_activity(
            make_case("Released"), ActivityInput(type="Note", summary="x"), case_class=SUPPORT, actor="a", now=NOW
        )


def test_related_cases_are_typed_links_never_to_itself() -> None:
    case = add_related_case(make_case(), "CS000002", RelationType.BLOCKS, case_id="CS000001")
    case = add_related_case(case, "CS000002", RelationType.DUPLICATE_OF, case_id="CS000001")
    assert [(link.case_id, link.relation.value) for link in case.related_cases] == [("CS000002", "Duplicate Of")]
    with pytest.raises(ValidationFailedError):
        add_related_case(case, "CS000001", RelationType.RELATED, case_id="CS000001")
