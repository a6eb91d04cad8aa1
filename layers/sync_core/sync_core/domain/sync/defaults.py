"""The default mapping of every hub entity, so a fresh install syncs without configuration.

Each default is checked against the Salesforce emulator's describe in tests/unit/domain/sync (names,
types, lengths, picklists, what can be written), and docs/sync.md's table is checked against this module.
"""

from __future__ import annotations

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.mapping import ChildMapping, EntityMapping, FieldMap, ReferenceMap, ValueMap
from sync_core.domain.sync.policy import SyncDirection

TO_SALESFORCE = SyncDirection.TO_SALESFORCE

# The currency of the standard price book entries and of the lines' price book entries (single-currency org).
DEFAULT_CURRENCY = "USD"


def _fields(pairs: dict[str, str], **options: object) -> list[FieldMap]:
    return [FieldMap.model_validate({"hub_field": hub, "salesforce_field": sf, **options}) for hub, sf in pairs.items()]


def _address(hub_prefix: str, salesforce_prefix: str) -> dict[str, str]:
    parts = {"street": "Street", "city": "City", "state": "State", "postal_code": "PostalCode", "country": "Country"}
    return {f"{hub_prefix}.{hub}": f"{salesforce_prefix}{sf}" for hub, sf in parts.items()}


def _lines(parent_field: str) -> ChildMapping:
    """Quote and order lines: the product's standard price book entry, quantity, price and discount."""
    return ChildMapping(
        hub_field="lines",
        salesforce_object="QuoteLineItem" if parent_field == "QuoteId" else "OrderItem",
        parent_field=parent_field,
        # The product is part of a line's identity: Salesforce never updates a line's price book entry.
        external_id_format="{parent_id}:{index}:{product_id}",
        field_mapping=_fields(
            {"quantity": "Quantity", "unit_price": "UnitPrice", "description": "Description"}
            | ({"discount": "Discount"} if parent_field == "QuoteId" else {})
        ),
        references=[
            ReferenceMap(
                hub_field="product_id",
                salesforce_field="PricebookEntryId",
                parent="PricebookEntry",
                key_format="{value}:{parent[price_book]}:" + DEFAULT_CURRENCY,
                direction=TO_SALESFORCE,
                create_only=True,
            ),
            ReferenceMap(
                hub_field="product_id",
                salesforce_field="Product2Id",
                parent=EntityName.PRODUCT.value,
                direction=TO_SALESFORCE,
                create_only=True,
            ),
        ],
    )


def _price_book(direction: SyncDirection = SyncDirection.BOTH) -> ReferenceMap:
    return ReferenceMap(
        hub_field="price_book", salesforce_field="Pricebook2Id", parent="Pricebook2", direction=direction
    )


DEFAULT_MAPPINGS: dict[EntityName, EntityMapping] = {
    mapping.entity: mapping
    for mapping in (
        EntityMapping(
            entity=EntityName.ACCOUNT,
            salesforce_object="Account",
            field_mapping=_fields(
                {
                    "name": "Name",
                    "account_number": "AccountNumber",
                    "type": "Type",
                    "industry": "Industry",
                    "phone": "Phone",
                    "website": "Website",
                    **_address("billing_address", "Billing"),
                    **_address("shipping_address", "Shipping"),
                    "annual_revenue": "AnnualRevenue",
                    "number_of_employees": "NumberOfEmployees",
                    "description": "Description",
                }
            ),
            references=[ReferenceMap(hub_field="parent_account_id", salesforce_field="ParentId", parent="Account")],
        ),
        EntityMapping(
            entity=EntityName.CONTACT,
            salesforce_object="Contact",
            field_mapping=_fields(
                {
                    "first_name": "FirstName",
                    "last_name": "LastName",
                    "email": "Email",
                    "phone": "Phone",
                    "mobile_phone": "MobilePhone",
                    "title": "Title",
                    "department": "Department",
                    **_address("mailing_address", "Mailing"),
                }
            ),
            references=[ReferenceMap(hub_field="account_id", salesforce_field="AccountId", parent="Account")],
        ),
        EntityMapping(
            entity=EntityName.LEAD,
            salesforce_object="Lead",
            field_mapping=_fields(
                {
                    "first_name": "FirstName",
                    "last_name": "LastName",
                    "company": "Company",
                    "email": "Email",
                    "phone": "Phone",
                    "title": "Title",
                    "status": "Status",
                    "lead_source": "LeadSource",
                    "industry": "Industry",
                    "rating": "Rating",
                    **_address("address", ""),
                    "description": "Description",
                }
            ),
        ),
        EntityMapping(
            entity=EntityName.PRODUCT,
            salesforce_object="Product2",
            field_mapping=[
                *_fields(
                    {
                        "name": "Name",
                        "product_code": "ProductCode",
                        "family": "Family",
                        "unit_of_measure": "QuantityUnitOfMeasure",
                        "active": "IsActive",
                    }
                ),
                # Product2.Description holds 4,000 characters; the hub's up to 32,000.
                FieldMap(hub_field="description", salesforce_field="Description", transform="truncate:4000"),
            ],
            children=[
                ChildMapping(
                    hub_field="prices",
                    salesforce_object="PricebookEntry",
                    parent_field="Product2Id",
                    external_id_format="{parent_id}:{price_book}:{currency}",
                    only_where={"price_book": "Standard", "currency": DEFAULT_CURRENCY},
                    field_mapping=_fields({"unit_price": "UnitPrice", "active": "IsActive"}),
                    references=[_price_book(TO_SALESFORCE).model_copy(update={"create_only": True})],
                )
            ],
        ),
        EntityMapping(
            entity=EntityName.OPPORTUNITY,
            salesforce_object="Opportunity",
            field_mapping=[
                *_fields(
                    {
                        "name": "Name",
                        "stage": "StageName",
                        "close_date": "CloseDate",
                        "amount": "Amount",
                        "type": "Type",
                        "lead_source": "LeadSource",
                        "next_step": "NextStep",
                        "description": "Description",
                    }
                ),
                # Opportunity.Probability is a percent with no decimals; the hub keeps two.
                FieldMap(hub_field="probability", salesforce_field="Probability", transform="decimal:0"),
            ],
            references=[ReferenceMap(hub_field="account_id", salesforce_field="AccountId", parent="Account")],
        ),
        EntityMapping(
            entity=EntityName.QUOTE,
            salesforce_object="Quote",
            field_mapping=_fields(
                {
                    "name": "Name",
                    "status": "Status",
                    "expiration_date": "ExpirationDate",
                    "description": "Description",
                }
            ),
            references=[
                # Salesforce never moves a quote to another opportunity; its account comes from the opportunity.
                ReferenceMap(
                    hub_field="opportunity_id", salesforce_field="OpportunityId", parent="Opportunity", create_only=True
                ),
                ReferenceMap(hub_field="contact_id", salesforce_field="ContactId", parent="Contact"),
                _price_book(),
            ],
            children=[_lines("QuoteId")],
        ),
        EntityMapping(
            entity=EntityName.ORDER,
            salesforce_object="Order",
            field_mapping=_fields(
                {"effective_date": "EffectiveDate", "status": "Status", "description": "Description"}
            ),
            references=[
                ReferenceMap(hub_field="account_id", salesforce_field="AccountId", parent="Account"),
                ReferenceMap(hub_field="opportunity_id", salesforce_field="OpportunityId", parent="Opportunity"),
                ReferenceMap(hub_field="quote_id", salesforce_field="QuoteId", parent="Quote"),
                _price_book(),
            ],
            children=[_lines("OrderId")],
        ),
        EntityMapping(
            entity=EntityName.CASE,
            salesforce_object="Case",
            # Status, the hub's status and reason and the owner come from the Case hook (the status map and
            # the owner map: sync_core.domain.cases.salesforce_case), not from here.
            field_mapping=[
                *_fields({"subject": "Subject", "details": "Description"}),
                FieldMap(
                    hub_field="priority",
                    salesforce_field="Priority",
                    value_map=ValueMap(values={"Low": "Low", "Medium": "Medium", "High": "High"}),
                ),
                FieldMap(
                    hub_field="origin",
                    salesforce_field="Origin",
                    # A default org has no Portal origin: a portal case shows as Web, and Web comes back as Web.
                    value_map=ValueMap(
                        values={"Phone": "Phone", "Email": "Email", "Web": "Web", "Portal": "Web"},
                        inbound={"Web": "Web"},
                    ),
                ),
            ],
            references=[
                ReferenceMap(hub_field="account_id", salesforce_field="AccountId", parent="Account"),
                ReferenceMap(hub_field="contact_id", salesforce_field="ContactId", parent="Contact"),
            ],
        ),
        # The hub creates invoices and contract usages when a case is released: they only go out, to custom
        # objects an administrator creates first (docs/sync.md lists their fields); stopped by default.
        EntityMapping(
            entity=EntityName.INVOICE,
            salesforce_object="Invoice__c",
            field_mapping=_fields(
                {
                    "invoice_date": "Invoice_Date__c",
                    "currency": "Currency__c",
                    "description": "Description__c",
                    "total": "Total__c",
                },
                direction=TO_SALESFORCE,
            ),
            references=[
                ReferenceMap(hub_field=hub, salesforce_field=sf, parent=parent.value, direction=TO_SALESFORCE)
                for hub, sf, parent in (
                    ("case_id", "Case__c", EntityName.CASE),
                    ("account_id", "Account__c", EntityName.ACCOUNT),
                    ("contact_id", "Contact__c", EntityName.CONTACT),
                )
            ],
            children=[
                ChildMapping(
                    hub_field="lines",
                    salesforce_object="Invoice_Line__c",
                    parent_field="Invoice__c",
                    external_id_format="{parent_id}:{index}",
                    field_mapping=_fields(
                        {
                            "description": "Description__c",
                            "hours": "Hours__c",
                            "unit_price": "Unit_Price__c",
                            "amount": "Amount__c",
                        },
                        direction=TO_SALESFORCE,
                    ),
                )
            ],
        ),
        EntityMapping(
            entity=EntityName.CONTRACT_USAGE,
            salesforce_object="Contract_Usage__c",
            field_mapping=_fields(
                {
                    "contract_id": "Contract_Id__c",
                    "usage_date": "Usage_Date__c",
                    "billable_minutes": "Billable_Minutes__c",
                    "billable_overtime_minutes": "Billable_Overtime_Minutes__c",
                    "description": "Description__c",
                },
                direction=TO_SALESFORCE,
            ),
            references=[
                ReferenceMap(hub_field=hub, salesforce_field=sf, parent=parent.value, direction=TO_SALESFORCE)
                for hub, sf, parent in (
                    ("case_id", "Case__c", EntityName.CASE),
                    ("account_id", "Account__c", EntityName.ACCOUNT),
                )
            ],
        ),
    )
}


def default_mapping(entity: EntityName) -> EntityMapping:
    return DEFAULT_MAPPINGS[entity]


def salesforce_object_of(entity: EntityName) -> str:
    return DEFAULT_MAPPINGS[entity].salesforce_object
