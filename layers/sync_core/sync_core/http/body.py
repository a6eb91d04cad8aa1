"""JSON request bodies, refused at the edge when DynamoDB could not store them as they are.

Every body the hub takes is a JSON object whose values end up in DynamoDB items, so the limits DynamoDB puts
on numbers and nesting are checked here, once, with the field named, instead of failing as a 500 deep in a
write: numbers must be finite, at most 38 significant digits, and between 1E-130 and 9.99...E+125 in size;
a body nests at most MAX_NESTING levels; and JSON too deep to parse at all is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from decimal import Clamped, Context, Decimal, DecimalException, Inexact, Overflow, Rounded, Underflow
from typing import Any

from sync_core.errors import SyncHubError, ValidationFailedError

# DynamoDB nests maps and lists up to 32 levels; a stored record wraps the body's object in its `fields` map,
# so a body keeps a level in reserve.
MAX_NESTING = 30
# DynamoDB's number type (the same context boto3 serialises numbers with): 38 digits, exponents -130..125.
DYNAMODB_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])
# Integers longer than this are refused before Python parses them (it refuses over 4,300 digits itself).
_MAX_INTEGER_LITERAL = 40
JSON_MEDIA_TYPES = ("application/json",)


class MalformedRequestError(SyncHubError):
    """A request that is not readable at all (not JSON, not UTF-8, nested beyond parsing): 400."""


class _OversizedInteger(str):
    """An integer literal too long to parse; reported with its field by the walk that follows."""


def _parse_integer(literal: str) -> int | _OversizedInteger:
    return int(literal) if len(literal) <= _MAX_INTEGER_LITERAL else _OversizedInteger(literal)


def is_json_media_type(content_type: str) -> bool:
    """application/json, with parameters (charset) or a +json suffix (application/merge-patch+json)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in JSON_MEDIA_TYPES or (media_type.startswith("application/") and media_type.endswith("+json"))


def body_text(body: str | None, *, base64_encoded: bool) -> str | None:
    """The body as text; a body that is not UTF-8 is a 400, not a decoding error."""
    if not body:
        return None
    if not base64_encoded:
        return body
    try:
        return base64.b64decode(body.encode(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedRequestError("request body is not UTF-8 text") from exc


def parse_json_object(text: str | None) -> dict[str, Any] | None:
    """The body as a JSON object that DynamoDB can store; None for an empty body (the route says if it needs one)."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text, parse_int=_parse_integer)
    except RecursionError as exc:
        raise MalformedRequestError("request body is nested too deeply to read") from exc
    except ValueError as exc:  # JSONDecodeError, and what the number hooks refuse
        raise MalformedRequestError(
            "request body is not valid JSON", errors=[{"field": "body", "reason": str(exc)}]
        ) from exc
    if not isinstance(value, dict):
        raise ValidationFailedError(f"request body must be a JSON object, not {_json_kind(value)}", field="body")
    problems: list[dict[str, str]] = []
    _check_storable(value, "body", 1, problems)
    if problems:
        raise ValidationFailedError(
            f"request body has values DynamoDB cannot store ({problems[0]['field']}: {problems[0]['reason']})",
            errors=problems,
        )
    return value


def _json_kind(value: Any) -> str:
    match value:
        case None:
            return "null"
        case list():
            return "an array"
        case str():
            return "a string"
        case bool():
            return "a boolean"
        case _:
            return "a number"


def number_problem(value: int | float | Decimal) -> str | None:
    """Why DynamoDB would refuse a number, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    try:
        # Floats are stored as the decimal of their shortest repr (sync_core.adapters.dynamodb.codec).
        DYNAMODB_NUMBERS.create_decimal(Decimal(repr(value)) if isinstance(value, float) else value)
    except (Overflow, Underflow, Clamped):
        return "must be 0 or between 1E-130 and 9.99E+125 in size (DynamoDB's number range)"
    except (Rounded, Inexact, DecimalException):
        return "must have at most 38 significant digits (DynamoDB's number precision)"
    return None


_MAX_PROBLEMS_LISTED = 20


def _check_storable(value: Any, path: str, depth: int, problems: list[dict[str, str]]) -> None:
    if len(problems) >= _MAX_PROBLEMS_LISTED:
        return
    if isinstance(value, _OversizedInteger):
        problems.append({"field": path, "reason": "must have at most 38 significant digits (DynamoDB's precision)"})
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int | float):
        if (reason := number_problem(value)) is not None:
            problems.append({"field": path, "reason": reason})
    elif isinstance(value, dict | list):
        if depth > MAX_NESTING:
            problems.append({"field": path, "reason": f"nests deeper than {MAX_NESTING} levels"})
            return
        items = value.items() if isinstance(value, dict) else ((f"[{i}]", item) for i, item in enumerate(value))
        for key, item in items:
            child = f"{path}{key}" if isinstance(value, list) else f"{path}.{key}"
            _check_storable(item, child, depth + 1, problems)
