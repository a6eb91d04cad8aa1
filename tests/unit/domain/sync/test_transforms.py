"""Named transforms: each both ways, their arguments checked, bad values refused with a clear message."""

from __future__ import annotations

import re

import pytest

from sync_core.domain.sync.transforms import NOT_SENT, TRANSFORMS, TransformError, parse_transform


def out(spec: str, value: object) -> tuple[object, ...]:
    transform, argument = parse_transform(spec)
    return transform.to_salesforce(value, argument)


def back(spec: str, *values: object, current: object = None) -> object:
    transform, argument = parse_transform(spec)
    return transform.from_salesforce(values, argument, current)


@pytest.mark.parametrize(
    ("spec", "hub", "salesforce"),
    [
        ("split_name", "Ada King Lovelace", ("Ada King", "Lovelace")),
        ("split_name", "Plato", (None, "Plato")),
        ("date:%d/%m/%Y", "31/12/2026", ("2026-12-31",)),
        ("datetime:%d/%m/%Y %H:%M", "31/12/2026 09:30", ("2026-12-31T09:30:00.000+0000",)),
        ("decimal:2", 12.345, (12.35,)),
        ("decimal:0", 49.5, (50,)),
        ("number:2", "1,234.5", (1234.5,)),
        ("upper", "abc", ("ABC",)),
        ("lower", "AbC", ("abc",)),
        ("trim", "  x  ", ("x",)),
        ("truncate:3", "abcdef", ("abc",)),
        ("truncate:3", None, (None,)),
    ],
)
def test_to_salesforce(spec: str, hub: object, salesforce: tuple[object, ...]) -> None:
    assert out(spec, hub) == salesforce


@pytest.mark.parametrize(
    ("spec", "salesforce", "hub"),
    [
        ("split_name", ("Ada King", "Lovelace"), "Ada King Lovelace"),
        ("split_name", (None, "Plato"), "Plato"),
        ("date:%d/%m/%Y", ("2026-12-31",), "31/12/2026"),
        ("datetime:%d/%m/%Y %H:%M", ("2026-12-31T09:30:00.000+0000",), "31/12/2026 09:30"),
        ("datetime:%d/%m/%Y %H:%M", ("2026-12-31T10:30:00.000+0100",), "31/12/2026 10:30"),
        ("decimal:2", (12.345,), 12.35),
        ("number:2", (1234.5,), "1,234.50"),
        ("upper", ("ABC",), "ABC"),
        ("trim", (" x ",), "x"),
        ("truncate:3", ("abc",), "abc"),
    ],
)
def test_from_salesforce(spec: str, salesforce: tuple[object, ...], hub: object) -> None:
    assert back(spec, *salesforce) == hub


def test_split_name_joins_a_partial_change_with_the_current_full_name() -> None:
    # A change event that names only LastName keeps the hub's first name.
    assert back("split_name", NOT_SENT, "Byron", current="Ada Lovelace") == "Ada Byron"
    assert back("split_name", "Augusta Ada", NOT_SENT, current="Ada Lovelace") == "Augusta Ada Lovelace"


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        ("date:%d/%m/%Y", "2026-12-31", "is not a date in the format %d/%m/%Y"),
        ("decimal:2", "twelve", "is not a number"),
        ("decimal:2", True, "is not a number"),
        ("split_name", "   ", "at least one word"),
        ("upper", 12, "expected text"),
    ],
)
def test_bad_values_are_refused_with_the_value_named(spec: str, value: object, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        out(spec, value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("shout", "unknown transform 'shout' (known: split_name, date"),
        ("truncate", "truncate needs the Salesforce field's length"),
        ("truncate:0", "truncate needs the Salesforce field's length"),
        ("decimal:x", "decimal needs a scale from 0 to 18"),
        ("date", "date needs the hub's format"),
        ("date:dd/mm", "has no % directive"),
        ("upper:1", "upper takes no argument"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_transform(spec)


def test_a_datetime_format_may_contain_colons() -> None:
    transform, argument = parse_transform("datetime:%H:%M %d/%m/%Y")
    assert (transform.name, argument) == ("datetime", "%H:%M %d/%m/%Y")


def test_every_transform_is_described() -> None:
    assert all(transform.description for transform in TRANSFORMS.values())
