"""Object schemas of the emulated org: the objects the hub syncs, their fields and picklists, and describe output.

Picklist values live in `PICKLISTS` (one place); `EmulatorConfig.picklist_overrides` replaces any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import PicklistValue

EXTERNAL_ID_FIELD = "Hub_Id__c"


def _values(*names: str, default: str | None = None, closed: tuple[str, ...] = ()) -> list[PicklistValue]:
    return [PicklistValue(n, default=n == default, closed=n in closed) for n in names]


# Picklist values by "Object.Field", as in a new org (research/salesforce-facts.md §e: CaseStatus New (default),
# Working, Escalated, Closed (closed); Priority High, Medium (default), Low; Origin Phone, Email, Web). Other
# values are an administrator's change: `EmulatorConfig.picklist_overrides`. `closed` drives Case.IsClosed.
# Restricted picklists reject other values.
PICKLISTS: dict[str, list[PicklistValue]] = {
    "Case.Status": _values("New", "Working", "Escalated", "Closed", default="New", closed=("Closed",)),
    "Case.Reason": _values(
        "Installation",
        "Equipment Complexity",
        "Performance",
        "Breakdown",
        "Equipment Design",
        "Feedback",
        "Other",
    ),
    "Case.Priority": _values("High", "Medium", "Low", default="Medium"),
    "Case.Origin": _values("Phone", "Email", "Web"),
    "Case.Type": _values("Mechanical", "Electrical", "Electronic", "Structural", "Other"),
    "Account.Type": _values(
        "Prospect",
        "Customer - Direct",
        "Customer - Channel",
        "Channel Partner / Reseller",
        "Installation Partner",
        "Technology Partner",
        "Other",
    ),
    "Account.Industry": _values(
        "Agriculture",
        "Banking",
        "Construction",
        "Education",
        "Electronics",
        "Energy",
        "Finance",
        "Healthcare",
        "Manufacturing",
        "Retail",
        "Technology",
        "Transportation",
        "Other",
    ),
    "Account.Rating": _values("Hot", "Warm", "Cold"),
    "Account.AccountSource": _values("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
    "Contact.Salutation": _values("Mr.", "Ms.", "Mrs.", "Dr.", "Prof."),
    "Contact.LeadSource": _values("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
    "Lead.Salutation": _values("Mr.", "Ms.", "Mrs.", "Dr.", "Prof."),
    "Lead.Status": _values(
        "Open - Not Contacted",
        "Working - Contacted",
        "Closed - Converted",
        "Closed - Not Converted",
        default="Open - Not Contacted",
    ),
    "Lead.LeadSource": _values("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
    "Lead.Industry": _values("Agriculture", "Banking", "Finance", "Manufacturing", "Retail", "Technology", "Other"),
    "Lead.Rating": _values("Hot", "Warm", "Cold"),
    "Opportunity.StageName": _values(
        "Prospecting",
        "Qualification",
        "Needs Analysis",
        "Value Proposition",
        "Id. Decision Makers",
        "Perception Analysis",
        "Proposal/Price Quote",
        "Negotiation/Review",
        "Closed Won",
        "Closed Lost",
        closed=("Closed Won", "Closed Lost"),
    ),
    "Opportunity.Type": _values("Existing Customer - Upgrade", "Existing Customer - Replacement", "New Customer"),
    "Opportunity.LeadSource": _values("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
    "Product2.Family": _values("None", "Hardware", "Software", "Services"),
    "Quote.Status": _values(
        "Draft",
        "Needs Review",
        "In Review",
        "Approved",
        "Rejected",
        "Presented",
        "Accepted",
        "Denied",
        default="Draft",
    ),
    "Order.Status": _values("Draft", "Activated", default="Draft"),
    "Order.Type": _values("Standard", "Return"),
}

RESTRICTED_PICKLISTS = frozenset({"Case.Status", "Case.Reason", "Case.Priority", "Case.Origin", "Order.Status"})

SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


@dataclass
class FieldDef:
    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    reference_to: list[str] = field(default_factory=list)
    relationship_name: str | None = None
    default: Any = None
    defaulted_on_create: bool = False
    custom: bool = False
    auto_number: bool = False
    calculated: bool = False
    name_field: bool = False
    compound: tuple[str, str] | None = None  # (compound field, component) for CDC payloads
    picklist: list[PicklistValue] = field(default_factory=list)
    restricted: bool = False
    precision: int = 0
    scale: int = 0

    @property
    def required(self) -> bool:
        """Required on create: not nillable, createable and not defaulted."""
        return not self.nillable and self.createable and not self.defaulted_on_create and self.type != "boolean"

    @property
    def read_only(self) -> bool:
        return not self.createable and not self.updateable

    def describe(self) -> dict[str, Any]:
        text = self.type not in SOAP_TYPES
        return {
            "aggregatable": self.type not in ("textarea",),
            "autoNumber": self.auto_number,
            "byteLength": self.length * 3 if text else 0,
            "calculated": self.calculated,
            "caseSensitive": False,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default if self.type == "boolean" else None,
            "defaultedOnCreate": self.defaulted_on_create or self.type == "boolean",
            "digits": 9 if self.type == "int" else 0,
            "externalId": self.external_id,
            "filterable": self.type != "textarea",
            "groupable": self.type not in ("textarea", "double", "currency", "percent", "datetime"),
            "idLookup": self.type == "id" or self.external_id,
            "label": self.label or self.name,
            "length": self.length if text else 0,
            "name": self.name,
            "nameField": self.name_field,
            "nillable": self.nillable,
            "picklistValues": [
                {"active": True, "defaultValue": v.default, "label": v.value, "validFor": None, "value": v.value}
                for v in self.picklist
            ],
            "precision": self.precision,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "restrictedPicklist": self.restricted,
            "scale": self.scale,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type != "textarea",
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


@dataclass
class ObjectDef:
    name: str
    key_prefix: str
    label: str
    label_plural: str
    fields: dict[str, FieldDef]  # keyed by lower-case name, in declaration order
    has_owner: bool = True

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields.values()]

    def external_id_fields(self) -> list[FieldDef]:
        return [f for f in self.fields.values() if f.external_id]

    def describe_global_entry(self, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "activateable": False,
            "createable": True,
            "custom": False,
            "customSetting": False,
            "deletable": True,
            "deprecatedAndHidden": False,
            "feedEnabled": True,
            "hasSubtypes": False,
            "isSubtype": False,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": self.name in ("Account", "Contact", "Lead", "Case"),
            "mruEnabled": True,
            "name": self.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": True,
            "updateable": True,
            "urls": {
                "rowTemplate": f"{base}/{{ID}}",
                "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
                "describe": f"{base}/describe",
                "sobject": base,
            },
        }

    def describe(self, version: str) -> dict[str, Any]:
        result = self.describe_global_entry(version)
        result.update(
            {
                "childRelationships": [],
                "fields": [f.describe() for f in self.fields.values()],
                "recordTypeInfos": [],
                "supportedScopes": [{"label": "All " + self.label_plural.lower(), "name": "everything"}],
            }
        )
        return result


def _f(name: str, type_: str, length: int = 0, **kw: Any) -> FieldDef:
    if type_ in ("string", "phone", "email", "url", "picklist", "combobox") and not length:
        length = {"phone": 40, "email": 80, "url": 255}.get(type_, 255)
    if type_ == "textarea" and not length:
        length = 32000
    if type_ in ("currency", "double", "percent") and "precision" not in kw:
        kw["precision"], kw["scale"] = 18, 2
    label = kw.pop("label", None) or name.removesuffix("__c").replace("_", " ")
    return FieldDef(name=name, type=type_, length=length, label=label, **kw)


def _ref(name: str, target: str, **kw: Any) -> FieldDef:
    rel = name[:-2] if name.endswith("Id") else None
    return _f(name, "reference", 18, reference_to=[target], relationship_name=rel, **kw)


def _ro(name: str, type_: str, length: int = 0, **kw: Any) -> FieldDef:
    return _f(name, type_, length, createable=False, updateable=False, **kw)


def _address(prefix: str, compound: str) -> list[FieldDef]:
    parts = [("Street", "textarea", 255), ("City", "string", 40), ("State", "string", 80)]
    parts += [("PostalCode", "string", 20), ("Country", "string", 80)]
    return [_f(f"{prefix}{p}", t, n, compound=(compound, p)) for p, t, n in parts]


def _system_fields(has_owner: bool) -> list[FieldDef]:
    fields = [
        _ro("Id", "id", 18, nillable=False, label="Record ID"),
        _ro("IsDeleted", "boolean", nillable=False, label="Deleted"),
        _ro("CreatedDate", "datetime", nillable=False),
        _ro("CreatedById", "reference", 18, nillable=False, reference_to=["User"], relationship_name="CreatedBy"),
        _ro("LastModifiedDate", "datetime", nillable=False),
        _ro("LastModifiedById", "reference", 18, nillable=False, reference_to=["User"]),
        _ro("SystemModstamp", "datetime", nillable=False),
    ]
    if has_owner:
        fields.append(_ref("OwnerId", "User", nillable=False, defaulted_on_create=True))
    fields.append(_f(EXTERNAL_ID_FIELD, "string", 255, external_id=True, unique=True, custom=True, label="Hub Id"))
    return fields


def _name_parts() -> list[FieldDef]:
    return [
        _f("Salutation", "picklist", 40, compound=("Name", "Salutation")),
        _f("FirstName", "string", 40, compound=("Name", "FirstName")),
        _f("LastName", "string", 80, nillable=False, compound=("Name", "LastName")),
        _ro("Name", "string", 121, name_field=True, label="Full Name"),
    ]


_DEFINITIONS: list[tuple[str, str, str, bool, list[FieldDef]]] = [
    (
        "Account",
        "001",
        "Accounts",
        True,
        [
            _f("Name", "string", 255, nillable=False, name_field=True, label="Account Name"),
            _f("Type", "picklist"),
            _ref("ParentId", "Account"),
            *_address("Billing", "BillingAddress"),
            *_address("Shipping", "ShippingAddress"),
            _f("Phone", "phone"),
            _f("Fax", "phone"),
            _f("Website", "url"),
            _f("Industry", "picklist"),
            _f("AnnualRevenue", "currency"),
            _f("NumberOfEmployees", "int"),
            _f("AccountNumber", "string", 40),
            _f("Description", "textarea"),
            _f("Rating", "picklist"),
            _f("AccountSource", "picklist"),
        ],
    ),
    (
        "Contact",
        "003",
        "Contacts",
        True,
        [
            *_name_parts(),
            _ref("AccountId", "Account"),
            _f("Title", "string", 128),
            _f("Department", "string", 80),
            _f("Email", "email"),
            _f("Phone", "phone"),
            _f("MobilePhone", "phone"),
            *_address("Mailing", "MailingAddress"),
            _f("Birthdate", "date"),
            _f("LeadSource", "picklist"),
            _f("HasOptedOutOfEmail", "boolean", default=False),
            _f("Description", "textarea"),
        ],
    ),
    (
        "Lead",
        "00Q",
        "Leads",
        True,
        [
            *_name_parts(),
            _f("Company", "string", 255, nillable=False),
            _f("Title", "string", 128),
            _f("Email", "email"),
            _f("Phone", "phone"),
            _f("MobilePhone", "phone"),
            _f("Website", "url"),
            _f("Status", "picklist", 255, nillable=False, defaulted_on_create=True),
            _f("LeadSource", "picklist"),
            _f("Industry", "picklist"),
            _f("Rating", "picklist"),
            _f("AnnualRevenue", "currency"),
            _f("NumberOfEmployees", "int"),
            *_address("", "Address"),
            _f("Description", "textarea"),
            _ro("IsConverted", "boolean", nillable=False),
        ],
    ),
    (
        "Opportunity",
        "006",
        "Opportunities",
        True,
        [
            _f("Name", "string", 120, nillable=False, name_field=True),
            _ref("AccountId", "Account"),
            _f("StageName", "picklist", 255, nillable=False, label="Stage"),
            _f("CloseDate", "date", nillable=False),
            _f("Amount", "currency"),
            _f("Probability", "percent", precision=3, scale=0),
            _f("Type", "picklist"),
            _f("LeadSource", "picklist"),
            _f("NextStep", "string", 255),
            _f("Description", "textarea"),
            _ref("Pricebook2Id", "Pricebook2"),
            _ro("IsClosed", "boolean", nillable=False),
            _ro("IsWon", "boolean", nillable=False),
        ],
    ),
    (
        "Product2",
        "01t",
        "Products",
        False,
        [
            _f("Name", "string", 255, nillable=False, name_field=True, label="Product Name"),
            _f("ProductCode", "string", 255),
            _f("Description", "textarea", 4000),
            _f("Family", "picklist"),
            _f("IsActive", "boolean", default=False),
            _f("StockKeepingUnit", "string", 180),
            _f("QuantityUnitOfMeasure", "string", 255),
        ],
    ),
    (
        "Pricebook2",
        "01s",
        "Price Books",
        False,
        [
            _f("Name", "string", 255, nillable=False, name_field=True, label="Price Book Name"),
            _f("IsActive", "boolean", default=False),
            _ro("IsStandard", "boolean", nillable=False),
            _f("Description", "string", 255),
        ],
    ),
    (
        "PricebookEntry",
        "01u",
        "Price Book Entries",
        False,
        [
            _ref("Pricebook2Id", "Pricebook2", nillable=False, updateable=False),
            _ref("Product2Id", "Product2", nillable=False, updateable=False),
            _f("UnitPrice", "currency", nillable=False, label="List Price"),
            _f("IsActive", "boolean", default=False),
            _f("UseStandardPrice", "boolean", default=False),
            _ro("Name", "string", 255, name_field=True),
            _ro("ProductCode", "string", 255),
        ],
    ),
    (
        "Quote",
        "0Q0",
        "Quotes",
        True,
        [
            _f("Name", "string", 255, nillable=False, name_field=True, label="Quote Name"),
            _ref("OpportunityId", "Opportunity", nillable=False, updateable=False),
            _ro("QuoteNumber", "string", 30, auto_number=True, nillable=False),
            _f("Status", "picklist", 255, defaulted_on_create=True),
            _f("ExpirationDate", "date"),
            _ref("Pricebook2Id", "Pricebook2"),
            _ref("ContactId", "Contact"),
            _f("Email", "email"),
            _f("Phone", "phone"),
            _f("Description", "textarea"),
            _ro("Subtotal", "currency"),
            _ro("TotalPrice", "currency"),
        ],
    ),
    (
        "QuoteLineItem",
        "0QL",
        "Quote Line Items",
        False,
        [
            _ref("QuoteId", "Quote", nillable=False, updateable=False),
            _ref("PricebookEntryId", "PricebookEntry", nillable=False, updateable=False),
            _ref("Product2Id", "Product2", updateable=False),
            _ro("LineNumber", "string", 255, auto_number=True, nillable=False),
            _f("Quantity", "double", nillable=False),
            _f("UnitPrice", "currency", nillable=False, label="Sales Price"),
            _f("Discount", "percent"),
            _f("ServiceDate", "date"),
            _f("Description", "string", 255),
            _ro("TotalPrice", "currency"),
        ],
    ),
    (
        "Order",
        "801",
        "Orders",
        True,
        [
            _ref("AccountId", "Account", nillable=False),
            _ro("OrderNumber", "string", 30, auto_number=True, nillable=False, name_field=True),
            _f("EffectiveDate", "date", nillable=False, label="Order Start Date"),
            _f("EndDate", "date"),
            _f("Status", "picklist", 255, nillable=False),
            _f("Type", "picklist"),
            _ref("Pricebook2Id", "Pricebook2"),
            _ref("OpportunityId", "Opportunity"),
            _ref("QuoteId", "Quote"),
            _f("Description", "textarea"),
            _ro("TotalAmount", "currency"),
        ],
    ),
    (
        "OrderItem",
        "802",
        "Order Products",
        False,
        [
            _ref("OrderId", "Order", nillable=False, updateable=False),
            _ref("PricebookEntryId", "PricebookEntry", nillable=False, updateable=False),
            _ref("Product2Id", "Product2", updateable=False),
            _ro("OrderItemNumber", "string", 10, auto_number=True, nillable=False),
            _f("Quantity", "double", nillable=False),
            _f("UnitPrice", "currency", nillable=False),
            _f("ServiceDate", "date"),
            _f("EndDate", "date"),
            _f("Description", "string", 255),
            _ro("TotalPrice", "currency"),
        ],
    ),
    (
        "Case",
        "500",
        "Cases",
        True,
        [
            _ro("CaseNumber", "string", 30, auto_number=True, nillable=False, name_field=True),
            _f("Subject", "string", 255),
            _f("Description", "textarea"),
            _f("Status", "picklist", 255, defaulted_on_create=True),
            _f("Reason", "picklist"),
            _f("Type", "picklist"),
            _f("Origin", "picklist"),
            _f("Priority", "picklist", 255, defaulted_on_create=True),
            _ref("AccountId", "Account"),
            _ref("ContactId", "Contact"),
            _ref("ParentId", "Case"),
            _ro("IsClosed", "boolean", nillable=False, label="Closed"),
            _ro("ClosedDate", "datetime"),
            _f("IsEscalated", "boolean", default=False),
            _f("SuppliedName", "string", 80),
            _f("SuppliedEmail", "email"),
            _f("SuppliedPhone", "string", 40),
            _f("SuppliedCompany", "string", 80),
            _f("Comments", "textarea", 4000),
            _f("Hub_Status__c", "string", 80, custom=True),
            _f("Hub_Status_Reason__c", "string", 255, custom=True),
        ],
    ),
    (
        # Object Reference, CaseComment: ParentId (Create, Filter, Group, Sort: never updated), CommentBody
        # (textarea, "maximum size of the comment body is 4,000 bytes", Create, Update, Nillable), IsPublished
        # (Create, Defaulted on create, Update: false unless set); no owner, no custom fields.
        "CaseComment",
        "00a",
        "Case Comments",
        False,
        [
            _ref("ParentId", "Case", nillable=False, updateable=False, label="Parent ID"),
            _f("CommentBody", "textarea", 4000, label="Body"),
            _f("IsPublished", "boolean", default=False, label="Published"),
        ],
    ),
]

# Objects an org cannot customise: no custom fields, so no Hub_Id__c external id either (CaseComment: "Custom
# fields aren't supported", and no owner: a comment belongs to its case).
NOT_CUSTOMIZABLE = frozenset({"CaseComment"})

# Auto-number formats: (field, width, first number)
AUTO_NUMBERS: dict[str, tuple[str, int, int]] = {
    "Case": ("CaseNumber", 8, 1001),
    "Order": ("OrderNumber", 8, 100),
    "OrderItem": ("OrderItemNumber", 10, 1),
    "Quote": ("QuoteNumber", 8, 1),
    "QuoteLineItem": ("LineNumber", 5, 1),
}

USER_KEY_PREFIX = "005"


def build_schemas(
    overrides: dict[str, list[PicklistValue]] | None = None, non_unique_external_ids: list[str] | None = None
) -> dict[str, ObjectDef]:
    """Schemas keyed by lower-case object name, with picklists applied (overrides win) and the configured
    non-unique external id fields ("Object.Field__c": External ID without Unique) added."""
    picklists = {**PICKLISTS, **(overrides or {})}
    schemas: dict[str, ObjectDef] = {}
    for name, prefix, plural, has_owner, own_fields in _DEFINITIONS:
        fields: dict[str, FieldDef] = {}
        system = [f for f in _system_fields(has_owner) if name not in NOT_CUSTOMIZABLE or not f.custom]
        for fdef in [*system[:1], *own_fields, *system[1:]]:
            copy = FieldDef(**{k: getattr(fdef, k) for k in FieldDef.__dataclass_fields__})
            key = f"{name}.{copy.name}"
            if key in picklists:
                copy.picklist = list(picklists[key])
                copy.restricted = key in RESTRICTED_PICKLISTS
            fields[copy.name.lower()] = copy
        for key in non_unique_external_ids or []:
            object_name, _, field_name = key.partition(".")
            if object_name.lower() == name.lower() and field_name.lower() not in fields:
                fields[field_name.lower()] = _f(field_name, "string", 255, external_id=True, custom=True)
        schemas[name.lower()] = ObjectDef(
            name=name, key_prefix=prefix, label=name, label_plural=plural, fields=fields, has_owner=has_owner
        )
    unknown = [k for k in non_unique_external_ids or [] if k.partition(".")[0].lower() not in schemas]
    if unknown:
        raise ValueError(f"non_unique_external_ids names unknown objects: {', '.join(unknown)}")
    return schemas
