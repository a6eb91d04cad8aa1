"""Activities of a case (Create Email, Create Note, ...): unbounded history, stored as items of their own.

Logging an activity gives the activity (numbered after the case's last one) and the case with its running
totals moved on; the service writes both in one transaction, conditional on the case's version. The case never
holds the list, so a case can have thousands of activities, each up to a 32,000-character description.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import AwareDatetime, Field, model_validator

from sync_core.domain.cases.billing import (
    per_activity_sums_valid,
    round_billable_minutes,
    rounding_basis,
    with_billable_time,
)
from sync_core.domain.cases.models import ActivityTotals, Case, validated_case
from sync_core.domain.cases.settings import CaseClass
from sync_core.domain.cases.vocabulary import (
    ActivityDirection,
    ActivityStatus,
    ActivityType,
    CaseReason,
    CaseStatus,
    Minutes,
    SettingId,
    StrictModel,
    UserId,
)
from sync_core.domain.cases.workflow import reopened
from sync_core.domain.entities import LongText, ShortText
from sync_core.errors import ValidationFailedError


class ActivityInput(StrictModel):
    """An activity to log on a case (Create Email, Create Note, Create Phone Call, ...)."""

    type: ActivityType
    summary: ShortText
    direction: ActivityDirection | None = Field(
        default=None, description="Default: Outgoing for an Email, Internal otherwise; an Email is never Internal"
    )
    status: ActivityStatus = ActivityStatus.COMPLETED
    start_date: AwareDatetime | None = Field(default=None, description="Default: now")
    billable: bool | None = Field(default=None, description="Default: the case's Billable")
    time_spent_minutes: Minutes = 0
    overtime_minutes: Minutes = 0
    billable_minutes: Minutes | None = Field(default=None, description="Default: time spent when billable")
    billable_overtime_minutes: Minutes | None = Field(default=None, description="Default: overtime when billable")
    owner: UserId | None = Field(default=None, description="Default: the caller")
    workgroup_id: SettingId | None = Field(default=None, description="Default: the case's workgroup")
    description: LongText | None = None

    @model_validator(mode="after")
    def _email_is_incoming_or_outgoing(self) -> ActivityInput:
        # "Email activities ... are marked by default as either incoming or outgoing."
        if self.type is ActivityType.EMAIL and self.direction is ActivityDirection.INTERNAL:
            raise ValueError("an Email activity is Incoming or Outgoing")
        return self


class Activity(StrictModel):
    number: int = Field(ge=1)
    type: ActivityType
    summary: ShortText
    direction: ActivityDirection
    status: ActivityStatus
    start_date: AwareDatetime
    created_at: AwareDatetime
    created_by: UserId
    owner: UserId | None = None
    workgroup_id: SettingId | None = None
    billable: bool
    time_spent_minutes: Minutes = 0
    overtime_minutes: Minutes = 0
    billable_minutes: Minutes = 0
    billable_overtime_minutes: Minutes = 0
    description: LongText | None = None

    @property
    def counts_for_last_activity(self) -> bool:
        # Activities whose type has both Incoming and Outgoing cleared do not move Last Activity Date.
        return self.direction is not ActivityDirection.INTERNAL


def log_activity(
    case: Case, activity: ActivityInput, *, case_class: CaseClass, actor: str, now: datetime
) -> tuple[Case, Activity]:
    """Log an activity: totals and last activity dates follow, and an incoming email reopens the case.

    "If the case has been reopened by an incoming email, this status can also be assigned to the case
    along with the Updated reason": an incoming Email on a Pending Customer or Closed case (the statuses
    Open is available from, New aside) makes it Open / Updated.
    """
    if case.status is CaseStatus.RELEASED:
        raise ValidationFailedError("a released case takes no new activities: its billing is done", field="case")
    billable = case.billable if activity.billable is None else activity.billable
    direction = activity.direction or (
        ActivityDirection.OUTGOING if activity.type is ActivityType.EMAIL else ActivityDirection.INTERNAL
    )
    if not billable and (activity.billable_minutes or activity.billable_overtime_minutes):
        raise ValidationFailedError("a non-billable activity has no billable time", field="billable_minutes")
    logged = Activity(
        number=case.activity_totals.count + 1,
        type=activity.type,
        summary=activity.summary,
        direction=direction,
        status=activity.status,
        start_date=activity.start_date or now,
        created_at=now,
        created_by=actor,
        owner=activity.owner or actor,
        workgroup_id=activity.workgroup_id or case.workgroup_id,
        billable=billable,
        time_spent_minutes=activity.time_spent_minutes,
        overtime_minutes=activity.overtime_minutes,
        billable_minutes=_default(activity.billable_minutes, activity.time_spent_minutes if billable else 0),
        billable_overtime_minutes=_default(
            activity.billable_overtime_minutes, activity.overtime_minutes if billable else 0
        ),
        description=activity.description,
    )
    data = {**case.model_dump(), **_case_totals_with(case, logged, case_class)}
    reopens = (
        logged.type is ActivityType.EMAIL
        and logged.direction is ActivityDirection.INCOMING
        and case.status in (CaseStatus.PENDING_CUSTOMER, CaseStatus.CLOSED)
    )
    if reopens:
        data.update(reopened(CaseReason.UPDATED))
    return validated_case(with_billable_time(data, case_class)), logged


def _default(value: int | None, fallback: int) -> int:
    return fallback if value is None else value


def _case_totals_with(case: Case, activity: Activity, case_class: CaseClass) -> dict[str, object]:
    """Time spent, overtime, last activity dates and Init. Response with one more activity (sums, max, min)."""
    totals = _totals_with(case.activity_totals, activity, case_class)
    changed: dict[str, object] = {
        "activity_totals": totals.model_dump(),
        "time_spent_minutes": case.time_spent_minutes + activity.time_spent_minutes,
        "overtime_minutes": case.overtime_minutes + activity.overtime_minutes,
    }
    start = activity.start_date
    if activity.counts_for_last_activity:
        changed["last_activity_date"] = _later(case.last_activity_date, start)
    if activity.direction is ActivityDirection.INCOMING:
        changed["last_incoming_activity_date"] = _later(case.last_incoming_activity_date, start)
    if activity.direction is ActivityDirection.OUTGOING:
        changed["last_outgoing_activity_date"] = _later(case.last_outgoing_activity_date, start)
        first = totals.first_outgoing_activity_date
        if first is not None:
            changed["initial_response_minutes"] = max(0, int((first - case.date_reported).total_seconds() // 60))
    return changed


def _later(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


def _totals_with(totals: ActivityTotals, activity: Activity, case_class: CaseClass) -> ActivityTotals:
    first = totals.first_outgoing_activity_date
    if activity.direction is ActivityDirection.OUTGOING and (first is None or activity.start_date < first):
        first = activity.start_date
    billable_minutes = totals.billable_minutes + activity.billable_minutes
    billable_overtime = totals.billable_overtime_minutes + activity.billable_overtime_minutes
    if per_activity_sums_valid(totals, case_class):
        rounded = {
            "rounded_with": rounding_basis(case_class),
            "rounded_billable_minutes": totals.rounded_billable_minutes
            + round_billable_minutes(activity.billable_minutes, case_class),
            "rounded_billable_overtime_minutes": totals.rounded_billable_overtime_minutes
            + round_billable_minutes(activity.billable_overtime_minutes, case_class, apply_minimum=False),
        }
    else:  # taken with another class's rounding: left as they are, taken again when Per Activity needs them
        rounded = {}
    return totals.model_copy(
        update={
            "count": totals.count + 1,
            "first_outgoing_activity_date": first,
            "billable_minutes": billable_minutes,
            "billable_overtime_minutes": billable_overtime,
            **rounded,
        }
    )


def rebased_totals(totals: ActivityTotals, billable: Iterable[Activity], case_class: CaseClass) -> ActivityTotals:
    """The per-activity sums taken again with the class's rounding, from every billable activity of the case."""
    minutes, overtime = 0, 0
    for activity in billable:
        minutes += round_billable_minutes(activity.billable_minutes, case_class)
        overtime += round_billable_minutes(activity.billable_overtime_minutes, case_class, apply_minimum=False)
    return totals.model_copy(
        update={
            "rounded_with": rounding_basis(case_class),
            "rounded_billable_minutes": minutes,
            "rounded_billable_overtime_minutes": overtime,
        }
    )
