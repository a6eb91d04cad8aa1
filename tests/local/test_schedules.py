"""Schedule expressions: when rate and cron schedules fire next, and the expressions refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from local.schedules import ScheduleExpressionError, parse_schedule

NOW = datetime(2026, 11, 23, 10, 17, 30, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(5 minutes)", datetime(2026, 11, 23, 10, 22, 30, tzinfo=UTC)),
        ("rate(1 hour)", datetime(2026, 11, 23, 11, 17, 30, tzinfo=UTC)),
        ("rate(2 days)", datetime(2026, 11, 25, 10, 17, 30, tzinfo=UTC)),
        ("cron(0/15 * * * ? *)", datetime(2026, 11, 23, 10, 30, tzinfo=UTC)),
        ("cron(0 2 * * ? *)", datetime(2026, 11, 24, 2, 0, tzinfo=UTC)),
        ("cron(30 18 ? * MON-FRI *)", datetime(2026, 11, 23, 18, 30, tzinfo=UTC)),
        ("cron(0 6 ? * SUN *)", datetime(2026, 11, 29, 6, 0, tzinfo=UTC)),
        ("cron(0 6 ? * 1 *)", datetime(2026, 11, 29, 6, 0, tzinfo=UTC)),
        ("cron(0 0 1 JAN,JUL ? *)", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("cron(15 10 23 11 ? 2027)", datetime(2027, 11, 23, 10, 15, tzinfo=UTC)),
        ("cron(5,20 10 * * ? *)", datetime(2026, 11, 23, 10, 20, tzinfo=UTC)),
    ],
)
def test_next_run(expression: str, expected: datetime) -> None:
    assert parse_schedule(expression).next_after(NOW) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "rate(5 weeks)",
        "every 5 minutes",
        "cron(0 2 * * *)",
        "cron(0 2 * * * *)",
        "cron(0 2 ? * ? *)",
        "cron(0 25 * * ? *)",
        "cron(0 2 L * ? *)",
        "cron(0 2 ? * 6#3 *)",
    ],
)
def test_refused_expressions(expression: str) -> None:
    with pytest.raises(ScheduleExpressionError):
        parse_schedule(expression)
