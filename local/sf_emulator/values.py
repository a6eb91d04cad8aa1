"""Typed field values: parsing what clients send (JSON, CSV) and formatting what Salesforce answers."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)

STRING_TYPES = frozenset({"string", "textarea", "phone", "email", "url", "picklist", "combobox", "encryptedstring"})
NUMBER_TYPES = frozenset({"double", "currency", "percent"})
ID_TYPES = frozenset({"id", "reference"})


class Clock:
    """UTC wall clock with an adjustable offset (tests move time forward); Salesforce keeps whole seconds."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return (datetime.now(UTC) + offset).replace(microsecond=0)

    def now_precise(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def offset_seconds(self) -> float:
        with self._lock:
            return self._offset.total_seconds()

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = timedelta(seconds=seconds)


def parse_datetime(text: str) -> datetime | None:
    match = _DATETIME_RE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, tz = match.groups()
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        value -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value


def parse_date(text: str) -> date | None:
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})(?:$|T)", text.strip())
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def format_datetime(value: datetime) -> str:
    """REST JSON form: 2013-05-20T20:49:32.000+0000."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def format_datetime_z(value: datetime) -> str:
    """SOAP / Bulk CSV form: 2026-09-08T23:40:33.000Z."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def epoch_millis(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def to_json(value: Any) -> Any:
    """A stored value as Salesforce writes it in REST JSON."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_text(value: Any) -> str:
    """A stored value as text (SOAP outbound messages, Bulk CSV); None is the empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime_z(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_state(value: Any) -> Any:
    """JSON-safe form for the state file (typed values are restored with the schema)."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
