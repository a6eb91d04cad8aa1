"""Mapping validation: every mistake reported with its path and a message that says what to do."""

from __future__ import annotations

from typing import Any

import pytest

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.defaults import DEFAULT_MAPPINGS
from sync_core.domain.sync.mapping import EntityMapping, check_mapping


def problems(data: dict[str, Any]) -> dict[str, str]:
    return {item.path: item.message for item in check_mapping(EntityMapping.model_validate(data))}


def contact(*field_mapping: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"entity": "Contact", "salesforce_object": "Contact", "field_mapping": list(field_mapping), **extra}


@pytest.mark.parametrize("entity", list(EntityName))
def test_every_default_mapping_is_valid(entity: EntityName) -> None:
    assert check_mapping(DEFAULT_MAPPINGS[entity]) == []


def test_every_mistake_is_reported_at_once_with_its_path() -> None:
    found = problems(
        contact(
            {"hub_field": "last_name", "salesforce_field": "LastName"},
            {"hub_field": "nickname", "salesforce_field": "Nickname__c"},
            {"hub_field": "email", "salesforce_field": "Email", "transform": "shout"},
            {"hub_field": "title", "salesforce_field": "LastName"},
            {"hub_field": "custom_fields.Region", "salesforce_field": "Region__c"},
            {"hub_field": "custom_fields.9bad", "salesforce_field": "Bad__c"},
            {"hub_field": "mailing_address", "salesforce_field": "MailingAddress"},
            {"hub_field": "phone", "salesforce_field": "Hub_Id__c"},
        )
    )
    assert found.keys() == {
        "field_mapping[1].hub_field",
        "field_mapping[2].transform",
        "field_mapping[3]",
        "field_mapping[5].hub_field",
        "field_mapping[6].hub_field",
        "field_mapping[7]",
    }
    assert found["field_mapping[1].hub_field"].startswith("unknown hub field 'nickname' for Contact (known: ")
    assert found["field_mapping[2].transform"].startswith("unknown transform 'shout' (known: split_name")
    assert (
        found["field_mapping[3]"] == "duplicate target: Salesforce field LastName is also written by field_mapping[0]"
    )
    assert "must be letters, digits and _" in found["field_mapping[5].hub_field"]
    assert "is not one value (object): map its parts" in found["field_mapping[6].hub_field"]
    assert "Hub_Id__c is also written by the sync itself" in found["field_mapping[7]"]


def test_split_name_needs_two_salesforce_fields_and_one_field_needs_no_more() -> None:
    found = problems(
        {
            "entity": "Account",
            "salesforce_object": "Account",
            "field_mapping": [
                {"hub_field": "name", "salesforce_fields": ["FirstName__c", "LastName__c"], "transform": "split_name"},
                {"hub_field": "phone", "salesforce_fields": ["Phone", "Fax"]},
                {"hub_field": "description", "salesforce_fields": ["Description"], "transform": "split_name"},
                {"hub_field": "website"},
            ],
        }
    )
    assert "field_mapping[0].salesforce_fields" not in found
    assert found["field_mapping[1].salesforce_fields"].startswith("no transform maps to 1 Salesforce field(s), not 2")
    assert found["field_mapping[2].salesforce_fields"].startswith("split_name maps to 2 Salesforce field(s), not 1")
    assert found["field_mapping[3].salesforce_field"] == "missing: which Salesforce field it maps to"


def test_value_maps_are_checked_against_the_hub_field() -> None:
    found = problems(
        {
            "entity": "Lead",
            "salesforce_object": "Lead",
            "field_mapping": [
                {
                    "hub_field": "status",
                    "salesforce_field": "Status",
                    "value_map": {
                        "values": {"Open - Not Contacted": "Open", "Working - Contacted": "Open", "Lost": "Closed"},
                        "unmapped": "default",
                    },
                },
                {
                    "hub_field": "rating",
                    "salesforce_field": "Rating",
                    "transform": "upper",
                    "value_map": {"values": {"hot": "Hot"}},
                },
            ],
        }
    )
    assert found["field_mapping[0].value_map.values"].startswith("'Lost' is not a value of Lead status (known: ")
    assert found["field_mapping[0].value_map.default_salesforce"] == "unmapped=default needs default_salesforce"
    assert found["field_mapping[0].value_map.default_hub"] == "unmapped=default needs default_hub"
    assert found["field_mapping[0].value_map.inbound"].startswith(
        "direction conflict: Salesforce value 'Open' comes from 'Open - Not Contacted' and 'Working - Contacted'"
    )
    assert found["field_mapping[1].value_map"] == "a field takes a value map or a transform, not both"


def test_a_many_to_one_value_map_is_fine_one_way_or_with_an_inbound_choice() -> None:
    values = {"Open - Not Contacted": "Open", "Working - Contacted": "Open"}
    one_way = {"hub_field": "status", "salesforce_field": "Status", "direction": "to Salesforce"}
    chosen = {"hub_field": "status", "salesforce_field": "Status"}
    for base, inbound in ((one_way, {}), (chosen, {"Open": "Working - Contacted"})):
        field_map = {**base, "value_map": {"values": values, "inbound": inbound}}
        assert problems({"entity": "Lead", "salesforce_object": "Lead", "field_mapping": [field_map]}) == {}


def test_hub_owned_case_fields_never_import_and_the_case_status_map_owns_status() -> None:
    found = problems(
        {
            "entity": "Case",
            "salesforce_object": "Case",
            "field_mapping": [
                {"hub_field": "status", "salesforce_field": "Status__c"},
                {"hub_field": "subject", "salesforce_field": "Status"},
                {"hub_field": "reason", "salesforce_field": "Reason__c", "direction": "to Salesforce"},
            ],
        }
    )
    assert found["field_mapping[0].direction"].startswith("direction conflict: Case status is written only by the hub")
    assert found["field_mapping[1]"] == (
        "duplicate target: Salesforce field Status is also written by the case workflow's status map"
    )
    assert "field_mapping[2].direction" not in found


def test_references_and_children_are_checked() -> None:
    found = problems(
        {
            "entity": "Quote",
            "salesforce_object": "Quote",
            "references": [
                {"hub_field": "account", "salesforce_field": "AccountId", "parent": "Account"},
                {"hub_field": "contact_id", "salesforce_field": "ContactId", "parent": "Contact", "key_format": "{x}"},
                {"hub_field": "opportunity_id", "salesforce_field": "OpportunityId", "parent": "Opp ortunity"},
                {"hub_field": "contact_id", "salesforce_field": "Contact2__c", "parent": "Contact"},
            ],
            "children": [
                {
                    "hub_field": "lines",
                    "salesforce_object": "QuoteLineItem",
                    "parent_field": "QuoteId",
                    "external_id_format": "{index}:{sku}",
                    "only_where": {"colour": "red"},
                    "field_mapping": [
                        {"hub_field": "quantity", "salesforce_field": "Quantity"},
                        {"hub_field": "price", "salesforce_field": "UnitPrice"},
                        {"hub_field": "description", "salesforce_field": "QuoteId"},
                    ],
                },
                {
                    "hub_field": "notes",
                    "salesforce_object": "Note",
                    "parent_field": "ParentId",
                    "external_id_format": "",
                    "direction": "both",
                },
            ],
        }
    )
    assert found["references[0].hub_field"].startswith("unknown hub field 'account' for Quote")
    assert found["references[1].key_format"] == "unknown placeholder(s) x (allowed: value)"
    assert found["references[2].parent"].startswith("'Opp ortunity' is neither a hub entity")
    assert found["references[3]"] == "duplicate target: hub field contact_id is also imported by references[1]"
    assert found["children[0].external_id_format"].startswith("needs {parent_id} and only these placeholders:")
    assert "(unknown: sku)" in found["children[0].external_id_format"]
    assert found["children[0].only_where"] == "unknown field 'colour' of Quote lines items"
    assert found["children[0].field_mapping[1].hub_field"].startswith("unknown hub field 'price' for Quote lines")
    assert found["children[0].field_mapping[2]"] == (
        "duplicate target: Salesforce field QuoteId is also written by the sync itself (the link to the parent record)"
    )
    assert found["children[1].hub_field"] == "Quote has no list of rows named 'notes' (lists: lines)"
    assert found["children[1].direction"] == "child rows sync to Salesforce only (importing them is not built)"


def test_a_reference_keyed_by_more_than_its_value_goes_to_salesforce_only() -> None:
    reference = {
        "hub_field": "product_id",
        "salesforce_field": "PricebookEntryId",
        "parent": "PricebookEntry",
        "key_format": "{value}:{parent[price_book]}",
    }
    child = {
        "hub_field": "lines",
        "salesforce_object": "QuoteLineItem",
        "parent_field": "QuoteId",
        "external_id_format": "{parent_id}:{index}",
        "references": [reference],
    }
    found = problems({"entity": "Quote", "salesforce_object": "Quote", "children": [child]})
    assert found["children[0].references[0].direction"].startswith("direction conflict: a reference keyed by")
    child["references"] = [{**reference, "direction": "to Salesforce"}]
    assert problems({"entity": "Quote", "salesforce_object": "Quote", "children": [child]}) == {}
