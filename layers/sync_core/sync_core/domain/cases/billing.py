"""Billing rules of the Cases form (seed: Billing Section) and the case's billable time."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sync_core.domain.cases.models import ActivityTotals, Case, RoundingBasis, validated_case
from sync_core.domain.cases.settings import CaseClass
from sync_core.domain.cases.vocabulary import BillingMode
from sync_core.errors import ValidationFailedError


class ManualOverrideRule(StrEnum):
    NEVER = "cannot be selected"
    WHEN_CASE_BILLABLE = "can be selected if the case is Billable"
    ALWAYS = "can be selected"


@dataclass(frozen=True)
class BillingRule:
    billable_default: bool
    billable_can_change: bool
    manual_override: ManualOverrideRule


# (class Billable, class Enable Billable Option Override) -> what the case's Billable and Manual Override may be.
BILLING_RULES: Mapping[tuple[bool, bool], BillingRule] = {
    (False, False): BillingRule(False, billable_can_change=False, manual_override=ManualOverrideRule.NEVER),
    (False, True): BillingRule(False, billable_can_change=True, manual_override=ManualOverrideRule.WHEN_CASE_BILLABLE),
    (True, False): BillingRule(True, billable_can_change=False, manual_override=ManualOverrideRule.ALWAYS),
    (True, True): BillingRule(True, billable_can_change=True, manual_override=ManualOverrideRule.ALWAYS),
}


def billing_rule(case_class: CaseClass) -> BillingRule:
    return BILLING_RULES[(case_class.billable, case_class.allow_billable_override)]


def check_billing(case_class: CaseClass, *, billable: bool, manual_override: bool) -> None:
    """Refuse a Billable or Manual Override the class does not let the case have."""
    rule = billing_rule(case_class)
    if billable != rule.billable_default and not rule.billable_can_change:
        raise ValidationFailedError(
            f"class {case_class.class_id} makes cases {'billable' if rule.billable_default else 'not billable'}"
            " and does not allow overriding it",
            field="billable",
        )
    if manual_override and (
        rule.manual_override is ManualOverrideRule.NEVER
        or (rule.manual_override is ManualOverrideRule.WHEN_CASE_BILLABLE and not billable)
    ):
        raise ValidationFailedError(
            f"Manual Override {rule.manual_override.value} for class {case_class.class_id}", field="manual_override"
        )


def round_billable_minutes(minutes: int, case_class: CaseClass, *, apply_minimum: bool = True) -> int:
    """Round up to the class's step, then raise to its minimum billable time (zero stays zero)."""
    if minutes <= 0:
        return 0
    step = case_class.round_time_minutes
    rounded = math.ceil(minutes / step) * step if step else minutes
    return max(rounded, case_class.min_billable_minutes) if apply_minimum else rounded


def rounding_basis(case_class: CaseClass) -> RoundingBasis:
    return RoundingBasis(
        round_time_minutes=case_class.round_time_minutes, min_billable_minutes=case_class.min_billable_minutes
    )


def per_activity_sums_valid(totals: ActivityTotals, case_class: CaseClass) -> bool:
    """Whether the per-activity sums were taken with this class's rounding (no billable time: any rounding)."""
    no_billable_time = totals.billable_minutes == 0 and totals.billable_overtime_minutes == 0
    return no_billable_time or totals.rounded_with == rounding_basis(case_class)


def needs_rebasing(case: Case, case_class: CaseClass) -> bool:
    """Per Activity billing needs sums taken with the class's rounding; after a class edit they are taken again."""
    return case_class.billing_mode is BillingMode.PER_ACTIVITY and not per_activity_sums_valid(
        case.activity_totals, case_class
    )


def computed_billable_time(totals: ActivityTotals, case_class: CaseClass) -> tuple[int, int]:
    """Billable time and overtime from the billable activities, by the class's billing mode.

    Per Case rounds the totals; Per Activity rounds each activity. The minimum applies to work time only.
    """
    if case_class.billing_mode is BillingMode.PER_ACTIVITY:
        if not per_activity_sums_valid(totals, case_class):
            # The service takes the sums again first (needs_rebasing); reaching here is a bug, not bad input.
            raise RuntimeError("per-activity billable sums were taken with another class rounding")
        return totals.rounded_billable_minutes, totals.rounded_billable_overtime_minutes
    return (
        round_billable_minutes(totals.billable_minutes, case_class),
        round_billable_minutes(totals.billable_overtime_minutes, case_class, apply_minimum=False),
    )


def with_billable_time(data: dict[str, Any], case_class: CaseClass) -> dict[str, Any]:
    """The case's billable time from its activity totals, unless set by hand (Manual Override) or not billable."""
    case = validated_case(data)
    if not case.billable:
        data["billable_minutes"], data["billable_overtime_minutes"] = 0, 0
    elif not case.manual_override:
        data["billable_minutes"], data["billable_overtime_minutes"] = computed_billable_time(
            case.activity_totals, case_class
        )
    return data
