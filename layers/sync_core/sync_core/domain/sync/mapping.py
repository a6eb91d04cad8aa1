"""The mapping of a hub entity to its Salesforce object: fields, value maps, references and child rows.

A mapping is data an administrator can read and change (docs/sync.md shows each kind in JSON).
`check_mapping` finds every mistake in one pass, each with its path (`field_mapping[3].transform`), so a
save is refused with the full list rather than failing on the first record that meets the mistake.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.hub_schema import (
    HUB_OWNED_FIELDS,
    FieldKind,
    HubField,
    entity_fields,
    find_field,
    model_fields,
)
from sync_core.domain.sync.policy import SyncDirection, UnmappedValuePolicy
from sync_core.domain.sync.transforms import TRANSFORMS, parse_transform

DEFAULT_EXTERNAL_ID_FIELD = "Hub_Id__c"
SALESFORCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_SALESFORCE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
ENTITY_PARENTS = frozenset(entity.value for entity in EntityName)

# Salesforce fields a mapping may not write because something else does: Case Status, and the hub's own
# status and reason, come from the case workflow's status map (sync_core.domain.cases.SalesforceCaseStatusMap);
# the owner from the owner map (or is left); IsClosed derives from Status and ClosedDate is read-only.
CASE_STATUS_MAP = "the case workflow's status map"
RESERVED_SALESFORCE_FIELDS: dict[EntityName, dict[str, str]] = {
    EntityName.CASE: {
        "Status": CASE_STATUS_MAP,
        "Hub_Status__c": CASE_STATUS_MAP,
        "Hub_Status_Reason__c": CASE_STATUS_MAP,
        "OwnerId": "the case's owner map",
        "IsClosed": "Salesforce (it derives from Status)",
        "ClosedDate": "Salesforce (it is read-only)",
    }
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueMap(_Strict):
    """Picklist values: hub value -> Salesforce value, with what to do for a value it does not name."""

    values: dict[str, str] = Field(description="Hub value -> Salesforce value")
    inbound: dict[str, str] = Field(
        default_factory=dict,
        description="Salesforce value -> hub value, where `values` is not one to one or Salesforce has more values",
    )
    unmapped: UnmappedValuePolicy = UnmappedValuePolicy.REFUSE
    default_salesforce: str | None = Field(
        default=None, description="Sent for an unmapped hub value (unmapped=default)"
    )
    default_hub: str | None = Field(
        default=None, description="Kept for an unmapped Salesforce value (unmapped=default)"
    )

    def salesforce_to_hub(self) -> dict[str, str]:
        """The import direction: the inverse of `values`, overridden by `inbound`."""
        inverse: dict[str, str] = {}
        for hub_value, salesforce_value in self.values.items():
            inverse.setdefault(salesforce_value, hub_value)
        return {**inverse, **self.inbound}


class FieldMap(_Strict):
    """One hub field to one Salesforce field (or two, for split_name)."""

    hub_field: str = Field(min_length=1, description="Dotted path: name, billing_address.city, custom_fields.Region")
    salesforce_field: str | None = Field(default=None, pattern=_SALESFORCE_NAME_PATTERN)
    salesforce_fields: list[str] | None = Field(
        default=None, description="For split_name: [first name field, last name field]"
    )
    direction: SyncDirection = SyncDirection.BOTH
    transform: str | None = Field(default=None, description="A named transform: upper, truncate:80, date:%d/%m/%Y ...")
    value_map: ValueMap | None = None
    create_only: bool = Field(default=False, description="Sent only when the Salesforce record is created")

    @property
    def targets(self) -> list[str]:
        return list(self.salesforce_fields or ([self.salesforce_field] if self.salesforce_field else []))


class ReferenceMap(_Strict):
    """A hub id field that points at another record, sent as that record's Salesforce id (through the links)."""

    hub_field: str = Field(min_length=1)
    salesforce_field: str = Field(pattern=_SALESFORCE_NAME_PATTERN)
    parent: str = Field(
        description="The entity it points at (Account, Contact, Product...) or a Salesforce object linked by key "
        "(Pricebook2 by price book name, PricebookEntry by product and price book)"
    )
    key_format: str = Field(
        default="{value}",
        description="The link key: {value} is the hub field; child rows may use {parent[field]} of their record",
    )
    direction: SyncDirection = SyncDirection.BOTH
    create_only: bool = False


class ChildMapping(_Strict):
    """A list field of the hub record (lines, prices) as child records of the Salesforce object."""

    hub_field: str = Field(min_length=1, description="The list field, e.g. lines")
    salesforce_object: str = Field(pattern=_SALESFORCE_NAME_PATTERN)
    parent_field: str = Field(pattern=_SALESFORCE_NAME_PATTERN, description="The child's lookup to the parent")
    external_id_field: str = Field(default=DEFAULT_EXTERNAL_ID_FIELD, pattern=_SALESFORCE_NAME_PATTERN)
    external_id_format: str = Field(
        description="The child's external id: {parent_id}, {index} (from 1) and the item's fields, e.g. "
        "{parent_id}:{index}:{product_id}"
    )
    only_where: dict[str, str | int | bool] = Field(
        default_factory=dict, description="Only items whose fields have these values sync (e.g. price_book)"
    )
    field_mapping: list[FieldMap] = Field(default_factory=list)
    references: list[ReferenceMap] = Field(default_factory=list)
    direction: SyncDirection = SyncDirection.TO_SALESFORCE


class EntityMapping(_Strict):
    """How one hub entity maps to its Salesforce object."""

    entity: EntityName
    salesforce_object: str = Field(pattern=_SALESFORCE_NAME_PATTERN, description="Standard or custom (Invoice__c)")
    external_id_field: str = Field(
        default=DEFAULT_EXTERNAL_ID_FIELD,
        pattern=_SALESFORCE_NAME_PATTERN,
        description="The Salesforce external id field that holds the hub id: every export is an upsert on it",
    )
    field_mapping: list[FieldMap] = Field(default_factory=list)
    references: list[ReferenceMap] = Field(default_factory=list)
    children: list[ChildMapping] = Field(default_factory=list)

    @property
    def imported_fields(self) -> frozenset[str]:
        """The Salesforce fields a change from Salesforce applies to the hub record (lower case)."""
        fields = [target for item in self.field_mapping if item.direction.imports for target in item.targets]
        fields += [reference.salesforce_field for reference in self.references if reference.direction.imports]
        return frozenset(name.lower() for name in fields)


# ---------------------------------------------------------------- validation


@dataclass(frozen=True)
class MappingProblem:
    path: str
    message: str

    def as_error(self) -> dict[str, str]:
        """The shape of a ValidationFailedError entry (the API's error body)."""
        return {"field": self.path, "reason": self.message}


def _placeholders(template: str) -> Iterator[str]:
    for _text, name, _spec, _conversion in string.Formatter().parse(template):
        if name is not None:
            yield name


def _known(names: Iterable[str], limit: int = 12) -> str:
    listed = sorted(names)
    more = f", ... ({len(listed) - limit} more)" if len(listed) > limit else ""
    return ", ".join(listed[:limit]) + more


def _hub_field(
    problems: list[MappingProblem],
    path: str,
    hub_field: str,
    fields: dict[str, HubField],
    where: str,
    *,
    custom_fields: bool,
) -> HubField | None:
    found = find_field(fields, hub_field, custom_fields=custom_fields)
    if found is None:
        if custom_fields and hub_field.startswith("custom_fields."):
            message = f"custom field name {hub_field.removeprefix('custom_fields.')!r} must be letters, digits and _"
        else:
            message = f"unknown hub field {hub_field!r} for {where} (known: {_known(fields)})"
        problems.append(MappingProblem(path, message))
    elif found.kind in (FieldKind.OBJECT, FieldKind.LIST, FieldKind.MAPPING):
        problems.append(
            MappingProblem(
                path,
                f"{where} field {hub_field!r} is not one value ({found.kind.value}): map its parts or use children",
            )
        )
        return None
    return found


def _check_value_map(
    problems: list[MappingProblem], path: str, field_map: FieldMap, hub: HubField | None, where: str
) -> None:
    value_map = field_map.value_map
    if value_map is None:
        return
    if hub is not None and hub.enum_values:
        for hub_value in value_map.values:
            if hub_value not in hub.enum_values:
                problems.append(
                    MappingProblem(
                        f"{path}.values",
                        f"{hub_value!r} is not a value of {where} {field_map.hub_field} "
                        f"(known: {', '.join(hub.enum_values)})",
                    )
                )
        for salesforce_value, hub_value in value_map.inbound.items():
            if hub_value not in hub.enum_values:
                problems.append(
                    MappingProblem(
                        f"{path}.inbound",
                        f"Salesforce value {salesforce_value!r} imports as {hub_value!r}, which is not a value of "
                        f"{where} {field_map.hub_field}",
                    )
                )
    if value_map.unmapped is UnmappedValuePolicy.DEFAULT:
        if field_map.direction.exports and value_map.default_salesforce is None:
            problems.append(MappingProblem(f"{path}.default_salesforce", "unmapped=default needs default_salesforce"))
        if field_map.direction.imports and value_map.default_hub is None:
            problems.append(MappingProblem(f"{path}.default_hub", "unmapped=default needs default_hub"))
    if field_map.direction.imports:
        by_salesforce: dict[str, list[str]] = {}
        for hub_value, salesforce_value in value_map.values.items():
            by_salesforce.setdefault(salesforce_value, []).append(hub_value)
        for salesforce_value, hub_values in by_salesforce.items():
            if len(hub_values) > 1 and salesforce_value not in value_map.inbound:
                problems.append(
                    MappingProblem(
                        f"{path}.inbound",
                        f"direction conflict: Salesforce value {salesforce_value!r} comes from "
                        f"{' and '.join(map(repr, hub_values))}; name the hub value it imports as in inbound "
                        "(or map the field to Salesforce only)",
                    )
                )


def _check_field_map(
    problems: list[MappingProblem],
    path: str,
    field_map: FieldMap,
    fields: dict[str, HubField],
    where: str,
    owned: frozenset[str],
    *,
    custom_fields: bool,
) -> None:
    hub = _hub_field(problems, f"{path}.hub_field", field_map.hub_field, fields, where, custom_fields=custom_fields)
    if field_map.salesforce_field and field_map.salesforce_fields:
        problems.append(MappingProblem(path, "give salesforce_field or salesforce_fields, not both"))
    elif not field_map.targets:
        problems.append(MappingProblem(f"{path}.salesforce_field", "missing: which Salesforce field it maps to"))
    for index, name in enumerate(field_map.salesforce_fields or []):
        if not SALESFORCE_NAME.match(name):
            problems.append(MappingProblem(f"{path}.salesforce_fields[{index}]", f"{name!r} is not a Salesforce name"))
    arity = 1
    if field_map.transform is not None:
        try:
            transform, _argument = parse_transform(field_map.transform)
            arity = transform.salesforce_fields
        except ValueError as exc:
            problems.append(MappingProblem(f"{path}.transform", str(exc)))
            arity = len(field_map.targets) or 1
        if field_map.value_map is not None:
            problems.append(MappingProblem(f"{path}.value_map", "a field takes a value map or a transform, not both"))
    if field_map.targets and len(field_map.targets) != arity:
        multi = [name for name, transform in TRANSFORMS.items() if transform.salesforce_fields > 1]
        problems.append(
            MappingProblem(
                f"{path}.salesforce_fields",
                f"{field_map.transform or 'no transform'} maps to {arity} Salesforce field(s), not "
                f"{len(field_map.targets)} (several fields need a transform such as {', '.join(multi)})",
            )
        )
    if field_map.direction.imports and field_map.hub_field in owned:
        problems.append(
            MappingProblem(
                f"{path}.direction",
                f"direction conflict: {where} {field_map.hub_field} is written only by the hub's workflow; "
                "map it to Salesforce only",
            )
        )
    _check_value_map(problems, f"{path}.value_map", field_map, hub, where)


def _check_reference(
    problems: list[MappingProblem],
    path: str,
    reference: ReferenceMap,
    fields: dict[str, HubField],
    where: str,
    allowed_placeholders: set[str],
    owned: frozenset[str],
) -> None:
    hub = _hub_field(problems, f"{path}.hub_field", reference.hub_field, fields, where, custom_fields=True)
    if hub is not None and hub.kind not in (FieldKind.TEXT, FieldKind.CUSTOM):
        problems.append(MappingProblem(f"{path}.hub_field", f"a reference holds a hub id (text), not {hub.kind.value}"))
    if reference.parent not in ENTITY_PARENTS and not SALESFORCE_NAME.match(reference.parent):
        problems.append(
            MappingProblem(
                f"{path}.parent",
                f"{reference.parent!r} is neither a hub entity ({', '.join(sorted(ENTITY_PARENTS))}) "
                "nor a Salesforce object name",
            )
        )
    try:
        unknown = [name for name in _placeholders(reference.key_format) if name not in allowed_placeholders]
    except ValueError as exc:
        problems.append(MappingProblem(f"{path}.key_format", f"not a valid format: {exc}"))
    else:
        if unknown:
            problems.append(
                MappingProblem(
                    f"{path}.key_format",
                    f"unknown placeholder(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed_placeholders))})",
                )
            )
    if reference.direction.imports and reference.key_format != "{value}":
        problems.append(
            MappingProblem(
                f"{path}.direction",
                "direction conflict: a reference keyed by a key_format other than {value} cannot be imported "
                "(the key does not give back the hub field); map it to Salesforce only",
            )
        )
    if reference.direction.imports and reference.hub_field in owned:
        problems.append(
            MappingProblem(f"{path}.direction", f"direction conflict: {where} {reference.hub_field} is hub-owned")
        )


def _check_duplicates(
    problems: list[MappingProblem],
    prefix: str,
    field_maps: list[FieldMap],
    references: list[ReferenceMap],
    external_id_field: str,
    reserved: dict[str, str],
) -> None:
    written_in_salesforce: dict[str, str] = {name.lower(): who for name, who in reserved.items()}
    written_in_salesforce[external_id_field.lower()] = "the sync itself (it holds the hub id)"
    written_in_hub: dict[str, str] = {}
    entries: list[tuple[str, SyncDirection, str, list[str]]] = [
        (f"{prefix}field_mapping[{index}]", item.direction, item.hub_field, item.targets)
        for index, item in enumerate(field_maps)
    ]
    entries += [
        (f"{prefix}references[{index}]", item.direction, item.hub_field, [item.salesforce_field])
        for index, item in enumerate(references)
    ]
    for path, direction, hub_field, targets in entries:
        if direction.exports:
            for target in targets:
                other = written_in_salesforce.get(target.lower())
                if other is not None:
                    problems.append(
                        MappingProblem(path, f"duplicate target: Salesforce field {target} is also written by {other}")
                    )
                else:
                    written_in_salesforce[target.lower()] = path
        if direction.imports:
            other = written_in_hub.get(hub_field)
            if other is not None:
                problems.append(
                    MappingProblem(path, f"duplicate target: hub field {hub_field} is also imported by {other}")
                )
            else:
                written_in_hub[hub_field] = path


def check_mapping(mapping: EntityMapping) -> list[MappingProblem]:
    """Every mistake in the mapping, each with its path; an empty list means it can be saved."""
    problems: list[MappingProblem] = []
    fields = entity_fields(mapping.entity)
    where = mapping.entity.value
    owned = HUB_OWNED_FIELDS.get(mapping.entity, frozenset())
    for index, field_map in enumerate(mapping.field_mapping):
        _check_field_map(problems, f"field_mapping[{index}]", field_map, fields, where, owned, custom_fields=True)
    for index, reference in enumerate(mapping.references):
        _check_reference(problems, f"references[{index}]", reference, fields, where, {"value"}, owned)
    _check_duplicates(
        problems,
        "",
        mapping.field_mapping,
        mapping.references,
        mapping.external_id_field,
        reserved=RESERVED_SALESFORCE_FIELDS.get(mapping.entity, {}),
    )
    seen_children: dict[str, int] = {}
    for index, child in enumerate(mapping.children):
        path = f"children[{index}]"
        if child.hub_field in seen_children:
            first = f"children[{seen_children[child.hub_field]}]"
            problems.append(
                MappingProblem(f"{path}.hub_field", f"duplicate target: {child.hub_field} is already mapped by {first}")
            )
        seen_children.setdefault(child.hub_field, index)
        if child.direction.imports:
            problems.append(
                MappingProblem(f"{path}.direction", "child rows sync to Salesforce only (importing them is not built)")
            )
        list_field = fields.get(child.hub_field)
        if list_field is None or list_field.item_model is None:
            lists = [name for name, item in fields.items() if item.item_model is not None]
            problems.append(
                MappingProblem(
                    f"{path}.hub_field",
                    f"{where} has no list of rows named {child.hub_field!r} (lists: {', '.join(lists) or 'none'})",
                )
            )
            continue
        item_fields = model_fields(list_field.item_model)
        child_where = f"{where} {child.hub_field}"
        for name in child.only_where:
            if name not in item_fields:
                problems.append(MappingProblem(f"{path}.only_where", f"unknown field {name!r} of {child_where} items"))
        allowed = {"parent_id", "index", *item_fields}
        try:
            unknown = [name for name in _placeholders(child.external_id_format) if name not in allowed]
        except ValueError as exc:
            problems.append(MappingProblem(f"{path}.external_id_format", f"not a valid format: {exc}"))
        else:
            if unknown or "parent_id" not in set(_placeholders(child.external_id_format)):
                problems.append(
                    MappingProblem(
                        f"{path}.external_id_format",
                        "needs {parent_id} and only these placeholders: "
                        + ", ".join(sorted(allowed))
                        + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
                    )
                )
        for field_index, field_map in enumerate(child.field_mapping):
            _check_field_map(
                problems,
                f"{path}.field_mapping[{field_index}]",
                field_map,
                item_fields,
                child_where,
                frozenset(),
                custom_fields=False,
            )
        parent_placeholders = {"value", *(f"parent[{name}]" for name in fields)}
        for reference_index, reference in enumerate(child.references):
            _check_reference(
                problems,
                f"{path}.references[{reference_index}]",
                reference,
                item_fields,
                child_where,
                parent_placeholders,
                frozenset(),
            )
        _check_duplicates(
            problems,
            f"{path}.",
            child.field_mapping,
            child.references,
            child.external_id_field,
            reserved={child.parent_field: "the sync itself (the link to the parent record)"},
        )
    return problems
