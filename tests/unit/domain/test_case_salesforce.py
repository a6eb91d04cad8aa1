"""The case's side of its sync with Salesforce Case: the status map both ways on a default org's picklist, the map's
checks when it is saved, the one-to-one map docs/cases.md shows, and a change from Salesforce read as the workflow
action it means (or refused as a workflow conflict). Expectations are written out here from docs/cases.md and a
new org's Case Status values (New, Working, Escalated, Closed), not taken from the module's tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sync_core.domain.cases.models import Case
from sync_core.domain.cases.salesforce_case import (
    CaseSalesforceSettings,
    WorkflowConflict,
    case_export_fields,
    case_status_change,
)
from sync_core.domain.cases.salesforce_status_map import (
    SalesforceCaseStatusMap,
    plan_salesforce_status_change,
    salesforce_status_fields,
)
from sync_core.domain.cases.vocabulary import CaseReason
from sync_core.domain.sync.config import validate_sync_config
from sync_core.errors import ValidationFailedError

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DEFAULT_ORG_STATUSES = ["New", "Working", "Escalated", "Closed"]
SF = SalesforceCaseStatusMap()
REASONS = {
    "New": ["Unassigned", "Assigned", "Opened on Portal"],
    "Open": ["Assigned", "In Process", "Updated", "In Escalation", "Pending Closure"],
    "Pending Customer": ["More Info Requested", "Waiting Confirmation", "Pending Closure"],
    "Closed": ["Resolved", "Rejected", "Canceled", "Abandoned", "Duplicate"],
    "Released": ["Resolved", "Rejected", "Canceled", "Abandoned", "Duplicate"],
}

# docs/cases.md, "Salesforce Case": every hub status and reason, and the Case Status it shows on a default org.
OUTBOUND = [
    ("New", "Unassigned", "New"),
    ("New", "Assigned", "New"),
    ("New", "Opened on Portal", "New"),
    ("Open", "Assigned", "Working"),
    ("Open", "In Process", "Working"),
    ("Open", "Updated", "Working"),
    ("Open", "In Escalation", "Escalated"),
    ("Open", "Pending Closure", "Working"),
    ("Pending Customer", "More Info Requested", "Working"),
    ("Pending Customer", "Waiting Confirmation", "Working"),
    ("Pending Customer", "Pending Closure", "Working"),
    *(("Closed", reason, "Closed") for reason in REASONS["Closed"]),
    *(("Released", reason, "Closed") for reason in REASONS["Released"]),
]

# docs/cases.md: each Case Status value set by a Salesforce user, from each hub status: the action (and reason)
# the hub runs, "-" for nothing to do, "reason X" for a reason change within the status, or "conflict".
INBOUND: list[tuple[str, str, str, str]] = [
    # (hub status, hub reason, Salesforce value, what happens)
    ("New", "Unassigned", "New", "-"),
    ("New", "Unassigned", "Working", "open In Process"),
    ("New", "Unassigned", "Escalated", "open In Escalation"),
    ("New", "Unassigned", "Closed", "close Resolved"),
    ("Open", "In Process", "New", "conflict"),
    ("Open", "In Process", "Working", "-"),
    ("Open", "Updated", "Working", "-"),  # Working is where the case is: its reason stays
    ("Open", "In Process", "Escalated", "reason In Escalation"),
    ("Open", "In Escalation", "Working", "reason In Process"),
    ("Open", "In Process", "Closed", "close Resolved"),
    ("Pending Customer", "More Info Requested", "New", "conflict"),
    ("Pending Customer", "More Info Requested", "Working", "-"),
    ("Pending Customer", "More Info Requested", "Escalated", "open In Escalation"),
    ("Pending Customer", "More Info Requested", "Closed", "close Resolved"),
    ("Closed", "Resolved", "New", "conflict"),
    ("Closed", "Resolved", "Working", "open In Process"),
    ("Closed", "Resolved", "Escalated", "open In Escalation"),
    ("Closed", "Resolved", "Closed", "-"),
    ("Released", "Resolved", "New", "conflict"),
    ("Released", "Resolved", "Working", "conflict"),
    ("Released", "Resolved", "Escalated", "conflict"),
    ("Released", "Duplicate", "Closed", "-"),
]


def make_case(status: str, reason: str, **fields: Any) -> Case:
    return Case.model_validate(
        {
            "subject": "Printer jams",
            "class_id": "SUPPORT",
            "status": status,
            "reason": reason,
            "date_reported": NOW,
            "active": status not in ("Closed", "Released"),
            **fields,
        }
    )


def outcome(status: str, reason: str, incoming: str, mapping: SalesforceCaseStatusMap = SF, **extra: Any) -> str:
    settings = CaseSalesforceSettings(status_map=mapping)
    try:
        plan = case_status_change(make_case(status, reason), {"Status": incoming, **extra}, settings).change
    except WorkflowConflict:
        return "conflict"
    if plan.request is not None:
        return f"{plan.request.action.value} {plan.request.reason.value if plan.request.reason else ''}".strip()
    if plan.reason is not None:
        return f"reason {plan.reason.value}"
    return "-"


def test_the_tables_cover_every_status_and_reason_and_every_default_org_value() -> None:
    assert sorted((s, r) for s, r, _ in OUTBOUND) == sorted((s, r) for s, reasons in REASONS.items() for r in reasons)
    assert {value for *_, value in OUTBOUND} == set(DEFAULT_ORG_STATUSES)
    assert {(s, v) for s, _, v, _ in INBOUND} == {(s, v) for s in REASONS for v in DEFAULT_ORG_STATUSES}
    assert SF.picklist == DEFAULT_ORG_STATUSES


@pytest.mark.parametrize(("status", "reason", "salesforce_status"), OUTBOUND)
def test_default_map_outbound(status: str, reason: str, salesforce_status: str) -> None:
    fields = salesforce_status_fields(make_case(status, reason), SF)
    assert fields == {"Status": salesforce_status, "Hub_Status__c": status, "Hub_Status_Reason__c": reason}


@pytest.mark.parametrize(("status", "reason", "incoming", "expected"), INBOUND)
def test_default_map_inbound(status: str, reason: str, incoming: str, expected: str) -> None:
    assert outcome(status, reason, incoming) == expected


@pytest.mark.parametrize(("status", "reason", "salesforce_status"), [row for row in OUTBOUND if row[0] != "Released"])
def test_default_map_round_trip_the_value_the_hub_sends_back_changes_nothing(
    status: str, reason: str, salesforce_status: str
) -> None:
    assert outcome(status, reason, salesforce_status) == "-"


def test_the_export_never_writes_is_closed_or_closed_date_and_maps_the_owner_only_when_configured() -> None:
    settings = CaseSalesforceSettings(owner_map={"alice": "005000000000001AAA"})
    closed = make_case("Closed", "Resolved", owner="alice", closing_date=NOW)
    assert case_export_fields(closed.model_dump(mode="json"), settings) == {
        "Status": "Closed",
        "Hub_Status__c": "Closed",
        "Hub_Status_Reason__c": "Resolved",
        "OwnerId": "005000000000001AAA",
    }
    left = case_export_fields(make_case("Open", "In Process", owner="bob").model_dump(mode="json"), settings)
    assert "OwnerId" not in left  # not in the owner map: the Case keeps its Salesforce owner
    assert not {"IsClosed", "ClosedDate"} & set(left)


# ---------------------------------------------------------------- reasons written in Salesforce


def test_a_reason_written_with_the_status_is_the_reason_the_action_takes() -> None:
    assert outcome("Open", "In Process", "Closed", Hub_Status_Reason__c="Duplicate") == "close Duplicate"


def test_the_reason_field_still_holding_the_hubs_reason_is_not_a_choice() -> None:
    assert outcome("Open", "In Process", "Closed", Hub_Status_Reason__c="In Process") == "close Resolved"


def test_a_reason_the_target_status_does_not_allow_is_a_conflict_naming_the_allowed_actions() -> None:
    with pytest.raises(WorkflowConflict) as refused:
        case_status_change(
            make_case("Open", "In Process"),
            {"Status": "Closed", "Hub_Status_Reason__c": "More Info Requested"},
            CaseSalesforceSettings(),
        )
    conflict = refused.value
    assert conflict.status == "Open"
    assert conflict.attempted == {"Status": "Closed", "Hub_Status_Reason__c": "More Info Requested"}
    assert conflict.allowed_actions == ["close", "pending-customer", "take", "apply-assignment-rules"]
    assert "More Info Requested" in conflict.message and "close" in conflict.message


def test_a_status_no_action_reaches_is_a_conflict_naming_the_status_the_change_and_the_allowed_actions() -> None:
    with pytest.raises(WorkflowConflict) as refused:
        case_status_change(make_case("Released", "Resolved"), {"Status": "Working"}, CaseSalesforceSettings())
    assert refused.value.allowed_actions == []
    assert "Released" in refused.value.message and "'Working'" in refused.value.message
    assert "allowed actions: none" in refused.value.message


def test_an_unknown_status_is_a_conflict() -> None:
    with pytest.raises(WorkflowConflict, match="On Hold"):
        case_status_change(make_case("Open", "In Process"), {"Status": "On Hold"}, CaseSalesforceSettings())


def test_a_change_without_status_is_nothing_for_the_workflow() -> None:
    plan = case_status_change(make_case("Open", "In Process"), {"Subject": "x"}, CaseSalesforceSettings())
    assert plan.change.changes_nothing


def test_salesforces_closed_date_is_the_closing_date() -> None:
    plan = case_status_change(
        make_case("Open", "In Process"),
        {"Status": "Closed", "ClosedDate": "2026-12-01T10:30:00.000+0000"},
        CaseSalesforceSettings(),
    )
    assert plan.closed_at == datetime(2026, 12, 1, 10, 30, tzinfo=UTC)


# ---------------------------------------------------------------- one to one, and the checks when saved

ONE_TO_ONE: dict[str, Any] = {
    "picklist": ["New", "Open", "Pending Customer", "Closed", "Released"],
    "outbound": {s: s for s in ["New", "Open", "Pending Customer", "Closed", "Released"]},
    "outbound_by_reason": {},
    "inbound": {
        "New": {"status": "New", "reason": "Unassigned"},
        "Open": {"status": "Open", "reason": "In Process"},
        "Pending Customer": {"status": "Pending Customer", "reason": "More Info Requested"},
        "Closed": {"status": "Closed", "reason": "Resolved"},
        "Released": {"status": "Released"},
    },
}


@pytest.mark.parametrize(
    ("status", "reason", "incoming", "expected"),
    [
        ("Open", "In Process", "Pending Customer", "pending-customer More Info Requested"),
        ("Pending Customer", "More Info Requested", "Open", "open In Process"),
        ("Closed", "Resolved", "Released", "release"),
        ("Closed", "Resolved", "Pending Customer", "conflict"),
        ("New", "Unassigned", "Released", "conflict"),
        ("Open", "Updated", "Open", "-"),
    ],
)
def test_the_one_to_one_map_of_the_docs(status: str, reason: str, incoming: str, expected: str) -> None:
    mapping = SalesforceCaseStatusMap.model_validate(ONE_TO_ONE)
    assert outcome(status, reason, incoming, mapping) == expected
    for hub_status, reasons in REASONS.items():
        for hub_reason in reasons:
            assert salesforce_status_fields(make_case(hub_status, hub_reason), mapping)["Status"] == hub_status


def test_the_one_to_one_map_is_accepted_in_the_sync_configuration() -> None:
    config = validate_sync_config({"entity": "Case", "case": {"status_map": ONE_TO_ONE}})
    pending = make_case("Pending Customer", "Pending Closure")
    assert salesforce_status_fields(pending, config.case_settings.status_map)["Status"] == "Pending Customer"


@pytest.mark.parametrize(
    ("status_map", "mistake"),
    [
        ({"outbound": {"New": "New", "Open": "Working"}}, "outbound has no Status for Pending Customer"),
        ({"outbound": {**SF.model_dump(mode="json")["outbound"], "Open": "Open"}}, "'Open' is not in the picklist"),
        ({"picklist": [*DEFAULT_ORG_STATUSES, "On Hold"]}, "'On Hold' maps to no hub status"),
        (
            {
                "inbound": {
                    **SF.model_dump(mode="json")["inbound"],
                    "Working": {"status": "Pending Customer", "reason": "In Process"},
                }
            },
            "cannot have reason In Process",
        ),
        (
            {"inbound": {**SF.model_dump(mode="json")["inbound"], "Working": {"status": "Open"}}},
            "needs a reason",
        ),
        ({"outbound_by_reason": {"Duplicate": "Closed"}}, "Duplicate is a closing reason"),
        (
            {
                "inbound": {
                    **SF.model_dump(mode="json")["inbound"],
                    "Escalated": {"status": "Open", "reason": "Updated"},
                }
            },
            "goes back out as 'Working'",
        ),
        (
            {
                "inbound": {
                    **SF.model_dump(mode="json")["inbound"],
                    "Closed": {"status": "Released", "reason": "Resolved"},
                }
            },
            "Released keeps the closing reason",
        ),
    ],
)
def test_a_map_the_workflow_cannot_follow_is_refused_when_saved(status_map: dict[str, Any], mistake: str) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        validate_sync_config({"entity": "Case", "case": {"status_map": status_map}})
    errors = refused.value.details["errors"]
    assert errors[0]["field"] == "case.status_map"
    assert mistake in errors[0]["reason"]


def test_case_settings_belong_to_the_case_entity_only() -> None:
    with pytest.raises(ValidationFailedError) as refused:
        validate_sync_config({"entity": "Account", "case": {}})
    assert refused.value.details["errors"] == [
        {"field": "case", "reason": "only the Case entity takes case settings, not Account"}
    ]


def test_two_hub_users_cannot_be_one_salesforce_user() -> None:
    with pytest.raises(ValidationFailedError, match="invalid sync configuration"):
        validate_sync_config(
            {"entity": "Case", "case": {"owner_map": {"alice": "005000000000001AAA", "bob": "005000000000001AAA"}}}
        )


def test_the_plan_refuses_an_unmapped_value_with_a_validation_error() -> None:
    with pytest.raises(ValidationFailedError):
        plan_salesforce_status_change(make_case("Open", "In Process"), salesforce_status="On Hold", mapping=SF)
    assert CaseReason.IN_ESCALATION in SF.outbound_by_reason
