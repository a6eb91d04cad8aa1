"""Outbound Messaging: Salesforce's SOAP `notifications`, read safely and turned into the engine's changes.

The message (Outbound Messaging WSDL, research/salesforce-facts.md §a): a SOAP 1.1 envelope whose body is
`<notifications xmlns="http://soap.sforce.com/2005/09/outbound">` with `OrganizationId`, `ActionId`,
`SessionId`, `EnterpriseUrl`, `PartnerUrl` and 1..100 `Notification`s, each an `Id` (the notification id,
the same when Salesforce delivers it again) and an `sObject` whose `xsi:type` names the object and whose
children are the fields the outbound message's definition selects. Salesforce leaves out a selected field
whose value is null, so only the configured field list tells "cleared" from "not sent"; a field sent with
`xsi:nil="true"` is cleared too. A message carries no operation and no deletes: only the record's latest
state, ordered by its SystemModstamp (or LastModifiedDate) when the definition selects one.

Outside XML is parsed with defusedxml under a size limit: a DTD (and so any entity, external or expanding)
is refused before anything is expanded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException, ElementTree

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeSource
from sync_core.domain.sync.transforms import parse_salesforce_datetime

# Lambda takes a request of at most 6 MB; 100 notifications of ordinary records are a few hundred KB.
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_NOTIFICATIONS = 100  # the WSDL's maxOccurs

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
# The stamps that order a record's states, best first (SystemModstamp also moves on system updates).
STAMP_FIELDS = ("SystemModstamp", "LastModifiedDate")

_SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
_SOBJECT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")


class OutboundMessageError(ValueError):
    """The request is not an outbound message the hub can read (answered 400 with a SOAP fault)."""


@dataclass(frozen=True)
class Notification:
    """One record's state: its notification id, object, Salesforce id, and the fields sent."""

    id: str
    sobject: str
    record_id: str
    values: dict[str, str] = field(default_factory=dict)  # field -> text as sent (Id left out)
    nulled: frozenset[str] = frozenset()  # fields sent with xsi:nil="true"


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str
    notifications: tuple[Notification, ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element, name: str) -> Element | None:
    return element.find(f"{{{OUTBOUND_NS}}}{name}")


def _text(element: Element, name: str, where: str) -> str:
    found = _child(element, name)
    text = (found.text or "").strip() if found is not None else ""
    if not text:
        raise OutboundMessageError(f"{where} has no {name}")
    return text


def parse_outbound_message(body: bytes) -> OutboundMessage:
    """The message in `body`, or OutboundMessageError saying what is wrong with it."""
    if len(body) > MAX_BODY_BYTES:
        raise OutboundMessageError(f"the message is larger than {MAX_BODY_BYTES} bytes")
    try:
        root = ElementTree.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise OutboundMessageError(f"refused: {type(exc).__name__} (no DTDs or entities in a message)") from exc
    except ElementTree.ParseError as exc:
        raise OutboundMessageError(f"not well-formed XML: {exc}") from exc
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        raise OutboundMessageError("not a SOAP 1.1 envelope")
    soap_body = root.find(f"{{{SOAP_ENV_NS}}}Body")
    notifications = soap_body.find(f"{{{OUTBOUND_NS}}}notifications") if soap_body is not None else None
    if notifications is None:
        raise OutboundMessageError(f"the SOAP body holds no {{{OUTBOUND_NS}}}notifications")
    organization_id = _text(notifications, "OrganizationId", "the message")
    action_id = _text(notifications, "ActionId", "the message")
    items = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
    if not items:
        raise OutboundMessageError("the message holds no Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise OutboundMessageError(f"the message holds {len(items)} notifications; at most {MAX_NOTIFICATIONS}")
    return OutboundMessage(
        organization_id=organization_id,
        action_id=action_id,
        notifications=tuple(_notification(item, index) for index, item in enumerate(items, start=1)),
    )


def _notification(item: Element, index: int) -> Notification:
    where = f"Notification {index}"
    notification_id = _text(item, "Id", where)
    sobject = _child(item, "sObject")
    if sobject is None:
        raise OutboundMessageError(f"{where} ({notification_id}) has no sObject")
    declared = sobject.get(f"{{{XSI_NS}}}type", "")
    sobject_name = declared.rsplit(":", 1)[-1]
    if not _SOBJECT_NAME.match(sobject_name):
        raise OutboundMessageError(f"{where} ({notification_id}): sObject xsi:type {declared!r} names no object")
    values: dict[str, str] = {}
    nulled: set[str] = set()
    record_id = ""
    for element in sobject:
        name = _local(element.tag)
        if element.get(f"{{{XSI_NS}}}nil") in ("true", "1"):
            nulled.add(name)
            continue
        text = element.text or ""
        if name == "Id":
            record_id = text.strip()
        elif text == "":
            nulled.add(name)  # Salesforce has no empty text: an empty element is no value
        else:
            values[name] = text
    if not _SALESFORCE_ID.match(record_id):
        raise OutboundMessageError(f"{where} ({notification_id}) has no valid sObject Id")
    return Notification(notification_id, sobject_name, record_id, values, frozenset(nulled))


def notification_stamp(notification: Notification) -> datetime | None:
    """When Salesforce last changed the record, from the first stamp field the message carries."""
    for name in STAMP_FIELDS:
        text = notification.values.get(name)
        if text:
            try:
                return parse_salesforce_datetime(text.strip())
            except ValueError as exc:
                raise OutboundMessageError(f"notification {notification.id}: {name} {text!r} is no datetime") from exc
    return None


def notification_change(
    notification: Notification,
    entity: EntityName,
    *,
    configured_fields: Sequence[str] | None,
    received_at: datetime,
) -> Change:
    """The engine's change for one notification. A configured field that was not sent is cleared; without a
    configured list only fields sent with xsi:nil are (an absent field is then left as it is). Without a stamp
    field the change is stamped when it was received."""
    sent = {name.lower() for name in (*notification.values, *notification.nulled, "Id")}
    cleared = set(notification.nulled)
    cleared.update(name for name in configured_fields or () if name.lower() not in sent)
    return Change(
        direction=ChangeDirection.FROM_SALESFORCE,
        entity=entity,
        salesforce_id=notification.record_id,
        source=ChangeSource.OUTBOUND_MESSAGE,
        change_id=notification.id,
        stamp=notification_stamp(notification) or received_at,
        values=dict(notification.values),
        cleared_fields=sorted(cleared),
    )


# ---------------------------------------------------------------- answers

_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Body>{{}}</soapenv:Body></soapenv:Envelope>'
)


def ack_response() -> str:
    """The only answer Salesforce takes as delivered: notificationsResponse with Ack true."""
    return _ENVELOPE.format(f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>')


def fault_response(message: str, *, sender: bool = True) -> str:
    """A SOAP 1.1 fault: soapenv:Client for what the sender got wrong, soapenv:Server for the hub's failures.
    Salesforce records it against the message and delivers the message again."""
    code = "soapenv:Client" if sender else "soapenv:Server"
    return _ENVELOPE.format(
        f"<soapenv:Fault><faultcode>{code}</faultcode><faultstring>{escape(message)}</faultstring></soapenv:Fault>"
    )
