"""Typed fields of every synced entity (the hub's records), plus custom fields."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

# Money keeps exact decimals internally (DynamoDB stores Decimal) and is a JSON number for API clients.
Money = Annotated[
    Decimal,
    Field(max_digits=18, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]
Quantity = Annotated[
    Decimal,
    Field(gt=0, max_digits=18, decimal_places=4),
    PlainSerializer(float, return_type=float, when_used="json"),
]
Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]
ShortText = Annotated[str, Field(min_length=1, max_length=255)]
LongText = Annotated[str, Field(max_length=32000)]
Email = Annotated[str, Field(max_length=80, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Phone = Annotated[str, Field(max_length=40)]
HubId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]

CUSTOM_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
CustomValue = str | int | float | bool | None
# Custom fields are bounded so that a record (or case), with its longest standard fields, stays well inside
# DynamoDB's 400 KB item: at most 100 of them, 64 KB together (UTF-8), each text at most 32,000 characters.
MAX_CUSTOM_FIELDS = 100
MAX_CUSTOM_FIELDS_BYTES = 64 * 1024
MAX_CUSTOM_TEXT_LENGTH = 32000


def check_custom_fields(value: dict[str, CustomValue]) -> dict[str, CustomValue]:
    """Names, count and size of custom fields; a ValueError says which rule a set of them breaks."""
    if len(value) > MAX_CUSTOM_FIELDS:
        raise ValueError(f"at most {MAX_CUSTOM_FIELDS} custom fields, not {len(value)}")
    for name, item in value.items():
        if not CUSTOM_FIELD_NAME.match(name):
            raise ValueError(f"custom field name {name!r} must be letters, digits and '_', starting with a letter")
        if isinstance(item, str) and len(item) > MAX_CUSTOM_TEXT_LENGTH:
            raise ValueError(f"custom field {name!r} is longer than {MAX_CUSTOM_TEXT_LENGTH} characters")
    size = sum(len(name.encode()) + len(str(item).encode()) for name, item in value.items())
    if size > MAX_CUSTOM_FIELDS_BYTES:
        raise ValueError(f"custom fields take {size} bytes together; at most {MAX_CUSTOM_FIELDS_BYTES}")
    return value


class EntityFields(BaseModel):
    """Base of every entity's fields: unknown fields are refused so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    custom_fields: dict[str, CustomValue] = Field(
        default_factory=dict,
        description="Back-office fields beyond the standard ones; names are letters, digits and '_' (max 40); "
        "at most 100 fields and 64 KB together, each text at most 32,000 characters.",
    )

    @field_validator("custom_fields")
    @classmethod
    def _check_custom_fields(cls, value: dict[str, CustomValue]) -> dict[str, CustomValue]:
        return check_custom_fields(value)


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    street: Annotated[str, Field(max_length=255)] | None = None
    city: Annotated[str, Field(max_length=40)] | None = None
    state: Annotated[str, Field(max_length=80)] | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    country: Annotated[str, Field(max_length=80)] | None = None


class Account(EntityFields):
    name: ShortText
    account_number: Annotated[str, Field(max_length=40)] | None = None
    type: Annotated[str, Field(max_length=40)] | None = None
    industry: Annotated[str, Field(max_length=40)] | None = None
    phone: Phone | None = None
    website: Annotated[str, Field(max_length=255)] | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    annual_revenue: Money | None = None
    number_of_employees: Annotated[int, Field(ge=0)] | None = None
    parent_account_id: HubId | None = None
    primary_contact_id: HubId | None = None
    description: LongText | None = None
    active: bool = True


class Contact(EntityFields):
    first_name: Annotated[str, Field(max_length=40)] | None = None
    last_name: Annotated[str, Field(min_length=1, max_length=80)]
    account_id: HubId | None = None
    email: Email | None = None
    phone: Phone | None = None
    mobile_phone: Phone | None = None
    title: Annotated[str, Field(max_length=128)] | None = None
    department: Annotated[str, Field(max_length=80)] | None = None
    mailing_address: Address | None = None
    is_employee: bool = False
    active: bool = True


class LeadStatus(StrEnum):
    OPEN_NOT_CONTACTED = "Open - Not Contacted"
    WORKING_CONTACTED = "Working - Contacted"
    CLOSED_CONVERTED = "Closed - Converted"
    CLOSED_NOT_CONVERTED = "Closed - Not Converted"


class Lead(EntityFields):
    first_name: Annotated[str, Field(max_length=40)] | None = None
    last_name: Annotated[str, Field(min_length=1, max_length=80)]
    company: ShortText
    email: Email | None = None
    phone: Phone | None = None
    title: Annotated[str, Field(max_length=128)] | None = None
    status: LeadStatus = LeadStatus.OPEN_NOT_CONTACTED
    lead_source: Annotated[str, Field(max_length=40)] | None = None
    industry: Annotated[str, Field(max_length=40)] | None = None
    rating: Annotated[str, Field(max_length=40)] | None = None
    address: Address | None = None
    description: LongText | None = None


class OpportunityStage(StrEnum):
    PROSPECTING = "Prospecting"
    QUALIFICATION = "Qualification"
    NEEDS_ANALYSIS = "Needs Analysis"
    VALUE_PROPOSITION = "Value Proposition"
    ID_DECISION_MAKERS = "Id. Decision Makers"
    PERCEPTION_ANALYSIS = "Perception Analysis"
    PROPOSAL_PRICE_QUOTE = "Proposal/Price Quote"
    NEGOTIATION_REVIEW = "Negotiation/Review"
    CLOSED_WON = "Closed Won"
    CLOSED_LOST = "Closed Lost"


class Opportunity(EntityFields):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    account_id: HubId | None = None
    stage: OpportunityStage
    close_date: date
    amount: Money | None = None
    probability: Percent | None = None
    type: Annotated[str, Field(max_length=40)] | None = None
    lead_source: Annotated[str, Field(max_length=40)] | None = None
    next_step: Annotated[str, Field(max_length=255)] | None = None
    description: LongText | None = None


class ProductPrice(BaseModel):
    """One price of a product in a price book (Salesforce PricebookEntry)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    price_book: ShortText = "Standard"
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    unit_price: Annotated[Money, Field(ge=0)]
    active: bool = True


class Product(EntityFields):
    name: ShortText
    product_code: Annotated[str, Field(max_length=255)] | None = None
    family: Annotated[str, Field(max_length=40)] | None = None
    description: LongText | None = None
    unit_of_measure: Annotated[str, Field(max_length=40)] | None = None
    active: bool = True
    prices: list[ProductPrice] = Field(default_factory=list)

    @field_validator("prices")
    @classmethod
    def _one_price_per_book_and_currency(cls, prices: list[ProductPrice]) -> list[ProductPrice]:
        seen: set[tuple[str, str]] = set()
        for price in prices:
            key = (price.price_book, price.currency)
            if key in seen:
                raise ValueError(f"two prices for price book {key[0]!r} in {key[1]}")
            seen.add(key)
        return prices


class LineItem(BaseModel):
    """A product line of a quote or an order."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    product_id: HubId
    quantity: Quantity
    unit_price: Annotated[Money, Field(ge=0)]
    discount: Percent | None = None
    description: Annotated[str, Field(max_length=255)] | None = None


class QuoteStatus(StrEnum):
    DRAFT = "Draft"
    NEEDS_REVIEW = "Needs Review"
    IN_REVIEW = "In Review"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    PRESENTED = "Presented"
    ACCEPTED = "Accepted"
    DENIED = "Denied"


class Quote(EntityFields):
    name: ShortText
    opportunity_id: HubId | None = None
    account_id: HubId | None = None
    contact_id: HubId | None = None
    status: QuoteStatus = QuoteStatus.DRAFT
    expiration_date: date | None = None
    price_book: ShortText = "Standard"
    lines: list[LineItem] = Field(default_factory=list)
    description: LongText | None = None


class OrderStatus(StrEnum):
    DRAFT = "Draft"
    ACTIVATED = "Activated"


class Order(EntityFields):
    account_id: HubId
    effective_date: date
    status: OrderStatus = OrderStatus.DRAFT
    opportunity_id: HubId | None = None
    quote_id: HubId | None = None
    po_number: Annotated[str, Field(max_length=80)] | None = None
    price_book: ShortText = "Standard"
    billing_address: Address | None = None
    shipping_address: Address | None = None
    lines: list[LineItem] = Field(default_factory=list)
    description: LongText | None = None


class EntityName(StrEnum):
    """The synced entities, in dependency order (parents before children)."""

    ACCOUNT = "Account"
    CONTACT = "Contact"
    LEAD = "Lead"
    PRODUCT = "Product"
    OPPORTUNITY = "Opportunity"
    QUOTE = "Quote"
    ORDER = "Order"
    CASE = "Case"
    # Created by releasing a case (sync_core.domain.cases.release), after the case they bill.
    INVOICE = "Invoice"
    CONTRACT_USAGE = "ContractUsage"


# Case is a hub record like the others, but its fields and writes belong to the case workflow
# (sync_core.domain.cases); the records API reads cases and leaves writes to the cases API.
ENTITY_MODELS: dict[EntityName, type[EntityFields]] = {
    EntityName.ACCOUNT: Account,
    EntityName.CONTACT: Contact,
    EntityName.LEAD: Lead,
    EntityName.PRODUCT: Product,
    EntityName.OPPORTUNITY: Opportunity,
    EntityName.QUOTE: Quote,
    EntityName.ORDER: Order,
}

# Prefixes of the numbering sequences that give the records API's new records their ids (ACC-000001 ...).
# Cases, invoices and contract usage are numbered by the case workflow (CS000001, INV000001, CU000001:
# sync_core.domain.cases.vocabulary), so they have no entry here.
ID_PREFIXES: dict[EntityName, str] = {
    EntityName.ACCOUNT: "ACC",
    EntityName.CONTACT: "CON",
    EntityName.LEAD: "LEAD",
    EntityName.PRODUCT: "PROD",
    EntityName.OPPORTUNITY: "OPP",
    EntityName.QUOTE: "QUOTE",
    EntityName.ORDER: "ORD",
}


def format_record_id(entity: EntityName, number: int) -> str:
    """The id a numbering sequence value gives, e.g. ACC-000042."""
    return f"{ID_PREFIXES[entity]}-{number:06d}"


def merge_fields(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A PATCH: top-level keys replace, custom_fields merge key by key (None removes a custom field)."""
    merged = {**current, **{key: value for key, value in changes.items() if key != "custom_fields"}}
    if "custom_fields" in changes:
        custom = dict(current.get("custom_fields") or {})
        for name, value in (changes["custom_fields"] or {}).items():
            if value is None:
                custom.pop(name, None)
            else:
                custom[name] = value
        merged["custom_fields"] = custom
    return merged
