"""Every default mapping round-trips: what the hub exports, imported back, gives the same hub values.

Random records of each entity (hypothesis, seeded) go to Salesforce values and back through the same
links; every field mapped both ways must come back equal, so a default mapping can never make a record
drift on its own (which would export and import it forever).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.domain.sync.defaults import DEFAULT_MAPPINGS
from sync_core.domain.sync.hub_schema import FieldKind, entity_fields, get_path, set_path
from sync_core.domain.sync.mapping import EntityMapping
from sync_core.domain.sync.translate import ExportValues, ImportChanges, LinkTable, from_salesforce, to_salesforce

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
TWO_WAY_ENTITIES = [EntityName.ACCOUNT, EntityName.CONTACT, EntityName.LEAD, EntityName.OPPORTUNITY, EntityName.QUOTE]
_text = st.text(alphabet="abcdefghij XYZ-.", min_size=1, max_size=12).map(str.strip).filter(bool)


def _value(mapping: EntityMapping, hub_field: str) -> st.SearchStrategy[Any]:
    described = entity_fields(mapping.entity).get(hub_field)
    kind = described.kind if described else FieldKind.TEXT
    if described is not None and described.enum_values:
        return st.sampled_from(described.enum_values)
    return {
        FieldKind.INTEGER: st.integers(min_value=0, max_value=10**6),
        FieldKind.NUMBER: st.integers(min_value=0, max_value=10**6).map(lambda cents: cents / 100),
        FieldKind.BOOLEAN: st.booleans(),
        FieldKind.DATE: st.dates().map(lambda day: day.isoformat()),
    }.get(kind, _text)


@st.composite
def hub_fields(draw: st.DrawFn, mapping: EntityMapping) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for field_map in mapping.field_mapping:
        if draw(st.booleans()):
            value = draw(_value(mapping, field_map.hub_field))
            if field_map.transform == "decimal:0":
                value = round(value)
            fields = set_path(fields, field_map.hub_field, value)
    for reference in mapping.references:
        if reference.parent in ("Account", "Contact", "Opportunity") and draw(st.booleans()):
            fields = set_path(fields, reference.hub_field, f"{reference.parent[:3].upper()}-000001")
    return fields


def _links() -> LinkTable:
    links = LinkTable()
    links.link("Account", "ACC-000001", "001000000000001AAA")
    links.link("Contact", "CON-000001", "003000000000001AAA")
    links.link("Opportunity", "OPP-000001", "006000000000001AAA")
    links.link("Pricebook2", "Standard", "01s000000000001AAA")
    return links


@pytest.mark.parametrize("entity", TWO_WAY_ENTITIES)
def test_the_default_mapping_round_trips(entity: EntityName) -> None:
    mapping = DEFAULT_MAPPINGS[entity]

    @settings(max_examples=40, derandomize=True, deadline=None)
    @given(hub_fields(mapping))
    def round_trip(fields: dict[str, Any]) -> None:
        record = HubRecord(
            entity=entity, id="X-000001", version=1, fields=fields, created_at=NOW, updated_at=NOW, updated_by="u"
        )
        exported = to_salesforce(record, mapping, _links())
        assert isinstance(exported, ExportValues)
        back = from_salesforce(exported.row.values, mapping, _links(), current=fields)
        assert isinstance(back, ImportChanges)
        for hub_field, value in back.changes.items():
            assert value == get_path(fields, hub_field), hub_field

    round_trip()
