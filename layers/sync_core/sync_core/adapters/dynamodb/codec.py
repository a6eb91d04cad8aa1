"""Conversions between Python values and DynamoDB attribute values, and opaque page cursors."""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from sync_core.errors import ValidationFailedError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_dynamodb_value(value: Any) -> Any:
    """Floats become exact Decimals (DynamoDB has no float type); other non-JSON values become strings."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {str(key): to_dynamodb_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamodb_value(item) for item in value]
    if value is None or isinstance(value, str | int | bool | Decimal):
        return value
    return str(value)


def from_dynamodb_value(value: Any) -> Any:
    """Decimals back to int or float, recursively, so the API answers plain JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: from_dynamodb_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_dynamodb_value(item) for item in value]
    return value


def serialize_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(to_dynamodb_value(value)) for key, value in item.items() if value is not None}


def deserialize_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: from_dynamodb_value(_deserializer.deserialize(value)) for key, value in item.items()}


def encode_cursor(last_evaluated_key: dict[str, Any] | None) -> str | None:
    if not last_evaluated_key:
        return None
    plain = {key: _deserializer.deserialize(value) for key, value in last_evaluated_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, expected_keys: set[str]) -> dict[str, Any] | None:
    """The ExclusiveStartKey a cursor stands for; a tampered or foreign cursor is a 422, not a 500."""
    if not cursor:
        return None
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailedError("cursor is not one this API returned", field="cursor") from exc
    if (
        not isinstance(plain, dict)
        or set(plain) != expected_keys
        or not all(isinstance(v, str) for v in plain.values())
    ):
        raise ValidationFailedError("cursor is not one this API returned", field="cursor")
    return {key: _serializer.serialize(value) for key, value in plain.items()}
