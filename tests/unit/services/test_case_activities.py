"""Activities as items of their own: the running totals, billing and invoices equal what the case computed when it
held the whole list, concurrent activities are all kept, and the bounds on what a case holds are refused."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from sync_core.domain.cases.activities import Activity, ActivityInput
from sync_core.domain.cases.models import MAX_RELATED_CASES, Case, CaseCreate, CaseUpdate, RelatedCase
from sync_core.domain.cases.release import MAX_INVOICE_LINES
from sync_core.domain.cases.settings import CASE_CLASSES, CaseClass
from sync_core.domain.cases.transitions import TransitionRequest
from sync_core.domain.cases.vocabulary import ActivityDirection, BillingMode
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.errors import StaleVersionError, ValidationFailedError
from sync_core.services.cases import CaseServices, case_services
from sync_core.services.sync_writer import SyncWriter
from tests.fakes.cases import (
    InMemoryCaseActivityStore,
    InMemoryCaseSettingsStore,
    InMemoryRecordFinder,
)
from tests.fakes.records import InMemoryRecordStore, InMemorySequenceStore, SteppingClock

START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SUPPORT = CaseClass(
    class_id="SUPPORT",
    billable=True,
    allow_billable_override=True,
    billing_mode=BillingMode.PER_ACTIVITY,
    round_time_minutes=15,
    min_billable_minutes=30,
    labor_rate=Decimal(90),
    overtime_rate=Decimal(135),
)


class Hub:
    def __init__(self) -> None:
        self.store = InMemoryRecordStore()
        self.settings = InMemoryCaseSettingsStore()
        self.activities = InMemoryCaseActivityStore(self.store)
        self.services: CaseServices = case_services(
            records=self.store,
            finder=InMemoryRecordFinder(self.store),
            writer=SyncWriter(self.store, SteppingClock(START)),
            settings=self.settings,
            activities=self.activities,
            sequences=InMemorySequenceStore(),
            clock=SteppingClock(START),
        )
        self.settings.put(CASE_CLASSES, SUPPORT)
        self.store.records[(EntityName.ACCOUNT, "ACC-000001")] = HubRecord(
            entity=EntityName.ACCOUNT,
            id="ACC-000001",
            version=1,
            fields={"name": "Acme"},
            created_at=START,
            updated_at=START,
            updated_by="u",
        )

    def new_case(self) -> str:
        draft = CaseCreate(subject="Printer jams", class_id="SUPPORT", account_id="ACC-000001")
        return self.services.cases.create_case(draft, actor="alice").id

    def log(self, case_id: str, expected_version: int | None = None, **fields: Any) -> Activity:
        activity = ActivityInput.model_validate({"type": "Work Item", "summary": "Work", **fields})
        _, logged = self.services.activities.add_activity(
            case_id, activity, actor="alice", expected_version=expected_version
        )
        return logged

    def case(self, case_id: str) -> Case:
        return self.services.cases.get_case(case_id).fields


# ---------------------------------------------------------------- the old embedded computation, as a reference


def rounded(minutes: int, case_class: CaseClass, *, apply_minimum: bool = True) -> int:
    if minutes <= 0:
        return 0
    step = case_class.round_time_minutes
    value = -(-minutes // step) * step if step else minutes
    return max(value, case_class.min_billable_minutes) if apply_minimum else value


def embedded_totals(case: Case, activities: list[Activity], case_class: CaseClass) -> dict[str, Any]:
    """What the case's totals were when it held every activity and computed them from the list on each write."""
    outgoing = [a.start_date for a in activities if a.direction is ActivityDirection.OUTGOING]
    billable = [a for a in activities if a.billable]
    if not case.billable:
        minutes, overtime = 0, 0
    elif case.manual_override:
        minutes, overtime = case.billable_minutes, case.billable_overtime_minutes
    elif case_class.billing_mode is BillingMode.PER_ACTIVITY:
        minutes = sum(rounded(a.billable_minutes, case_class) for a in billable)
        overtime = sum(rounded(a.billable_overtime_minutes, case_class, apply_minimum=False) for a in billable)
    else:
        minutes = rounded(sum(a.billable_minutes for a in billable), case_class)
        overtime = rounded(sum(a.billable_overtime_minutes for a in billable), case_class, apply_minimum=False)
    first = min(outgoing, default=None)
    return {
        "time_spent_minutes": sum(a.time_spent_minutes for a in activities),
        "overtime_minutes": sum(a.overtime_minutes for a in activities),
        "last_activity_date": max(
            (a.start_date for a in activities if a.direction is not ActivityDirection.INTERNAL), default=None
        ),
        "last_incoming_activity_date": max(
            (a.start_date for a in activities if a.direction is ActivityDirection.INCOMING), default=None
        ),
        "last_outgoing_activity_date": max(outgoing, default=None),
        "initial_response_minutes": None
        if first is None
        else max(0, int((first - case.date_reported).total_seconds() // 60)),
        "billable_minutes": minutes,
        "billable_overtime_minutes": overtime,
    }


def embedded_invoice_lines(case_id: str, case: Case, activities: list[Activity], case_class: CaseClass) -> list[Any]:
    if case_class.billing_mode is BillingMode.PER_ACTIVITY and not case.manual_override:
        billable = [a for a in activities if a.billable]
        work = [(f"{a.type.value} #{a.number}: {a.summary}", rounded(a.billable_minutes, case_class)) for a in billable]
        overtime = [
            (
                f"Overtime, {a.type.value} #{a.number}: {a.summary}",
                rounded(a.billable_overtime_minutes, case_class, apply_minimum=False),
            )
            for a in billable
        ]
    else:
        work = [(f"Case {case_id}: labor", case.billable_minutes)]
        overtime = [(f"Case {case_id}: overtime", case.billable_overtime_minutes)]
    cent, tenth = Decimal("0.01"), Decimal("0.0001")
    return [
        (text, (Decimal(m) / 60).quantize(tenth, ROUND_HALF_UP), (Decimal(m) * rate / 60).quantize(cent, ROUND_HALF_UP))
        for entries, rate in ((work, case_class.labor_rate), (overtime, case_class.overtime_rate))
        for text, m in entries
        if m > 0
    ]


def observed(case: Case) -> dict[str, Any]:
    return {name: getattr(case, name) for name in embedded_totals(case, [], SUPPORT)}


@pytest.mark.parametrize("seed", range(12))
def test_totals_billing_and_invoice_equal_the_old_embedded_computation(seed: int) -> None:
    # Given a case taking random activities, with its class re-rounded and re-moded and its Billable toggled
    rng = random.Random(seed)
    hub = Hub()
    case_id = hub.new_case()
    case_class = SUPPORT
    for _ in range(60):
        step = rng.random()
        if step < 0.15:  # an administrator edits the class: later writes bill with the new rounding and mode
            case_class = case_class.model_copy(
                update={
                    "round_time_minutes": rng.choice([0, 5, 15, 30]),
                    "min_billable_minutes": rng.choice([0, 10, 30, 60]),
                    "billing_mode": rng.choice(list(BillingMode)),
                }
            )
            hub.services.settings.put(CASE_CLASSES, case_class)
            continue
        if step < 0.25:
            hub.services.cases.update_case(
                case_id, CaseUpdate(billable=not hub.case(case_id).billable), actor="bob", expected_version=None
            )
        else:
            direction = rng.choice(["Incoming", "Outgoing", "Internal", None])
            kind = "Email" if direction in ("Incoming", "Outgoing") and rng.random() < 0.5 else "Work Item"
            billable = rng.choice([None, True, False])
            hub.log(
                case_id,
                type=kind,
                direction=direction,
                billable=billable,
                time_spent_minutes=rng.randrange(0, 130),
                overtime_minutes=rng.choice([0, 0, rng.randrange(1, 40)]),
                start_date=(START + timedelta(minutes=rng.randrange(-600, 6000))).isoformat(),
            )
        # Then after every write the case's totals are what the embedded list gave
        case = hub.case(case_id)
        assert observed(case) == embedded_totals(case, hub.activities.activities.get(case_id, []), case_class)
    # And releasing it bills the same invoice
    case = hub.case(case_id)
    if not case.billable:
        hub.services.cases.update_case(case_id, CaseUpdate(billable=True), actor="bob", expected_version=None)
    close = TransitionRequest.model_validate({"action": "close", "reason": "Resolved"})
    hub.services.workflow.transition(case_id, close, actor="alice", expected_version=None)
    release = TransitionRequest.model_validate({"action": "release"})
    released = hub.services.workflow.transition(case_id, release, actor="alice", expected_version=None).fields
    activities = hub.activities.activities[case_id]
    expected_lines = embedded_invoice_lines(case_id, released, activities, case_class)
    if expected_lines:
        invoice = hub.services.workflow.invoice(case_id).fields
        assert [(line.description, line.hours, line.amount) for line in invoice.lines] == expected_lines
        assert invoice.total == sum((amount for _, _, amount in expected_lines), Decimal(0))
    else:
        assert released.invoice_id is None or hub.services.workflow.invoice(case_id).fields.lines == []


def test_a_class_rounding_change_takes_the_per_activity_sums_again_from_the_stored_activities() -> None:
    hub = Hub()
    case_id = hub.new_case()
    for minutes in (10, 40, 50):
        hub.log(case_id, time_spent_minutes=minutes)
    assert hub.case(case_id).billable_minutes == 30 + 45 + 60  # each rounded to 15, raised to 30
    hub.services.settings.put(CASE_CLASSES, SUPPORT.model_copy(update={"round_time_minutes": 60}))
    hub.log(case_id, time_spent_minutes=5)
    assert hub.case(case_id).billable_minutes == 60 + 60 + 60 + 60
    assert hub.case(case_id).activity_totals.count == 4


# ---------------------------------------------------------------- concurrency


def test_concurrent_activities_without_if_match_are_all_kept() -> None:
    # Given a case, and eight writers logging ten activities each at the same time
    hub = Hub()
    case_id = hub.new_case()
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for _ in range(10):
                hub.log(case_id, time_spent_minutes=1, owner=name)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"agent{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every activity is kept, numbered once each, and the totals count them all
    assert errors == []
    kept = hub.activities.activities[case_id]
    assert sorted(a.number for a in kept) == list(range(1, 81))
    case_record = hub.services.cases.get_case(case_id)
    assert (case_record.version, case_record.fields.time_spent_minutes) == (81, 80)
    assert case_record.fields.activity_totals.count == 80


def test_an_activity_with_a_stale_if_match_is_refused_and_not_retried() -> None:
    hub = Hub()
    case_id = hub.new_case()
    hub.log(case_id, expected_version=1)
    with pytest.raises(StaleVersionError) as refused:
        hub.log(case_id, expected_version=1)
    assert (refused.value.expected, refused.value.current) == (1, 2)
    assert len(hub.activities.activities[case_id]) == 1


def test_a_lost_race_without_if_match_is_tried_again_on_the_case_as_it_now_is() -> None:
    # Given another writer that logs an activity between this write's read and its transaction
    hub = Hub()
    case_id = hub.new_case()
    original_append = hub.activities.append
    raced: list[bool] = []

    def append_after_a_rival(case: HubRecord, *args: Any, **kwargs: Any) -> None:
        if not raced:
            raced.append(True)
            hub.log(case_id, summary="Rival", time_spent_minutes=7)
        original_append(case, *args, **kwargs)

    hub.activities.append = append_after_a_rival  # type: ignore[method-assign]
    # When
    mine = hub.log(case_id, summary="Mine", time_spent_minutes=5)
    # Then both are kept, the rival first
    assert [(a.number, a.summary) for a in hub.activities.activities[case_id]] == [(1, "Rival"), (2, "Mine")]
    assert mine.number == 2
    assert hub.case(case_id).time_spent_minutes == 12


# ---------------------------------------------------------------- bounds


def test_a_per_activity_invoice_longer_than_an_invoice_holds_is_refused_with_422() -> None:
    hub = Hub()
    case_id = hub.new_case()
    for _ in range(MAX_INVOICE_LINES + 1):
        hub.log(case_id, time_spent_minutes=10)
    hub.services.workflow.transition(
        case_id,
        TransitionRequest.model_validate({"action": "close", "reason": "Resolved"}),
        actor="a",
        expected_version=None,
    )
    with pytest.raises(ValidationFailedError, match="Manual Override") as refused:
        hub.services.workflow.transition(
            case_id, TransitionRequest.model_validate({"action": "release"}), actor="a", expected_version=None
        )
    assert refused.value.field == "action"
    assert hub.case(case_id).status.value == "Closed"


def test_related_cases_are_bounded() -> None:
    hub = Hub()
    case_id = hub.new_case()
    others = [hub.new_case() for _ in range(MAX_RELATED_CASES + 1)]
    for other in others[:MAX_RELATED_CASES]:
        link = RelatedCase.model_validate({"case_id": other, "relation": "Related"})
        hub.services.related.relate_case(case_id, link, actor="a", expected_version=None)
    # Changing an existing link's relation is still allowed at the bound; a new link is not.
    relink = RelatedCase.model_validate({"case_id": others[0], "relation": "Blocks"})
    hub.services.related.relate_case(case_id, relink, actor="a", expected_version=None)
    extra = RelatedCase.model_validate({"case_id": others[-1], "relation": "Related"})
    with pytest.raises(ValidationFailedError, match=f"at most {MAX_RELATED_CASES}"):
        hub.services.related.relate_case(case_id, extra, actor="a", expected_version=None)
    assert len(hub.case(case_id).related_cases) == MAX_RELATED_CASES
