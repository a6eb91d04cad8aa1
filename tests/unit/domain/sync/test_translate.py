"""to_salesforce / from_salesforce through the default and custom mappings, with links set up in memory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.domain.sync.defaults import DEFAULT_MAPPINGS
from sync_core.domain.sync.mapping import EntityMapping
from sync_core.domain.sync.translate import (
    ExportValues,
    ImportChanges,
    LinkTable,
    MappingFailure,
    WaitsForParent,
    from_salesforce,
    to_salesforce,
)

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def record(entity: EntityName, record_id: str, **fields: Any) -> HubRecord:
    return HubRecord(
        entity=entity, id=record_id, version=1, fields=fields, created_at=NOW, updated_at=NOW, updated_by="u"
    )


def exported(outcome: object) -> ExportValues:
    assert isinstance(outcome, ExportValues), outcome
    return outcome


@pytest.fixture
def links() -> LinkTable:
    table = LinkTable()
    table.link("Account", "ACC-000001", "001000000000001AAA")
    table.link("Contact", "CON-000001", "003000000000001AAA")
    table.link("Opportunity", "OPP-000001", "006000000000001AAA")
    table.link("Product", "PROD-000001", "01t000000000001AAA")
    table.link("Pricebook2", "Standard", "01s000000000001AAA")
    table.link("PricebookEntry", "PROD-000001:Standard:USD", "01u000000000001AAA")
    return table


def test_a_contact_becomes_an_upsert_by_external_id_with_its_account_translated(links: LinkTable) -> None:
    contact = record(
        EntityName.CONTACT,
        "CON-000002",
        first_name="Ada",
        last_name="Lovelace",
        account_id="ACC-000001",
        mailing_address={"city": "London"},
    )
    outcome = exported(to_salesforce(contact, DEFAULT_MAPPINGS[EntityName.CONTACT], links))
    assert (outcome.row.sobject, outcome.row.external_id_field, outcome.row.external_id) == (
        "Contact",
        "Hub_Id__c",
        "CON-000002",
    )
    values = outcome.row.values
    assert values["FirstName"] == "Ada" and values["LastName"] == "Lovelace"
    assert values["AccountId"] == "001000000000001AAA"
    assert values["MailingCity"] == "London" and values["MailingStreet"] is None  # state-based: unset is null
    assert values["Hub_Id__c"] == "CON-000002"
    assert outcome.children == [] and not outcome.children_wait_for_parent


def test_a_parent_not_yet_in_salesforce_is_a_wait_not_an_error(links: LinkTable) -> None:
    contact = record(EntityName.CONTACT, "CON-000002", last_name="L", account_id="ACC-000009")
    outcome = to_salesforce(contact, DEFAULT_MAPPINGS[EntityName.CONTACT], links)
    assert outcome == WaitsForParent(
        entity=EntityName.CONTACT, record_id="CON-000002", field="account_id", parent="Account", parent_key="ACC-000009"
    )
    assert outcome.message == "waits for parent Account ACC-000009"


@pytest.mark.parametrize(
    ("entity", "fields", "reference", "parent"),
    [
        (
            EntityName.OPPORTUNITY,
            {"name": "O", "stage": "Prospecting", "close_date": "2026-04-01"},
            "AccountId",
            "Account",
        ),
        (EntityName.CASE, {"subject": "S", "priority": "High"}, "AccountId", "Account"),
        (EntityName.CASE, {"subject": "S", "priority": "High"}, "ContactId", "Contact"),
    ],
)
def test_references_between_records(
    entity: EntityName, fields: dict[str, Any], reference: str, parent: str, links: LinkTable
) -> None:
    hub_field = "account_id" if parent == "Account" else "contact_id"
    parent_id = "ACC-000001" if parent == "Account" else "CON-000001"
    outcome = exported(
        to_salesforce(record(entity, "X-1", **fields, **{hub_field: parent_id}), DEFAULT_MAPPINGS[entity], links)
    )
    assert outcome.row.values[reference] == links.salesforce_id(parent, parent_id)
    # And back: the Salesforce id becomes the hub id.
    back = from_salesforce({reference: links.salesforce_id(parent, parent_id)}, DEFAULT_MAPPINGS[entity], links)
    assert back == ImportChanges(changes={hub_field: parent_id})


def test_quote_lines_go_once_the_quote_is_linked_with_their_price_book_entry(links: LinkTable) -> None:
    quote = record(
        EntityName.QUOTE,
        "QUOTE-000001",
        name="Q",
        opportunity_id="OPP-000001",
        status="Draft",
        price_book="Standard",
        lines=[{"product_id": "PROD-000001", "quantity": 2, "unit_price": 10.0, "discount": 5.0}],
    )
    mapping = DEFAULT_MAPPINGS[EntityName.QUOTE]
    first = exported(to_salesforce(quote, mapping, links))
    assert first.children == [] and first.children_wait_for_parent
    assert first.row.values["OpportunityId"] == "006000000000001AAA"  # create-only: sent while not linked
    assert first.row.values["Pricebook2Id"] == "01s000000000001AAA"

    links.link("Quote", "QUOTE-000001", "0Q0000000000001AAA")
    second = exported(to_salesforce(quote, mapping, links))
    assert "OpportunityId" not in second.row.values  # Salesforce never updates it
    assert second.values_hash == first.values_hash  # create-only fields do not count: same state, same hash
    (line,) = second.children
    assert (line.sobject, line.external_id) == ("QuoteLineItem", "QUOTE-000001:1:PROD-000001")
    assert line.values == {
        "Quantity": 2,
        "UnitPrice": 10.0,
        "Description": None,
        "Discount": 5.0,
        "PricebookEntryId": "01u000000000001AAA",
        "Product2Id": "01t000000000001AAA",
        "QuoteId": "0Q0000000000001AAA",
        "Hub_Id__c": "QUOTE-000001:1:PROD-000001",
    }

    links.link("QuoteLineItem", "QUOTE-000001:1:PROD-000001", "0QL000000000001AAA")
    third = exported(to_salesforce(quote, mapping, links))
    assert set(third.children[0].values) == {"Quantity", "UnitPrice", "Description", "Discount", "Hub_Id__c"}


def test_a_line_whose_product_is_not_linked_waits_for_the_product(links: LinkTable) -> None:
    order = record(
        EntityName.ORDER,
        "ORD-000001",
        account_id="ACC-000001",
        effective_date="2026-03-01",
        status="Draft",
        price_book="Standard",
        lines=[{"product_id": "PROD-000002", "quantity": 1, "unit_price": 1.0}],
    )
    links.link("Order", "ORD-000001", "801000000000001AAA")
    outcome = to_salesforce(order, DEFAULT_MAPPINGS[EntityName.ORDER], links)
    assert isinstance(outcome, WaitsForParent)
    assert (outcome.field, outcome.parent, outcome.parent_key) == (
        "lines[1].product_id",
        "PricebookEntry",
        "PROD-000002:Standard:USD",
    )


def test_a_product_sends_its_standard_price_only(links: LinkTable) -> None:
    product = record(
        EntityName.PRODUCT,
        "PROD-000001",
        name="Widget",
        description="x" * 5000,
        active=True,
        prices=[
            {"price_book": "Standard", "currency": "USD", "unit_price": 9.5, "active": True},
            {"price_book": "Partners", "currency": "USD", "unit_price": 8.0, "active": True},
        ],
    )
    outcome = exported(to_salesforce(product, DEFAULT_MAPPINGS[EntityName.PRODUCT], links))
    assert len(outcome.row.values["Description"]) == 4000  # truncated to Product2.Description's length
    (entry,) = outcome.children
    assert entry.external_id == "PROD-000001:Standard:USD"
    assert entry.values == {"UnitPrice": 9.5, "IsActive": True, "Hub_Id__c": "PROD-000001:Standard:USD"}


CUSTOM = EntityMapping.model_validate(
    {
        "entity": "Account",
        "salesforce_object": "Customer__c",
        "external_id_field": "Back_Office_Id__c",
        "field_mapping": [
            {"hub_field": "name", "salesforce_fields": ["First__c", "Last__c"], "transform": "split_name"},
            {"hub_field": "custom_fields.Region", "salesforce_field": "Region__c"},
            {"hub_field": "custom_fields.Since", "salesforce_field": "Since__c", "transform": "date:%d/%m/%Y"},
            {
                "hub_field": "type",
                "salesforce_field": "Tier__c",
                "value_map": {"values": {"Customer": "Gold", "Prospect": "Bronze"}, "inbound": {"Silver": "Customer"}},
            },
            {"hub_field": "industry", "salesforce_field": "Sector__c", "direction": "from Salesforce"},
            {"hub_field": "phone", "salesforce_field": "Phone__c", "direction": "to Salesforce"},
        ],
    }
)


def test_a_custom_object_with_custom_fields_transforms_and_value_maps() -> None:
    account = record(
        EntityName.ACCOUNT,
        "ACC-000007",
        name="Ada King Lovelace",
        type="Customer",
        industry="Math",
        phone="123",
        custom_fields={"Region": "EMEA", "Since": "31/12/2020"},
    )
    outcome = exported(to_salesforce(account, CUSTOM, LinkTable()))
    assert outcome.row.sobject == "Customer__c"
    assert outcome.row.values == {
        "First__c": "Ada King",
        "Last__c": "Lovelace",
        "Region__c": "EMEA",
        "Since__c": "2020-12-31",
        "Tier__c": "Gold",
        "Phone__c": "123",
        "Back_Office_Id__c": "ACC-000007",
    }
    changes = from_salesforce(
        {"Last__c": "Byron", "Tier__c": "Silver", "Sector__c": "Poetry", "Phone__c": "999", "Since__c": "2021-01-02"},
        CUSTOM,
        LinkTable(),
        current=account.fields,
    )
    assert changes == ImportChanges(
        changes={
            "name": "Ada King Byron",
            "custom_fields.Since": "02/01/2021",
            "type": "Customer",
            "industry": "Poetry",
        }
    )
    assert isinstance(changes, ImportChanges)
    assert changes.applied_to(account.fields)["custom_fields"] == {"Region": "EMEA", "Since": "02/01/2021"}


def test_an_unmapped_picklist_value_is_refused_naming_entity_record_field_and_value() -> None:
    account = record(EntityName.ACCOUNT, "ACC-000007", name="A", type="Partner")
    outcome = to_salesforce(account, CUSTOM, LinkTable())
    assert outcome == MappingFailure(
        entity=EntityName.ACCOUNT,
        record_id="ACC-000007",
        field="type",
        value="Partner",
        message="Account ACC-000007 type: value 'Partner' has no Salesforce value in the value map",
    )
    inbound = from_salesforce({"Id": "a00000000000001AAA", "Tier__c": "Platinum"}, CUSTOM, LinkTable())
    assert isinstance(inbound, MappingFailure)
    assert (
        inbound.message
        == "Account a00000000000001AAA type: Salesforce value 'Platinum' has no hub value in the value map"
    )


def test_an_unmapped_value_may_take_a_default_or_pass_through() -> None:
    for unmapped, expected in (("default", "Bronze"), ("pass through", "Partner")):
        field_map = CUSTOM.field_mapping[3].model_dump()
        field_map["value_map"] |= {"unmapped": unmapped, "default_salesforce": "Bronze", "default_hub": "Prospect"}
        data = CUSTOM.model_dump()
        mapping = EntityMapping.model_validate({**data, "field_mapping": [data["field_mapping"][0], field_map]})
        account = record(EntityName.ACCOUNT, "ACC-1", name="A", type="Partner")
        assert exported(to_salesforce(account, mapping, LinkTable())).row.values["Tier__c"] == expected


def test_a_bad_value_for_a_transform_is_a_permanent_mapping_failure() -> None:
    account = record(EntityName.ACCOUNT, "ACC-1", name="A", custom_fields={"Since": "yesterday"})
    outcome = to_salesforce(account, CUSTOM, LinkTable())
    assert isinstance(outcome, MappingFailure)
    assert (
        outcome.message
        == "Account ACC-1 custom_fields.Since: date:%d/%m/%Y: 'yesterday' is not a date in the format %d/%m/%Y"
    )


def test_an_inbound_reference_to_a_record_the_hub_lacks_waits_for_it(links: LinkTable) -> None:
    outcome = from_salesforce(
        {"Id": "003000000000009AAA", "LastName": "L", "AccountId": "001000000000009AAA"},
        DEFAULT_MAPPINGS[EntityName.CONTACT],
        links,
    )
    assert isinstance(outcome, WaitsForParent)
    assert outcome.message == "waits for parent Account 001000000000009AAA"


def test_from_salesforce_changes_only_what_the_change_carries(links: LinkTable) -> None:
    outcome = from_salesforce({"Email": None, "MailingCity": "Paris"}, DEFAULT_MAPPINGS[EntityName.CONTACT], links)
    assert outcome == ImportChanges(changes={"email": None, "mailing_address.city": "Paris"})
    assert isinstance(outcome, ImportChanges)
    assert outcome.applied_to({"last_name": "L", "email": "a@b.c", "mailing_address": {"street": "1 Rd"}}) == {
        "last_name": "L",
        "email": None,
        "mailing_address": {"street": "1 Rd", "city": "Paris"},
    }


def test_case_workflow_fields_are_never_imported(links: LinkTable) -> None:
    outcome = from_salesforce({"Subject": "S", "Status": "Closed"}, DEFAULT_MAPPINGS[EntityName.CASE], links)
    assert outcome == ImportChanges(changes={"subject": "S"})
