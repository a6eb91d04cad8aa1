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


# DynamoDB's limits on one item and on a key attribute (a GSI's partition key included).
MAX_ITEM_BYTES = 400 * 1024
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024


def attribute_size(value: dict[str, Any]) -> int:
    """The bytes DynamoDB counts for a serialised attribute value (its documented item-size rules)."""
    (kind, content), *_ = value.items()
    match kind:
        case "S":
            return len(str(content).encode())
        case "N":
            digits = len(str(content).lstrip("-").replace(".", "").lstrip("0")) or 1
            return (digits + 1) // 2 + 1
        case "BOOL" | "NULL":
            return 1
        case "M":
            return 3 + sum(len(key.encode()) + attribute_size(item) + 1 for key, item in content.items())
        case "L":
            return 3 + sum(attribute_size(item) + 1 for item in content)
    return len(str(content).encode())


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def serialize_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(to_dynamodb_value(value)) for key, value in item.items() if value is not None}


def deserialize_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: from_dynamodb_value(_deserializer.deserialize(value)) for key, value in item.items()}


def encode_cursor(last_evaluated_key: dict[str, Any] | None) -> str | None:
    if not last_evaluated_key:
        return None
    plain = {key: _deserializer.deserialize(value) for key, value in last_evaluated_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, default=str).encode()).decode().rstrip("=")


def _fits_key(name: str, value: str) -> bool:
    """A tampered cursor must not make DynamoDB refuse the query (a key longer than a key can be)."""
    return len(value.encode()) <= (MAX_SORT_KEY_BYTES if name == "sk" else MAX_PARTITION_KEY_BYTES)


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
        or not all(isinstance(value, str) and _fits_key(name, value) for name, value in plain.items())
    ):
        raise ValidationFailedError("cursor is not one this API returned", field="cursor")
    return {key: _serializer.serialize(value) for key, value in plain.items()}
