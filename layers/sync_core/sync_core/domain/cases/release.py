"""Release: a contract case records contract usage; a standalone billable case gets an AR invoice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sync_core.domain.cases.activities import Activity
from sync_core.domain.cases.billing import round_billable_minutes
from sync_core.domain.cases.models import Case, ContractUsage, Invoice, InvoiceLine
from sync_core.domain.cases.settings import CaseClass, Contract
from sync_core.domain.cases.vocabulary import BillingMode
from sync_core.errors import ValidationFailedError

# An invoice is one item: Per Activity billing of more billable activities than this is refused at release
# (a line is at most about 320 bytes; DynamoDB items stop at 400 KB). Per Case billing has two lines at most.
MAX_INVOICE_LINES = 1000


def bills_per_activity(case: Case, case_class: CaseClass) -> bool:
    """Whether releasing the case bills each billable activity on its own line (so it needs them all)."""
    return (
        case.contract_id is None
        and case.billable
        and case_class.billing_mode is BillingMode.PER_ACTIVITY
        and not case.manual_override
    )


def release_records(
    case: Case,
    *,
    case_id: str,
    now: datetime,
    case_class: CaseClass,
    contract: Contract | None,
    billable_activities: Sequence[Activity],
) -> tuple[Invoice | None, ContractUsage | None]:
    """What releasing the case creates: contract usage for a contract case, an invoice for a billable one.

    `billable_activities` are the case's billable activities in logging order, needed when it bills per
    activity (bills_per_activity); otherwise the case's billable totals are billed.
    """
    if case.contract_id is not None:
        if contract is None or contract.contract_id != case.contract_id:
            raise ValidationFailedError(f"contract {case.contract_id} does not exist", field="contract_id")
        if not contract.active:
            raise ValidationFailedError(f"contract {contract.contract_id} is not active", field="contract_id")
        usage = ContractUsage(
            contract_id=contract.contract_id,
            case_id=case_id,
            account_id=contract.account_id,
            usage_date=now,
            billable_minutes=case.billable_minutes,
            billable_overtime_minutes=case.billable_overtime_minutes,
            description=f"Case {case_id}: {case.subject}"[:255],
        )
        return None, usage
    if not case.billable:
        return None, None
    if case.account_id is None:
        raise ValidationFailedError("a billable case needs a business account to invoice", field="account_id")
    lines = _invoice_lines(case, case_class, case_id=case_id, billable_activities=billable_activities)
    invoice = Invoice(
        case_id=case_id,
        account_id=case.account_id,
        contact_id=case.contact_id,
        invoice_date=now,
        currency=case_class.currency,
        description=f"Case {case_id}: {case.subject}"[:255],
        lines=lines,
        total=sum((line.amount for line in lines), Decimal(0)),
    )
    return invoice, None


def _invoice_lines(
    case: Case, case_class: CaseClass, *, case_id: str, billable_activities: Sequence[Activity]
) -> list[InvoiceLine]:
    """Per Activity bills each billable activity; Per Case (or time set by hand) bills the case's totals."""
    if case_class.billing_mode is BillingMode.PER_ACTIVITY and not case.manual_override:
        work = [
            (f"{a.type.value} #{a.number}: {a.summary}", round_billable_minutes(a.billable_minutes, case_class))
            for a in billable_activities
        ]
        overtime = [
            (
                f"Overtime, {a.type.value} #{a.number}: {a.summary}",
                round_billable_minutes(a.billable_overtime_minutes, case_class, apply_minimum=False),
            )
            for a in billable_activities
        ]
    else:
        work = [(f"Case {case_id}: labor", case.billable_minutes)]
        overtime = [(f"Case {case_id}: overtime", case.billable_overtime_minutes)]
    lines = [
        _line(text, minutes, rate)
        for entries, rate in ((work, case_class.labor_rate), (overtime, case_class.overtime_rate))
        for text, minutes in entries
        if minutes > 0
    ]
    if len(lines) > MAX_INVOICE_LINES:
        raise ValidationFailedError(
            f"a Per Activity invoice of this case would have {len(lines)} lines, more than the"
            f" {MAX_INVOICE_LINES} an invoice holds: set its billable time by hand (Manual Override) to bill the"
            " case's total, or use a Per Case class",
            field="action",
        )
    return lines


def _line(description: str, minutes: int, rate: Decimal) -> InvoiceLine:
    hours = (Decimal(minutes) / 60).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    amount = (Decimal(minutes) * rate / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return InvoiceLine(description=description[:255], hours=hours, unit_price=rate, amount=amount)
