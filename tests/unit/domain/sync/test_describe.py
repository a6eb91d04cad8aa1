"""Default mappings checked against the Salesforce emulator's describe; the describe check catches each misfit."""

from __future__ import annotations

from typing import Any

import pytest

from local.sf_emulator.schema import build_schemas
from sync_core.domain.entities import EntityName
from sync_core.domain.sync.defaults import DEFAULT_MAPPINGS
from sync_core.domain.sync.describe import check_against_describe
from sync_core.domain.sync.mapping import RESERVED_SALESFORCE_FIELDS, EntityMapping
from sync_core.domain.sync_config import EXPORT_ONLY_ENTITIES

OBJECTS = {entity: mapping.salesforce_object for entity, mapping in DEFAULT_MAPPINGS.items()}


@pytest.fixture(scope="module")
def org() -> dict[str, dict[str, Any]]:
    """The emulator's `GET /sobjects/{name}/describe` answers, as the sync administration would read them."""
    return {schema.name: schema.describe("62.0") for schema in build_schemas().values()}


def check(mapping: EntityMapping, describes: dict[str, dict[str, Any]]) -> dict[str, str]:
    reserved = tuple(RESERVED_SALESFORCE_FIELDS.get(mapping.entity, {}))
    found = check_against_describe(mapping, describes, objects_of_entities=OBJECTS, reserved_fields=reserved)
    return {item.path: item.message for item in found}


@pytest.mark.parametrize("entity", [entity for entity in EntityName if entity not in EXPORT_ONLY_ENTITIES])
def test_every_default_mapping_fits_the_emulated_org(entity: EntityName, org: dict[str, dict[str, Any]]) -> None:
    assert check(DEFAULT_MAPPINGS[entity], org) == {}


def _custom_object(name: str, fields: dict[str, str], lookups: dict[str, str]) -> dict[str, Any]:
    """A custom object as an administrator creates it (docs/sync.md lists these fields)."""
    described = [
        {"name": "Id", "type": "id", "nillable": False},
        {
            "name": "Hub_Id__c",
            "type": "string",
            "length": 255,
            "createable": True,
            "updateable": True,
            "externalId": True,
        },
    ]
    lengths = {"string": 255, "textarea": 32000}
    described += [
        {"name": field, "type": kind, "length": lengths.get(kind, 0), "createable": True, "updateable": True}
        for field, kind in fields.items()
    ]
    described += [
        {"name": field, "type": "reference", "referenceTo": [target], "createable": True, "updateable": True}
        for field, target in lookups.items()
    ]
    return {"name": name, "fields": described}


def test_the_export_only_defaults_fit_the_custom_objects_docs_sync_md_describes(org: dict[str, dict[str, Any]]) -> None:
    customs = {
        "Invoice__c": _custom_object(
            "Invoice__c",
            {
                "Invoice_Date__c": "datetime",
                "Currency__c": "string",
                "Description__c": "string",
                "Total__c": "currency",
            },
            {"Case__c": "Case", "Account__c": "Account", "Contact__c": "Contact"},
        ),
        "Invoice_Line__c": _custom_object(
            "Invoice_Line__c",
            {"Description__c": "string", "Hours__c": "double", "Unit_Price__c": "currency", "Amount__c": "currency"},
            {"Invoice__c": "Invoice__c"},
        ),
        "Contract_Usage__c": _custom_object(
            "Contract_Usage__c",
            {
                "Contract_Id__c": "string",
                "Usage_Date__c": "datetime",
                "Billable_Minutes__c": "double",
                "Billable_Overtime_Minutes__c": "double",
                "Description__c": "string",
            },
            {"Case__c": "Case", "Account__c": "Account"},
        ),
    }
    describes = {**org, **customs}
    assert check(DEFAULT_MAPPINGS[EntityName.INVOICE], describes) == {}
    assert check(DEFAULT_MAPPINGS[EntityName.CONTRACT_USAGE], describes) == {}
    # Without the custom objects the export-only defaults cannot run: that is why they are stopped.
    assert check(DEFAULT_MAPPINGS[EntityName.INVOICE], org) == {
        "salesforce_object": "Salesforce has no object Invoice__c (or it was not described)"
    }


def test_each_misfit_with_the_org_is_reported(org: dict[str, dict[str, Any]]) -> None:
    mapping = EntityMapping.model_validate(
        {
            "entity": "Lead",
            "salesforce_object": "Lead",
            "field_mapping": [
                {"hub_field": "company", "salesforce_field": "Company"},
                {"hub_field": "first_name", "salesforce_field": "Nickname"},
                {"hub_field": "email", "salesforce_field": "Name"},
                {"hub_field": "description", "salesforce_field": "Title"},
                {"hub_field": "title", "salesforce_field": "Website", "transform": "truncate:300"},
                {
                    "hub_field": "status",
                    "salesforce_field": "Status",
                    "value_map": {"values": {"Open - Not Contacted": "Fresh"}, "unmapped": "pass through"},
                },
                {"hub_field": "custom_fields.Start", "salesforce_field": "Phone", "transform": "date:%d/%m/%Y"},
            ],
        }
    )
    found = check(mapping, org)
    assert found == {
        "field_mapping": "Salesforce requires Lead.LastName on create but nothing maps to it",
        "field_mapping[1].salesforce_field": "Salesforce Lead has no field Nickname",
        "field_mapping[2].salesforce_field": "Salesforce Lead.Name is read-only; map it from Salesforce only",
        "field_mapping[3].salesforce_field": (
            "Salesforce Lead.Title holds 128 characters but the hub's description up to 32000: "
            "add transform truncate:128"
        ),
        "field_mapping[4].transform": "truncate:300 is longer than Salesforce Lead.Website (255)",
        "field_mapping[5].value_map": (
            "add it to the value map: hub status 'Open - Not Contacted' would send 'Fresh', which is not in "
            "Salesforce Lead.Status (Open - Not Contacted, Working - Contacted, Closed - Converted, "
            "Closed - Not Converted)"
        ),
        "field_mapping[6].salesforce_field": (
            "the hub's custom_fields.Start (date) does not fit Salesforce Lead.Phone (phone)"
        ),
    }


def test_a_hub_picklist_salesforce_does_not_know_needs_a_value_map(org: dict[str, dict[str, Any]]) -> None:
    describes = dict(org)
    lead = dict(describes["Lead"])
    lead["fields"] = [
        {**field, "picklistValues": [{"value": "Open"}, {"value": "Closed"}]} if field["name"] == "Status" else field
        for field in lead["fields"]
    ]
    describes["Lead"] = lead
    found = check(DEFAULT_MAPPINGS[EntityName.LEAD], describes)
    assert found["field_mapping[6].value_map"].startswith("value map missing: ")


def test_fields_salesforce_sets_only_on_create_need_create_only_and_lookups_their_object(
    org: dict[str, dict[str, Any]],
) -> None:
    mapping = EntityMapping.model_validate(
        {
            "entity": "Quote",
            "salesforce_object": "Quote",
            "field_mapping": [{"hub_field": "name", "salesforce_field": "Name"}],
            "references": [
                {"hub_field": "opportunity_id", "salesforce_field": "OpportunityId", "parent": "Opportunity"},
                {"hub_field": "contact_id", "salesforce_field": "Pricebook2Id", "parent": "Contact"},
                {"hub_field": "account_id", "salesforce_field": "Name", "parent": "Account"},
            ],
        }
    )
    found = check(mapping, org)
    assert found["references[0].salesforce_field"] == (
        "Salesforce Quote.OpportunityId cannot be updated, only set on create: mark the mapping create_only"
    )
    assert found["references[1].parent"] == "Salesforce Quote.Pricebook2Id points at Pricebook2, not Contact"
    assert found["references[2].salesforce_field"] == "Salesforce Quote.Name is not a lookup"


def test_a_custom_external_id_field_must_exist_as_an_external_id(org: dict[str, dict[str, Any]]) -> None:
    mapping = DEFAULT_MAPPINGS[EntityName.ACCOUNT].model_copy(update={"external_id_field": "AccountNumber"})
    assert check(mapping, org) == {"external_id_field": "Salesforce Account has no external id field AccountNumber"}
