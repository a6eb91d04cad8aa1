"""Hub record <-> Salesforce values through a mapping and the links: the two functions the worker calls.

`to_salesforce` gives the values of one upsert by external id (the record and its child rows), or says the
record waits for a parent not yet in Salesforce, or fails with a permanent mapping error. `from_salesforce`
gives the hub field changes a Salesforce change makes (only for the fields it carries), or waits, or fails.
Neither reads anything: links come from a small protocol the caller fills (e.g. one batch read).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.domain.sync.hub_schema import get_path, set_path
from sync_core.domain.sync.mapping import EntityMapping, FieldMap, ReferenceMap, ValueMap
from sync_core.domain.sync.policy import UnmappedValuePolicy
from sync_core.domain.sync.transforms import (
    NOT_SENT,
    TransformError,
    format_salesforce_datetime,
    parse_salesforce_datetime,
    parse_transform,
)
from sync_core.domain.sync_state import values_hash


class Links(Protocol):
    """Hub keys <-> Salesforce ids. `kind` is an entity (Account, Product...) keyed by hub id, or a
    Salesforce object keyed by what identifies it in the hub (Pricebook2 by name, PricebookEntry and
    child rows by their external id)."""

    def salesforce_id(self, kind: str, hub_key: str) -> str | None: ...

    def hub_key(self, kind: str, salesforce_id: str) -> str | None: ...


@dataclass
class LinkTable:
    """Links held in memory: what a worker read in one batch, or what a test sets up."""

    by_hub_key: dict[tuple[str, str], str] = field(default_factory=dict)
    by_salesforce_id: dict[tuple[str, str], str] = field(default_factory=dict)

    def link(self, kind: str, hub_key: str, salesforce_id: str) -> None:
        self.by_hub_key[(kind, hub_key)] = salesforce_id
        self.by_salesforce_id[(kind, salesforce_id)] = hub_key

    def salesforce_id(self, kind: str, hub_key: str) -> str | None:
        return self.by_hub_key.get((kind, hub_key))

    def hub_key(self, kind: str, salesforce_id: str) -> str | None:
        return self.by_salesforce_id.get((kind, salesforce_id))


# ---------------------------------------------------------------- outcomes


class UpsertRow(BaseModel):
    """One record of an upsert by external id: what goes into an sObject Collections call."""

    sobject: str
    external_id_field: str
    external_id: str
    values: dict[str, Any]


class ExportValues(BaseModel):
    """The upsert of a hub record: its row, then its child rows (sent once the record itself is linked)."""

    kind: Literal["upsert"] = "upsert"
    entity: EntityName
    record_id: str
    row: UpsertRow
    children: list[UpsertRow] = Field(default_factory=list)
    children_wait_for_parent: bool = Field(
        default=False, description="The record is not linked yet: its child rows go in the next export"
    )
    values_hash: str = Field(description="Hash of the values Salesforce keeps for the record")
    field_hashes: dict[str, str] = Field(
        description="Per Salesforce field (lower case), the hash of the value sent: what echo detection compares"
    )


class WaitsForParent(BaseModel):
    """Not an error: a record it points at has no Salesforce id (or hub record) yet; it goes once linked."""

    kind: Literal["waits"] = "waits"
    entity: EntityName
    record_id: str
    field: str = Field(description="The mapping's field that points at the parent")
    parent: str = Field(description="The parent's entity (or Salesforce object)")
    parent_key: str = Field(description="The parent's hub id (exports) or Salesforce id (imports)")

    @property
    def message(self) -> str:
        return f"waits for parent {self.parent} {self.parent_key}"


class MappingFailure(BaseModel):
    """A permanent mapping error: retrying cannot help; the record goes to Error and the error log."""

    kind: Literal["failed"] = "failed"
    code: str = "MAPPING_ERROR"
    entity: EntityName
    record_id: str
    field: str
    value: Any = None
    message: str


class ImportChanges(BaseModel):
    """Hub field changes (dotted paths -> values) a Salesforce change makes."""

    kind: Literal["changes"] = "changes"
    changes: dict[str, Any] = Field(default_factory=dict)

    def applied_to(self, fields: dict[str, Any]) -> dict[str, Any]:
        result = dict(fields)
        for path, value in self.changes.items():
            result = set_path(result, path, value)
        return result


ExportOutcome = ExportValues | WaitsForParent | MappingFailure
ImportOutcome = ImportChanges | WaitsForParent | MappingFailure


# Salesforce's own id: an upsert on it updates the record it names (a linked record's export).
SALESFORCE_ID_FIELD = "Id"


class _Failed(Exception):
    def __init__(self, field: str, value: Any, message: str) -> None:
        super().__init__(message)
        self.field, self.value, self.message = field, value, message


class _Waits(Exception):
    def __init__(self, field: str, parent: str, parent_key: str) -> None:
        super().__init__(parent_key)
        self.field, self.parent, self.parent_key = field, parent, parent_key


# ---------------------------------------------------------------- values


def _value_out(value_map: ValueMap, value: Any, where: str) -> Any:
    if value is None:
        return None
    if str(value) in value_map.values:
        return value_map.values[str(value)]
    if value_map.unmapped is UnmappedValuePolicy.DEFAULT:
        return value_map.default_salesforce
    if value_map.unmapped is UnmappedValuePolicy.PASS_THROUGH:
        return value
    raise _Failed(where, value, f"value {value!r} has no Salesforce value in the value map")


def _value_in(value_map: ValueMap, value: Any, where: str) -> Any:
    if value is None:
        return None
    inbound = value_map.salesforce_to_hub()
    if str(value) in inbound:
        return inbound[str(value)]
    if value_map.unmapped is UnmappedValuePolicy.DEFAULT:
        return value_map.default_hub
    if value_map.unmapped is UnmappedValuePolicy.PASS_THROUGH:
        return value
    raise _Failed(where, value, f"Salesforce value {value!r} has no hub value in the value map")


def _field_out(field_map: FieldMap, fields: Mapping[str, Any]) -> dict[str, Any]:
    value = get_path(dict(fields), field_map.hub_field)
    if field_map.value_map is not None:
        sent: tuple[Any, ...] = (_value_out(field_map.value_map, value, field_map.hub_field),)
    elif field_map.transform is not None:
        transform, argument = parse_transform(field_map.transform)
        try:
            sent = transform.to_salesforce(value, argument)
        except TransformError as exc:
            raise _Failed(field_map.hub_field, value, f"{field_map.transform}: {exc}") from exc
    else:
        sent = (value,)
    return dict(zip(field_map.targets, sent, strict=True))


def _field_in(field_map: FieldMap, values: Mapping[str, Any], current: Mapping[str, Any]) -> tuple[bool, Any]:
    """(whether the change carries the field, the hub value)."""
    received = [values.get(target, NOT_SENT) for target in field_map.targets]
    if all(item is NOT_SENT for item in received):
        return False, None
    where = field_map.hub_field
    if field_map.value_map is not None:
        return True, _value_in(field_map.value_map, received[0], where)
    if field_map.transform is not None:
        transform, argument = parse_transform(field_map.transform)
        try:
            return True, transform.from_salesforce(received, argument, get_path(dict(current), where))
        except TransformError as exc:
            raise _Failed(where, received, f"{field_map.transform}: {exc}") from exc
    return True, received[0]


def _reference_out(
    reference: ReferenceMap, fields: Mapping[str, Any], links: Links, parent_fields: Mapping[str, Any]
) -> str | None:
    value = get_path(dict(fields), reference.hub_field)
    if value is None:
        return None
    key = reference.key_format.format(value=value, parent=dict(parent_fields))
    salesforce_id = links.salesforce_id(reference.parent, key)
    if salesforce_id is None:
        raise _Waits(reference.hub_field, reference.parent, key)
    return salesforce_id


def _only_where(item: Mapping[str, Any], conditions: Mapping[str, Any]) -> bool:
    return all(item.get(name) == wanted for name, wanted in conditions.items())


def _row_values(
    field_maps: list[FieldMap],
    references: list[ReferenceMap],
    fields: Mapping[str, Any],
    links: Links,
    *,
    linked: bool,
    parent_fields: Mapping[str, Any],
) -> tuple[dict[str, Any], set[str]]:
    """The values of one row, and the names of its create-only fields (left out once it is linked)."""
    values: dict[str, Any] = {}
    create_only: set[str] = set()
    for field_map in field_maps:
        if not field_map.direction.exports:
            continue
        if field_map.create_only:
            create_only.update(field_map.targets)
            if linked:
                continue
        values.update(_field_out(field_map, fields))
    for reference in references:
        if not reference.direction.exports:
            continue
        if reference.create_only:
            create_only.add(reference.salesforce_field)
            if linked:
                continue
        values[reference.salesforce_field] = _reference_out(reference, fields, links, parent_fields)
    return values, create_only


_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def comparable(value: Any) -> Any:
    """One form for values both sides write differently: 12.0 and 12, `...Z` and `....000+0000`."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        try:
            return format_salesforce_datetime(parse_salesforce_datetime(value))
        except ValueError:
            return value
    return value


def comparable_hash(values: Mapping[str, Any]) -> str:
    """The hash of a row's values: Salesforce field names are case-insensitive, values normalised."""
    return values_hash({name.lower(): comparable(value) for name, value in values.items()})


def field_hash(value: Any) -> str:
    """A short hash of one field's value (16 hex digits: enough to tell values apart, small to store)."""
    return values_hash({"v": comparable(value)})[:16]


def to_salesforce(
    record: HubRecord, mapping: EntityMapping, links: Links, *, workflow_values: Mapping[str, Any] | None = None
) -> ExportOutcome:
    """The upsert that makes Salesforce hold the record's current state.

    `workflow_values` are what the entity's workflow adds to the row (a case's Status: domain.sync.workflow_hooks);
    they are sent and hashed like mapped fields, so their echo is recognised too."""
    linked_id = links.salesforce_id(mapping.entity.value, record.id)
    try:
        values, create_only = _row_values(
            mapping.field_mapping,
            mapping.references,
            record.fields,
            links,
            linked=linked_id is not None,
            parent_fields={},
        )
        children: list[UpsertRow] = []
        pending_children = False
        for child in mapping.children:
            if not child.direction.exports:
                continue
            items = [item for item in record.fields.get(child.hub_field) or [] if _only_where(item, child.only_where)]
            if linked_id is None:
                pending_children = pending_children or bool(items)
                continue
            for index, item in enumerate(items, start=1):
                external_id = child.external_id_format.format(parent_id=record.id, index=index, **item)
                child_linked = links.salesforce_id(child.salesforce_object, external_id) is not None
                try:
                    child_values, _ = _row_values(
                        child.field_mapping,
                        child.references,
                        item,
                        links,
                        linked=child_linked,
                        parent_fields=record.fields,
                    )
                except _Failed as exc:
                    raise _Failed(f"{child.hub_field}[{index}].{exc.field}", exc.value, exc.message) from exc
                except _Waits as exc:
                    raise _Waits(f"{child.hub_field}[{index}].{exc.field}", exc.parent, exc.parent_key) from exc
                if not child_linked:
                    child_values[child.parent_field] = linked_id
                child_values[child.external_id_field] = external_id
                children.append(
                    UpsertRow(
                        sobject=child.salesforce_object,
                        external_id_field=child.external_id_field,
                        external_id=external_id,
                        values=child_values,
                    )
                )
    except _Failed as exc:
        return MappingFailure(
            entity=mapping.entity,
            record_id=record.id,
            field=exc.field,
            value=exc.value,
            message=f"{mapping.entity.value} {record.id} {exc.field}: {exc.message}",
        )
    except _Waits as exc:
        return WaitsForParent(
            entity=mapping.entity, record_id=record.id, field=exc.field, parent=exc.parent, parent_key=exc.parent_key
        )
    values.update(workflow_values or {})
    compared = {name: value for name, value in values.items() if name not in create_only}
    values[mapping.external_id_field] = record.id
    if linked_id is not None:
        # A linked record is addressed by its Salesforce id: one created in Salesforce has no hub id in its
        # external id field yet (an upsert on that field would create a second one); this write stamps it.
        values[SALESFORCE_ID_FIELD] = linked_id
    return ExportValues(
        entity=mapping.entity,
        record_id=record.id,
        row=UpsertRow(
            sobject=mapping.salesforce_object,
            external_id_field=SALESFORCE_ID_FIELD if linked_id is not None else mapping.external_id_field,
            external_id=linked_id if linked_id is not None else record.id,
            values=values,
        ),
        children=children,
        children_wait_for_parent=pending_children,
        values_hash=comparable_hash(compared),
        field_hashes={name.lower(): field_hash(value) for name, value in compared.items()},
    )


def from_salesforce(
    values: Mapping[str, Any],
    mapping: EntityMapping,
    links: Links,
    *,
    current: Mapping[str, Any] | None = None,
    record_id: str | None = None,
) -> ImportOutcome:
    """The hub changes a Salesforce change makes: only the fields it carries (a change event names only
    what changed). `current` holds the hub's fields, for transforms that need them (split_name)."""
    record_ref = record_id or str(values.get("Id") or values.get(mapping.external_id_field) or "(new)")
    changes: dict[str, Any] = {}
    try:
        for field_map in mapping.field_mapping:
            if not field_map.direction.imports:
                continue
            carried, value = _field_in(field_map, values, current or {})
            if carried:
                changes[field_map.hub_field] = value
        for reference in mapping.references:
            if not reference.direction.imports or reference.salesforce_field not in values:
                continue
            salesforce_id = values[reference.salesforce_field]
            if salesforce_id is None:
                changes[reference.hub_field] = None
                continue
            hub_key = links.hub_key(reference.parent, str(salesforce_id))
            if hub_key is None:
                raise _Waits(reference.hub_field, reference.parent, str(salesforce_id))
            changes[reference.hub_field] = hub_key
    except _Failed as exc:
        return MappingFailure(
            entity=mapping.entity,
            record_id=record_ref,
            field=exc.field,
            value=exc.value,
            message=f"{mapping.entity.value} {record_ref} {exc.field}: {exc.message}",
        )
    except _Waits as exc:
        return WaitsForParent(
            entity=mapping.entity, record_id=record_ref, field=exc.field, parent=exc.parent, parent_key=exc.parent_key
        )
    return ImportChanges(changes=changes)
