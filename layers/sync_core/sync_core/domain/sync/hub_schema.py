"""What fields each hub entity has, read from its pydantic model: paths, kinds, lengths, enum values.

Mappings name hub fields by dotted path (`billing_address.city`, `custom_fields.Region`); this module
is how a mapping is checked against the entity it names, and how child rows (`lines`) find their item model.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Annotated, Any, Union, get_args, get_origin

from annotated_types import MaxLen
from pydantic import AwareDatetime, BaseModel, NaiveDatetime

from sync_core.domain.cases.models import Case, ContractUsage, Invoice
from sync_core.domain.entities import CUSTOM_FIELD_NAME, ENTITY_MODELS, EntityFields, EntityName

CUSTOM_FIELDS_PREFIX = "custom_fields."

ENTITY_FIELD_MODELS: dict[EntityName, type[EntityFields]] = {
    **ENTITY_MODELS,
    EntityName.CASE: Case,
    EntityName.INVOICE: Invoice,
    EntityName.CONTRACT_USAGE: ContractUsage,
}

# Hub fields only the hub itself writes (the case workflow, the release step): a mapping may send them
# to Salesforce but never import into them, or an edit in Salesforce would bypass the workflow's rules.
HUB_OWNED_FIELDS: dict[EntityName, frozenset[str]] = {
    EntityName.CASE: frozenset(
        {
            "status",
            "reason",
            "active",
            "date_reported",
            "sla",
            "initial_response_due",
            "initial_response_minutes",
            "resolution_time_hours",
            "last_activity_date",
            "last_incoming_activity_date",
            "last_outgoing_activity_date",
            "closing_date",
            "released_date",
            "billable_minutes",
            "billable_overtime_minutes",
            "time_spent_minutes",
            "overtime_minutes",
            "invoice_id",
            "contract_usage_id",
            "activity_totals",
            "related_cases",
        }
    ),
}


class FieldKind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    ENUM = "enum"
    CUSTOM = "custom"  # a custom field: text, number or boolean, whatever was stored
    OBJECT = "object"
    MAPPING = "mapping"  # a free-form dict (e.g. a case's attributes)
    LIST = "list"


@dataclass(frozen=True)
class HubField:
    path: str
    kind: FieldKind
    required: bool = False
    max_length: int | None = None
    enum_values: tuple[str, ...] = ()
    item_model: type[BaseModel] | None = field(default=None, compare=False)  # lists of models (child rows)


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """The base type under Optional/Annotated, with the Annotated metadata collected."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            base, *extra = get_args(annotation)
            metadata.extend(extra)
            annotation = base
        elif origin in (Union, types.UnionType):
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation, metadata
            annotation = options[0]
        else:
            return annotation, metadata


def _max_length(metadata: list[Any]) -> int | None:
    for item in metadata:
        if isinstance(item, MaxLen):
            return item.max_length
        nested = _max_length(list(getattr(item, "metadata", [])))
        if nested is not None:
            return nested
    return None


def _kind(base: Any) -> FieldKind:
    if base in (AwareDatetime, NaiveDatetime):
        return FieldKind.DATETIME
    if get_origin(base) is dict or base is dict:
        return FieldKind.MAPPING
    if isinstance(base, type):
        if issubclass(base, Enum):
            return FieldKind.ENUM
        if issubclass(base, bool):
            return FieldKind.BOOLEAN
        if issubclass(base, int):
            return FieldKind.INTEGER
        if issubclass(base, float | Decimal):
            return FieldKind.NUMBER
        if issubclass(base, datetime):
            return FieldKind.DATETIME
        if issubclass(base, date):
            return FieldKind.DATE
        if issubclass(base, BaseModel):
            return FieldKind.OBJECT
    if get_origin(base) is list or base is list:
        return FieldKind.LIST
    return FieldKind.TEXT


def model_fields(model: type[BaseModel], prefix: str = "") -> dict[str, HubField]:
    """Every field of a model by dotted path; nested models add their own fields under their name."""
    found: dict[str, HubField] = {}
    for name, info in model.model_fields.items():
        if name == "custom_fields":
            continue
        base, metadata = _unwrap(info.annotation)
        metadata = [*metadata, *info.metadata]
        path = f"{prefix}{name}"
        kind = _kind(base)
        item_model: type[BaseModel] | None = None
        if kind is FieldKind.LIST:
            (item,) = get_args(base) or (Any,)
            item_base, _ = _unwrap(item)
            if isinstance(item_base, type) and issubclass(item_base, BaseModel):
                item_model = item_base
        enum_values = tuple(member.value for member in base) if kind is FieldKind.ENUM else ()
        found[path] = HubField(
            path=path,
            kind=kind,
            required=info.is_required(),
            max_length=_max_length(metadata),
            enum_values=enum_values,
            item_model=item_model,
        )
        if kind is FieldKind.OBJECT:
            found.update(model_fields(base, prefix=f"{path}."))
    return found


def entity_fields(entity: EntityName) -> dict[str, HubField]:
    return model_fields(ENTITY_FIELD_MODELS[entity])


def find_field(fields: dict[str, HubField], path: str, *, custom_fields: bool) -> HubField | None:
    """The field a path names; `custom_fields.X` is any custom field with a valid name."""
    if custom_fields and path.startswith(CUSTOM_FIELDS_PREFIX):
        name = path.removeprefix(CUSTOM_FIELDS_PREFIX)
        return HubField(path=path, kind=FieldKind.CUSTOM) if CUSTOM_FIELD_NAME.match(name) else None
    return fields.get(path)


def get_path(values: dict[str, Any] | Any, path: str) -> Any:
    """The value at a dotted path of stored fields, or None when any step is missing."""
    current: Any = values
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def set_path(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `values` with the dotted path set (intermediate objects created as needed)."""
    head, _, rest = path.partition(".")
    result = dict(values)
    if not rest:
        result[head] = value
        return result
    inner = result.get(head)
    result[head] = set_path(inner if isinstance(inner, dict) else {}, rest, value)
    return result
