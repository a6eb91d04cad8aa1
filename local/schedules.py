"""EventBridge schedule expressions: rate(...) and the six-field cron(...), with the next time each fires."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {name: index for index, name in enumerate(_MONTH_NAMES, 1)}
_DAYS = {name: index for index, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleExpressionError(ValueError):
    """An expression the local stack cannot run (it says which part)."""


@dataclass(frozen=True)
class Schedule:
    expression: str
    period: timedelta | None = None
    fields: tuple[frozenset[int], ...] | None = None  # minute, hour, day of month, month, day of week, year
    any_day_of_month: bool = False
    any_day_of_week: bool = False

    def next_after(self, moment: datetime) -> datetime:
        """The first time after `moment` (UTC) at which the schedule fires."""
        if self.period is not None:
            return moment + self.period
        assert self.fields is not None
        minutes, hours, days, months, weekdays, years = self.fields
        candidate = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = candidate + timedelta(days=366 * 5)
        while candidate < limit:
            if candidate.year not in years or candidate.month not in months:
                candidate = (candidate.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            weekday = candidate.isoweekday() % 7 + 1  # EventBridge: 1 = Sunday
            day_ok = (self.any_day_of_month or candidate.day in days) and (self.any_day_of_week or weekday in weekdays)
            if not day_ok:
                candidate = candidate.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if candidate.hour not in hours:
                candidate = candidate.replace(minute=0) + timedelta(hours=1)
                continue
            if candidate.minute in minutes:
                return candidate
            candidate += timedelta(minutes=1)
        raise ScheduleExpressionError(f"{self.expression} never fires in the next five years")


def parse_schedule(expression: str) -> Schedule:
    expression = expression.strip()
    rate = _RATE.match(expression)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if amount < 1:
            raise ScheduleExpressionError(f"{expression}: the rate must be at least 1")
        return Schedule(expression, period=timedelta(seconds=amount * _UNIT_SECONDS[unit]))
    cron = _CRON.match(expression)
    if not cron:
        raise ScheduleExpressionError(f"{expression}: expected rate(n unit) or cron(min hour dom month dow year)")
    parts = cron.group(1).split()
    if len(parts) != 6:
        raise ScheduleExpressionError(f"{expression}: cron takes six fields, got {len(parts)}")
    minute, hour, day, month, weekday, year = parts
    if (day == "?") == (weekday == "?"):
        raise ScheduleExpressionError(f"{expression}: exactly one of day-of-month and day-of-week must be ?")
    return Schedule(
        expression,
        fields=(
            _field(minute, 0, 59, {}),
            _field(hour, 0, 23, {}),
            _field(day, 1, 31, {}),
            _field(month, 1, 12, _MONTHS),
            _field(weekday, 1, 7, _DAYS),
            _field(year, 1970, 2199, {}),
        ),
        any_day_of_month=day == "?",
        any_day_of_week=weekday == "?",
    )


def _field(text: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    if text in ("*", "?"):
        return frozenset(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", ""):
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(base, names)
            end = high if step_text else start
        if not low <= start <= end <= high or step < 1:
            raise ScheduleExpressionError(f"cron field {text!r}: values must lie in {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int]) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not upper.isdigit():
        raise ScheduleExpressionError(f"cron value {text!r} is not supported locally (L, W and # are not)")
    return int(upper)
