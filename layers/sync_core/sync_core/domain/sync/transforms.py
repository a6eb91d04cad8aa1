"""Named transforms between a hub value and Salesforce values: data, never code.

A mapping names a transform as `name` or `name:argument` (`truncate:80`, `decimal:2`, `date:%d/%m/%Y`).
Most transforms map one hub value to one Salesforce field; `split_name` maps one hub value (a full name)
to two Salesforce fields (FirstName, LastName) and joins them back on import.

Outbound (`to_salesforce`) and inbound (`from_salesforce`) are both defined; where the inbound side
cannot undo the outbound (upper, lower, truncate), it passes Salesforce's value through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

# Salesforce writes datetimes as ISO 8601 with milliseconds and a +0000 offset.
SALESFORCE_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


class TransformError(ValueError):
    """A value a transform cannot convert (the caller names entity, record and field)."""


@dataclass(frozen=True)
class Transform:
    name: str
    description: str
    to_salesforce: Callable[[Any, str | None], tuple[Any, ...]]
    from_salesforce: Callable[[Sequence[Any], str | None, Any], Any]  # (salesforce values, argument, current hub)
    check_argument: Callable[[str | None], str | None]  # a problem with the argument, or None
    salesforce_fields: int = 1
    max_length: Callable[[str | None], int | None] = lambda _argument: None  # what it caps a text at
    example: str = ""


def _no_argument(name: str) -> Callable[[str | None], str | None]:
    return lambda argument: None if argument is None else f"{name} takes no argument (got {argument!r})"


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TransformError(f"expected text, got {value!r}")
    return value


def _one(function: Callable[[Any], Any]) -> Callable[[Any, str | None], tuple[Any, ...]]:
    return lambda value, _argument: (None if value is None else function(value),)


def _inbound_as_is(values: Sequence[Any], _argument: str | None, _current: Any) -> Any:
    return values[0]


# ---------------------------------------------------------------- names


def split_full_name(full_name: str) -> tuple[str | None, str]:
    """`Ada King Lovelace` -> (`Ada King`, `Lovelace`): Salesforce requires LastName, so one word is a last name."""
    words = full_name.split()
    if not words:
        raise TransformError("a full name needs at least one word (Salesforce requires LastName)")
    return (" ".join(words[:-1]) or None, words[-1])


def join_full_name(first: str | None, last: str | None) -> str | None:
    joined = " ".join(part.strip() for part in (first, last) if part and part.strip())
    return joined or None


def _split_name_out(value: Any, _argument: str | None) -> tuple[Any, ...]:
    if value is None:
        return (None, None)
    return split_full_name(_text(value))


def _split_name_in(values: Sequence[Any], _argument: str | None, current: Any) -> Any:
    # A change event names only the part that changed: the other part comes from the current full name.
    first, last = values
    if (first is _MISSING or last is _MISSING) and isinstance(current, str) and current.split():
        current_first, current_last = split_full_name(current)
        first = current_first if first is _MISSING else first
        last = current_last if last is _MISSING else last
    return join_full_name(None if first is _MISSING else first, None if last is _MISSING else last)


class _Missing:
    def __repr__(self) -> str:
        return "<not sent>"


_MISSING: Any = _Missing()
NOT_SENT: Any = _MISSING  # a Salesforce field the change did not carry (partial change events)


# ---------------------------------------------------------------- dates


def _check_format(kind: str) -> Callable[[str | None], str | None]:
    def check(argument: str | None) -> str | None:
        if not argument:
            return f"{kind} needs the hub's format, e.g. {kind}:%d/%m/%Y"
        if "%" not in argument:
            return f"{kind} format {argument!r} has no % directive (strftime codes, e.g. %d/%m/%Y)"
        return None

    return check


def _date_out(value: Any, argument: str | None) -> tuple[Any, ...]:
    if value is None:
        return (None,)
    try:
        return (datetime.strptime(_text(value), argument or "").date().isoformat(),)
    except ValueError as exc:
        raise TransformError(f"{value!r} is not a date in the format {argument}") from exc


def _date_in(values: Sequence[Any], argument: str | None, _current: Any) -> Any:
    value = values[0]
    if value is None:
        return None
    try:
        return date.fromisoformat(_text(value)).strftime(argument or "")
    except ValueError as exc:
        raise TransformError(f"Salesforce sent {value!r}, not a date") from exc


def format_salesforce_datetime(moment: datetime) -> str:
    """`2026-03-01T09:30:00.000+0000`, as Salesforce itself writes datetimes (UTC)."""
    utc = moment.astimezone(UTC)
    return utc.strftime(SALESFORCE_DATETIME_FORMAT)[:-3] + "+0000"


def parse_salesforce_datetime(value: str) -> datetime:
    """Salesforce's `...+0000` and `Z` forms and plain ISO 8601; a time without offset is UTC."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _datetime_out(value: Any, argument: str | None) -> tuple[Any, ...]:
    if value is None:
        return (None,)
    try:
        moment = datetime.strptime(_text(value), argument or "")
    except ValueError as exc:
        raise TransformError(f"{value!r} is not a date and time in the format {argument}") from exc
    return (format_salesforce_datetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC)),)


def _datetime_in(values: Sequence[Any], argument: str | None, _current: Any) -> Any:
    value = values[0]
    if value is None:
        return None
    try:
        return parse_salesforce_datetime(_text(value)).strftime(argument or "")
    except ValueError as exc:
        raise TransformError(f"Salesforce sent {value!r}, not a date and time") from exc


# ---------------------------------------------------------------- numbers


def _check_scale(kind: str) -> Callable[[str | None], str | None]:
    def check(argument: str | None) -> str | None:
        if argument is None or not argument.isdigit() or int(argument) > 18:
            return f"{kind} needs a scale from 0 to 18 (digits after the point), e.g. {kind}:2"
        return None

    return check


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TransformError(f"{value!r} is not a number")
    text = value.replace(",", "").strip() if isinstance(value, str) else str(value)
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise TransformError(f"{value!r} is not a number") from exc
    if not number.is_finite():
        raise TransformError(f"{value!r} is not a finite number")
    return number


def _rounded(value: Any, argument: str | None) -> int | float:
    scale = int(argument or "0")
    quantized = _decimal(value).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    return int(quantized) if scale == 0 else float(quantized)


def _decimal_out(value: Any, argument: str | None) -> tuple[Any, ...]:
    return (None if value is None else _rounded(value, argument),)


def _decimal_in(values: Sequence[Any], argument: str | None, _current: Any) -> Any:
    return None if values[0] is None else _rounded(values[0], argument)


def _number_in(values: Sequence[Any], argument: str | None, _current: Any) -> Any:
    """The hub keeps the number as text with thousands separators: 1234.5 -> `1,234.50`."""
    if values[0] is None:
        return None
    scale = int(argument or "0")
    return f"{_decimal(values[0]).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP):,.{scale}f}"


# ---------------------------------------------------------------- text


def _check_length(argument: str | None) -> str | None:
    if argument is None or not argument.isdigit() or int(argument) < 1:
        return "truncate needs the Salesforce field's length, a whole number from 1, e.g. truncate:80"
    return None


def _truncate(value: Any, argument: str | None) -> tuple[Any, ...]:
    return (None if value is None else _text(value)[: int(argument or "0")],)


TRANSFORMS: dict[str, Transform] = {
    transform.name: transform
    for transform in (
        Transform(
            "split_name",
            "a full name to FirstName and LastName (last word is the last name); joined back on import",
            _split_name_out,
            _split_name_in,
            _no_argument("split_name"),
            salesforce_fields=2,
            example="Ada King Lovelace -> FirstName Ada King, LastName Lovelace",
        ),
        Transform(
            "date",
            "a date the hub keeps as text in the given format to a Salesforce date (YYYY-MM-DD)",
            _date_out,
            _date_in,
            _check_format("date"),
            example="date:%d/%m/%Y: 31/12/2026 -> 2026-12-31",
        ),
        Transform(
            "datetime",
            "a date and time the hub keeps as text in the given format (UTC unless it says) to a Salesforce datetime",
            _datetime_out,
            _datetime_in,
            _check_format("datetime"),
            example="datetime:%d/%m/%Y %H:%M: 31/12/2026 09:30 -> 2026-12-31T09:30:00.000+0000",
        ),
        Transform(
            "decimal",
            "a number rounded half up to the given scale (0 gives a whole number) both ways",
            _decimal_out,
            _decimal_in,
            _check_scale("decimal"),
            example="decimal:2: 12.345 -> 12.35",
        ),
        Transform(
            "number",
            "a number the hub keeps as text (thousands separators allowed) to a Salesforce number at the scale",
            _decimal_out,
            _number_in,
            _check_scale("number"),
            example="number:2: '1,234.5' -> 1234.5; 1234.5 -> '1,234.50'",
        ),
        Transform(
            "upper", "upper case on export", _one(lambda v: _text(v).upper()), _inbound_as_is, _no_argument("upper")
        ),
        Transform(
            "lower", "lower case on export", _one(lambda v: _text(v).lower()), _inbound_as_is, _no_argument("lower")
        ),
        Transform(
            "trim",
            "surrounding spaces removed, both ways",
            _one(lambda v: _text(v).strip()),
            lambda values, _argument, _current: None if values[0] is None else _text(values[0]).strip(),
            _no_argument("trim"),
        ),
        Transform(
            "truncate",
            "text cut to the Salesforce field's length on export",
            _truncate,
            _inbound_as_is,
            _check_length,
            max_length=lambda argument: int(argument) if argument and argument.isdigit() else None,
            example="truncate:80",
        ),
    )
}


def parse_transform(spec: str) -> tuple[Transform, str | None]:
    """`name` or `name:argument` -> the transform and its argument; ValueError says what is wrong."""
    name, separator, argument = spec.partition(":")
    transform = TRANSFORMS.get(name.strip())
    if transform is None:
        raise ValueError(f"unknown transform {name!r} (known: {', '.join(TRANSFORMS)})")
    parsed_argument = argument if separator else None
    problem = transform.check_argument(parsed_argument)
    if problem:
        raise ValueError(problem)
    return transform, parsed_argument
