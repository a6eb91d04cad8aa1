"""A mapping checked against Salesforce's describe of its objects: names, types, lengths, picklists, writability.

`check_mapping` knows the hub; this knows the org. The sync administration runs both when a mapping is
saved (with the org's describe), and the tests run this one against the emulator's describe for every
default mapping, so a default that names a field Salesforce lacks, or sends a value Salesforce refuses,
cannot ship.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.hub_schema import FieldKind, HubField, entity_fields, find_field, model_fields
from sync_core.domain.sync.mapping import ENTITY_PARENTS, EntityMapping, FieldMap, MappingProblem, ReferenceMap
from sync_core.domain.sync.policy import SyncDirection, UnmappedValuePolicy
from sync_core.domain.sync.transforms import parse_transform

# Which Salesforce field types take which hub kinds (a transform may change the kind it sends).
COMPATIBLE_TYPES: dict[FieldKind, frozenset[str]] = {
    FieldKind.TEXT: frozenset({"string", "textarea", "picklist", "multipicklist", "combobox", "email", "phone", "url"}),
    FieldKind.ENUM: frozenset({"picklist", "string", "combobox"}),
    FieldKind.INTEGER: frozenset({"int", "double", "currency", "percent", "long"}),
    FieldKind.NUMBER: frozenset({"double", "currency", "percent"}),
    FieldKind.BOOLEAN: frozenset({"boolean"}),
    FieldKind.DATE: frozenset({"date"}),
    FieldKind.DATETIME: frozenset({"datetime"}),
}
TEXT_TYPES = COMPATIBLE_TYPES[FieldKind.TEXT]
# What a transform sends, whatever the hub keeps.
TRANSFORM_SENDS: dict[str, FieldKind] = {
    "date": FieldKind.DATE,
    "datetime": FieldKind.DATETIME,
    "decimal": FieldKind.NUMBER,
    "number": FieldKind.NUMBER,
}


class PicklistEntry(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    value: str
    active: bool = True


class DescribedField(BaseModel):
    """The parts of a describe's field that a mapping check needs."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    name: str
    type: str
    length: int = 0
    createable: bool = False
    updateable: bool = False
    nillable: bool = True
    defaulted_on_create: bool = Field(default=False, validation_alias=AliasChoices("defaultedOnCreate"))
    external_id: bool = Field(default=False, validation_alias=AliasChoices("externalId"))
    picklist_values: list[PicklistEntry] = Field(default_factory=list, validation_alias=AliasChoices("picklistValues"))
    restricted_picklist: bool = Field(default=False, validation_alias=AliasChoices("restrictedPicklist"))
    reference_to: list[str] = Field(default_factory=list, validation_alias=AliasChoices("referenceTo"))

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted_on_create and self.type != "boolean"

    @property
    def active_values(self) -> list[str]:
        return [entry.value for entry in self.picklist_values if entry.active]


class DescribedObject(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    fields: list[DescribedField]

    def field(self, name: str) -> DescribedField | None:
        wanted = name.lower()  # Salesforce API names are case-insensitive
        return next((item for item in self.fields if item.name.lower() == wanted), None)


def _described(describes: Mapping[str, DescribedObject | Mapping[str, Any]]) -> dict[str, DescribedObject]:
    return {
        name.lower(): item if isinstance(item, DescribedObject) else DescribedObject.model_validate(item)
        for name, item in describes.items()
    }


class _Checker:
    def __init__(self, describes: dict[str, DescribedObject], objects_of_entities: Mapping[EntityName, str]) -> None:
        self.describes = describes
        self.objects_of_entities = objects_of_entities
        self.problems: list[MappingProblem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(MappingProblem(path, message))

    def described(self, path: str, name: str) -> DescribedObject | None:
        found = self.describes.get(name.lower())
        if found is None:
            self.problem(path, f"Salesforce has no object {name} (or it was not described)")
        return found

    def salesforce_field(
        self, path: str, sobject: DescribedObject, name: str, direction: SyncDirection, *, create_only: bool
    ) -> DescribedField | None:
        found = sobject.field(name)
        if found is None:
            self.problem(path, f"Salesforce {sobject.name} has no field {name}")
            return None
        if direction.exports:
            if not found.createable and not found.updateable:
                self.problem(path, f"Salesforce {sobject.name}.{found.name} is read-only; map it from Salesforce only")
            elif not found.updateable and not create_only:
                self.problem(
                    path,
                    f"Salesforce {sobject.name}.{found.name} cannot be updated, only set on create: "
                    "mark the mapping create_only",
                )
        return found

    def field_map(self, path: str, field_map: FieldMap, hub: HubField | None, sobject: DescribedObject) -> None:
        transform_name, argument = None, None
        if field_map.transform:
            try:
                transform, argument = parse_transform(field_map.transform)
                transform_name = transform.name
            except ValueError:
                return  # check_mapping reports it
        for index, target in enumerate(field_map.targets):
            target_path = (
                f"{path}.salesforce_fields[{index}]" if field_map.salesforce_fields else f"{path}.salesforce_field"
            )
            found = self.salesforce_field(
                target_path, sobject, target, field_map.direction, create_only=field_map.create_only
            )
            if found is None or hub is None:
                continue
            sends = TRANSFORM_SENDS.get(transform_name or "", hub.kind)
            if sends is not FieldKind.CUSTOM and found.type not in COMPATIBLE_TYPES.get(sends, frozenset()):
                self.problem(
                    target_path,
                    f"the hub's {field_map.hub_field} ({sends.value}) does not fit Salesforce "
                    f"{sobject.name}.{found.name} ({found.type})",
                )
                continue
            if field_map.direction.exports and found.type in TEXT_TYPES and found.length:
                self.length(target_path, field_map, hub, found, sobject, transform_name, argument)
            if found.type in ("picklist", "multipicklist") and hub.enum_values:
                self.picklist(path, field_map, hub, found, sobject)

    def length(
        self,
        path: str,
        field_map: FieldMap,
        hub: HubField,
        found: DescribedField,
        sobject: DescribedObject,
        transform_name: str | None,
        argument: str | None,
    ) -> None:
        if transform_name == "truncate":
            if argument and int(argument) > found.length:
                self.problem(
                    f"{path.rsplit('.', 1)[0]}.transform",
                    f"truncate:{argument} is longer than Salesforce {sobject.name}.{found.name} ({found.length})",
                )
            return
        if transform_name == "split_name" or hub.max_length is None:
            return
        if hub.max_length > found.length:
            self.problem(
                path,
                f"Salesforce {sobject.name}.{found.name} holds {found.length} characters but the hub's "
                f"{field_map.hub_field} up to {hub.max_length}: add transform truncate:{found.length}",
            )

    def picklist(
        self, path: str, field_map: FieldMap, hub: HubField, found: DescribedField, sobject: DescribedObject
    ) -> None:
        allowed = found.active_values
        value_map = field_map.value_map
        if field_map.direction.exports:
            for hub_value in hub.enum_values:
                sent = value_map.values.get(hub_value) if value_map else hub_value
                if sent is None and value_map is not None and value_map.unmapped is UnmappedValuePolicy.DEFAULT:
                    sent = value_map.default_salesforce
                if sent is not None and sent not in allowed:
                    fix = "add it to the value map" if value_map else "value map missing"
                    self.problem(
                        f"{path}.value_map",
                        f"{fix}: hub {field_map.hub_field} {hub_value!r} would send {sent!r}, which is not in "
                        f"Salesforce {sobject.name}.{found.name} ({', '.join(allowed)})",
                    )
        if field_map.direction.imports:
            inbound = value_map.salesforce_to_hub() if value_map else {}
            refuses = value_map is None or value_map.unmapped is UnmappedValuePolicy.REFUSE
            for salesforce_value in allowed:
                received = inbound.get(salesforce_value, salesforce_value if value_map is None else None)
                if received not in hub.enum_values and refuses:
                    fix = "add it to value_map.inbound" if value_map else "value map missing"
                    self.problem(
                        f"{path}.value_map",
                        f"{fix}: Salesforce {sobject.name}.{found.name} {salesforce_value!r} has no hub "
                        f"{field_map.hub_field} value ({', '.join(hub.enum_values)})",
                    )

    def reference(self, path: str, reference: ReferenceMap, sobject: DescribedObject) -> None:
        found = self.salesforce_field(
            f"{path}.salesforce_field",
            sobject,
            reference.salesforce_field,
            reference.direction,
            create_only=reference.create_only,
        )
        if found is None:
            return
        if found.type != "reference":
            self.problem(f"{path}.salesforce_field", f"Salesforce {sobject.name}.{found.name} is not a lookup")
            return
        target = (
            self.objects_of_entities.get(EntityName(reference.parent))
            if reference.parent in ENTITY_PARENTS
            else reference.parent
        )
        if target and target not in found.reference_to:
            self.problem(
                f"{path}.parent",
                f"Salesforce {sobject.name}.{found.name} points at {', '.join(found.reference_to)}, not {target}",
            )

    def required(self, path: str, sobject: DescribedObject, written: set[str]) -> None:
        for item in sobject.fields:
            if item.required_on_create and item.name.lower() not in written:
                self.problem(path, f"Salesforce requires {sobject.name}.{item.name} on create but nothing maps to it")

    def external_id(self, path: str, sobject: DescribedObject, name: str) -> None:
        found = sobject.field(name)
        if found is None or not found.external_id:
            self.problem(path, f"Salesforce {sobject.name} has no external id field {name}")


def _written(field_maps: list[FieldMap], references: list[ReferenceMap], *extra: str) -> set[str]:
    names = {target.lower() for item in field_maps if item.direction.exports for target in item.targets}
    names |= {item.salesforce_field.lower() for item in references if item.direction.exports}
    return names | {name.lower() for name in extra}


def check_against_describe(
    mapping: EntityMapping,
    describes: Mapping[str, DescribedObject | Mapping[str, Any]],
    *,
    objects_of_entities: Mapping[EntityName, str] | None = None,
    reserved_fields: tuple[str, ...] = (),
) -> list[MappingProblem]:
    """Every way the mapping does not fit the org, by path. `describes` is keyed by object name and holds
    `GET /sobjects/{name}/describe` answers; `objects_of_entities` says which object each entity maps to
    (for references); `reserved_fields` are written outside the mapping (e.g. Case Status)."""
    checker = _Checker(_described(describes), objects_of_entities or {})
    sobject = checker.described("salesforce_object", mapping.salesforce_object)
    if sobject is None:
        return checker.problems
    checker.external_id("external_id_field", sobject, mapping.external_id_field)
    fields = entity_fields(mapping.entity)
    for index, field_map in enumerate(mapping.field_mapping):
        hub = find_field(fields, field_map.hub_field, custom_fields=True)
        checker.field_map(f"field_mapping[{index}]", field_map, hub, sobject)
    for index, reference in enumerate(mapping.references):
        checker.reference(f"references[{index}]", reference, sobject)
    checker.required(
        "field_mapping",
        sobject,
        _written(mapping.field_mapping, mapping.references, mapping.external_id_field, *reserved_fields),
    )
    for index, child in enumerate(mapping.children):
        path = f"children[{index}]"
        child_object = checker.described(f"{path}.salesforce_object", child.salesforce_object)
        list_field = fields.get(child.hub_field)
        if child_object is None or list_field is None or list_field.item_model is None:
            continue
        checker.external_id(f"{path}.external_id_field", child_object, child.external_id_field)
        parent_field = child_object.field(child.parent_field)
        if parent_field is None or parent_field.type != "reference":
            checker.problem(
                f"{path}.parent_field", f"Salesforce {child_object.name} has no lookup {child.parent_field}"
            )
        elif sobject.name not in parent_field.reference_to:
            checker.problem(
                f"{path}.parent_field",
                f"Salesforce {child_object.name}.{parent_field.name} points at "
                f"{', '.join(parent_field.reference_to)}, not {sobject.name}",
            )
        item_fields = model_fields(list_field.item_model)
        for field_index, field_map in enumerate(child.field_mapping):
            hub = find_field(item_fields, field_map.hub_field, custom_fields=False)
            checker.field_map(f"{path}.field_mapping[{field_index}]", field_map, hub, child_object)
        for reference_index, reference in enumerate(child.references):
            checker.reference(f"{path}.references[{reference_index}]", reference, child_object)
        checker.required(
            f"{path}.field_mapping",
            child_object,
            _written(child.field_mapping, child.references, child.external_id_field, child.parent_field),
        )
    return checker.problems
